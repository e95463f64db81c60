using System.Text.Json;
using System.Text.Json.Nodes;
using OfflineSigner.Interop.Tests.Fixtures;
using Xunit;

namespace OfflineSigner.Grpc.Tests.Support;

/// <summary>Calls the daemon through a real gRPC peer with the project's .proto files, failing the test on a non-OK status unless asked.</summary>
internal static class Calls
{
    public static GrpcCallResult Raw(GrpcPeer peer, DaemonProcess daemon, string method, JsonObject? request = null, TimeSpan? deadline = null) =>
        GrpcPeers.Call(peer, daemon.Target, GrpcPeers.ProtoRoot, GrpcPeers.ProjectProtos, method, (request ?? []).ToJsonString(), deadline: deadline);

    /// <summary>A unary call that must succeed; returns its response.</summary>
    public static JsonElement Ok(GrpcPeer peer, DaemonProcess daemon, string method, JsonObject? request = null)
    {
        var result = Raw(peer, daemon, method, request);
        Assert.True(result.Ok, $"{peer} {method}: {result.CodeName} {result.Details}\n{result}\ndaemon:\n{daemon.Output}");
        return Assert.Single(result.Responses);
    }

    /// <summary>A call that must fail with <paramref name="code"/>; returns the status message.</summary>
    public static string Fails(GrpcPeer peer, DaemonProcess daemon, string method, string code, JsonObject? request = null)
    {
        var result = Raw(peer, daemon, method, request);
        Assert.False(result.Ok, $"{peer} {method} succeeded but should fail with {code}");
        Assert.True(code == result.CodeName, $"{peer} {method}: expected {code}, got {result.CodeName} {result.Details}");
        return result.Details;
    }

    /// <summary>Generates an ECDSA P-256 key on the daemon's token through the peer; returns the KeyInfo JSON.</summary>
    public static JsonElement GenerateKey(GrpcPeer peer, DaemonProcess daemon, string label, byte id) =>
        Ok(peer, daemon, "offlinesigner.v1.KeyService/GenerateKey", new JsonObject
        {
            ["backend"] = DaemonProcess.Backend,
            ["token_label"] = daemon.TokenLabel,
            ["label"] = label,
            ["id"] = B64([id]),
            ["algorithm"] = "KEY_ALGORITHM_ECDSA_P256",
            ["pin"] = B64(DaemonProcess.Pin),
        }).GetProperty("key");

    public static string B64(ReadOnlySpan<byte> bytes) => Convert.ToBase64String(bytes);

    public static byte[] Bytes(JsonElement element, string field) => Convert.FromBase64String(element.GetProperty(field).GetString() ?? string.Empty);

    public static string Text(JsonElement element, string field) => element.GetProperty(field).GetString() ?? string.Empty;
}
