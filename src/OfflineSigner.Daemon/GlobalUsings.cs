global using OfflineSigner.Protocol.Grpc;
