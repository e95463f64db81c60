global using OfflineSigner.Protocol.Grpc;

// The daemon runs on Linux only: Unix sockets, SO_PEERCRED, systemd and the PKCS#11 64-bit Unix layout.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
