using OfflineSigner.Interop.Tests.Fixtures;
using Xunit;

namespace OfflineSigner.Interop.Tests;

/// <summary>
/// The gRPC client peers (grpc-js and python3-grpcio) against a python3-grpcio server over a Unix socket: messages,
/// bytes, 64-bit integers, metadata, server streaming and status codes come through as the server sent them.
/// </summary>
public class GrpcPeerHarnessTests
{
    public static TheoryData<GrpcPeer> Clients => [GrpcPeer.GrpcJs, GrpcPeer.Python];

    [Theory]
    [MemberData(nameof(Clients))]
    public void Unary_call_carries_text_bytes_big_integers_and_metadata(GrpcPeer client)
    {
        using var server = PythonEchoServer.Start();
        var result = Call(client, server, "peertest.v1.Echo/Say", "{\"text\":\"h\u00e9llo\",\"payload\":\"AAEC/w==\",\"big\":\"9007199254740993\"}", new Dictionary<string, string> { ["x-peer-test"] = "meta-value" });

        Assert.True(result.Ok, result.ToString());
        var reply = Assert.Single(result.Responses);
        Assert.Equal("h\u00e9llo", reply.GetProperty("text").GetString());
        Assert.Equal([0, 1, 2, 255], Convert.FromBase64String(reply.GetProperty("payload").GetString()!));
        Assert.Equal("9007199254740993", reply.GetProperty("big").GetString());
        Assert.Equal("meta-value", reply.GetProperty("metadata_echo").GetString());
    }

    [Theory]
    [MemberData(nameof(Clients))]
    public void Server_streaming_call_returns_every_message_in_order(GrpcPeer client)
    {
        using var server = PythonEchoServer.Start();
        var result = Call(client, server, "peertest.v1.Echo/Repeat", "{\"text\":\"r\",\"count\":5}");

        Assert.True(result.Ok, result.ToString());
        Assert.Equal([0, 1, 2, 3, 4], result.Responses.Select(r => r.GetProperty("index").GetInt32()));
    }

    [Theory]
    [MemberData(nameof(Clients))]
    public void Status_codes_and_details_come_through(GrpcPeer client)
    {
        using var server = PythonEchoServer.Start();

        var failed = Call(client, server, "peertest.v1.Echo/Say", "{\"fail_with_code\":9}");
        Assert.False(failed.Ok);
        Assert.Equal((9, "FAILED_PRECONDITION"), (failed.Code, failed.CodeName));
        Assert.Equal("asked to fail with FAILED_PRECONDITION", failed.Details);

        // A stream that fails after two messages: both messages, then the status.
        var partial = Call(client, server, "peertest.v1.Echo/Repeat", "{\"count\":2,\"fail_with_code\":5}");
        Assert.Equal(5, partial.Code);
        Assert.Equal(2, partial.Responses.Count);

        var unimplemented = Call(client, server, "peertest.v1.Echo/Unserved");
        Assert.Equal(12, unimplemented.Code);

        // The server keeps serving after errors.
        Assert.True(Call(client, server, "peertest.v1.Echo/Say", "{\"text\":\"still here\"}").Ok);
    }

    [Theory]
    [MemberData(nameof(Clients))]
    public void A_socket_nobody_listens_on_is_unavailable(GrpcPeer client)
    {
        var result = GrpcPeers.Call(client, "unix:///nonexistent/offlinesigner-test.sock", PythonEchoServer.ProtoRoot, PythonEchoServer.Protos, "peertest.v1.Echo/Say", deadline: TimeSpan.FromSeconds(5));

        Assert.False(result.Ok);
        Assert.Equal(14, result.Code);
    }

    [Fact]
    public void Both_peers_read_the_projects_protos_alike()
    {
        var protos = GrpcPeers.ProjectProtos;
        Assert.NotEmpty(protos);
        var js = GrpcPeers.List(GrpcPeer.GrpcJs, GrpcPeers.ProtoRoot, protos);
        var python = GrpcPeers.List(GrpcPeer.Python, GrpcPeers.ProtoRoot, protos);

        Assert.Equal(python, js);
        Assert.Contains(js, m => m.Method == "grpc.health.v1.Health/Check");
        Assert.Contains(js, m => m.Method.StartsWith("offlinesigner.v1.", StringComparison.Ordinal));
    }

    private static GrpcCallResult Call(GrpcPeer client, PythonEchoServer server, string method, string request = "{}", IReadOnlyDictionary<string, string>? metadata = null) =>
        GrpcPeers.Call(client, server.Target, PythonEchoServer.ProtoRoot, PythonEchoServer.Protos, method, request, metadata);
}
