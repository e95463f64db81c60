using System.Text.Json.Nodes;
using Google.Protobuf;
using OfflineSigner.Daemon.Tests.Support;
using OfflineSigner.Grpc.Tests.Support;
using OfflineSigner.Interop.Tests.Fixtures;
using OfflineSigner.Protocol.V1;
using OfflineSigner.Tuf;
using Dialect = OfflineSigner.Tuf.Dialect;
using Xunit;
using static OfflineSigner.Grpc.Tests.Support.Calls;

namespace OfflineSigner.Grpc.Tests;

/// <summary>
/// Hostile and broken input against a real daemon: each gets a precise status, the daemon does not crash, its
/// memory stays bounded, and the next valid call is served.
/// </summary>
public sealed class AbuseTests(SoftHsm hsm)
{
    private const string ListKeys = "/offlinesigner.v1.KeyService/ListKeys";
    private const string Health = "/grpc.health.v1.Health/Check";

    [Fact]
    public async Task Malformed_frames_get_precise_statuses_and_the_daemon_keeps_serving()
    {
        using var daemon = DaemonProcess.Start(hsm);
        using var raw = new RawGrpc(daemon.SocketPath);
        var valid = new ListKeysRequest { Backend = DaemonProcess.Backend }.ToByteArray();
        var baseline = daemon.ResidentBytes();

        async Task Expect(string status, string messagePart, string path, byte[] body, IReadOnlyDictionary<string, string>? headers = null)
        {
            var response = await raw.PostAsync(path, body, headers, cancellationToken: TestContext.Current.CancellationToken);
            Assert.True(response.HttpStatus == 200 && response.GrpcStatus == status, $"{path}: expected grpc-status {status}, got {response}");
            Assert.Contains(messagePart, System.Net.WebUtility.UrlDecode(response.GrpcMessage ?? string.Empty), StringComparison.Ordinal);

            // The next valid call is served.
            var next = await raw.PostAsync(Health, RawGrpc.Frame([]), cancellationToken: TestContext.Current.CancellationToken);
            Assert.True(next.GrpcStatus == "0", "after the bad frame the daemon does not serve: " + next);
        }

        // A frame announcing 4 GiB - 1: refused from the prefix, nothing allocated.
        await Expect("8", "exceeds the limit", ListKeys, RawGrpc.Frame(valid, announcedLength: uint.MaxValue));
        await Expect("8", "exceeds the limit", ListKeys, RawGrpc.Frame(new byte[16], announcedLength: (4 * 1024 * 1024) + 1));

        // Truncated frames: inside the prefix, and inside the message.
        await Expect("13", "inside the 5-byte message prefix", ListKeys, [0, 0, 0]);
        await Expect("13", "of the 100 bytes", ListKeys, RawGrpc.Frame(new byte[50], announcedLength: 100));
        await Expect("13", "no message", ListKeys, []);
        await Expect("13", "more than one request message", ListKeys, [.. RawGrpc.Frame(valid), .. RawGrpc.Frame(valid)]);
        await Expect("13", "malformed message prefix", ListKeys, RawGrpc.Frame(valid, flag: 7));

        // Invalid protobuf.
        await Expect("3", "not a valid offlinesigner.v1.ListKeysRequest", ListKeys, RawGrpc.Frame([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]));

        // Compression is refused, by flag and by header.
        await Expect("12", "compressed messages are not supported", ListKeys, RawGrpc.Frame(valid, flag: 1));
        await Expect("12", "grpc-encoding 'gzip' is not supported", ListKeys, RawGrpc.Frame(valid), new Dictionary<string, string> { ["grpc-encoding"] = "gzip" });

        // Unknown methods and services.
        await Expect("12", "unknown method", "/offlinesigner.v1.KeyService/ExportPrivateKey", RawGrpc.Frame(valid));
        await Expect("12", "unknown method", "/no.such.Service/Call", RawGrpc.Frame(valid));

        // A malformed deadline.
        await Expect("3", "malformed grpc-timeout", ListKeys, RawGrpc.Frame(valid), new Dictionary<string, string> { ["grpc-timeout"] = "soon" });

        // Not gRPC at all: plain HTTP 415, as the protocol asks.
        var notGrpc = await raw.PostAsync(ListKeys, "{}"u8.ToArray(), contentType: "application/json", cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(415, notGrpc.HttpStatus);

        Assert.False(daemon.HasExited, "the daemon died:\n" + daemon.Output);
        var grown = daemon.ResidentBytes() - baseline;
        Assert.True(grown < 64L * 1024 * 1024, $"the daemon's memory grew by {grown / (1024 * 1024)} MiB while refusing bad frames");
    }

    [Fact]
    public async Task A_flood_of_concurrent_streams_is_bounded_and_the_daemon_recovers()
    {
        using var daemon = DaemonProcess.Start(hsm);
        var baseline = daemon.ResidentBytes();
        var request = RawGrpc.Frame(new ListKeysRequest { Backend = DaemonProcess.Backend }.ToByteArray());
        var statuses = new System.Collections.Concurrent.ConcurrentBag<string>();
        using (var raw = new RawGrpc(daemon.SocketPath, multipleConnections: true))
        {
            var calls = Enumerable.Range(0, 400).Select(async _ =>
            {
                try
                {
                    var response = await raw.PostAsync(ListKeys, request, cancellationToken: TestContext.Current.CancellationToken);
                    statuses.Add(response.GrpcStatus ?? $"http {response.HttpStatus}");
                }
                catch (HttpRequestException e)
                {
                    // Streams beyond the per-connection limit may be refused by HTTP/2 itself.
                    statuses.Add("refused: " + e.HttpRequestError);
                }
            });
            await Task.WhenAll(calls);
        }

        Assert.Equal(400, statuses.Count);
        Assert.All(statuses, s => Assert.True(s is "0" or "8" || s.StartsWith("refused", StringComparison.Ordinal), "unexpected outcome " + s));
        Assert.Contains("0", statuses);
        Assert.False(daemon.HasExited, "the daemon died:\n" + daemon.Output);
        var grown = daemon.ResidentBytes() - baseline;
        Assert.True(grown < 128L * 1024 * 1024, $"the daemon's memory grew by {grown / (1024 * 1024)} MiB under the flood");

        using var after = new RawGrpc(daemon.SocketPath);
        Assert.Equal("0", (await after.PostAsync(ListKeys, request, cancellationToken: TestContext.Current.CancellationToken)).GrpcStatus);
    }

    [Theory]
    [InlineData(GrpcPeer.Python)]
    [InlineData(GrpcPeer.GrpcJs)]
    public void A_caller_not_on_the_allow_list_is_refused_and_recorded(GrpcPeer peer)
    {
        // Only uid 54321 may call; the test runs as another user.
        using var daemon = DaemonProcess.Start(hsm, "\"allowedUids\": [54321]");
        Assert.NotEqual(54321u, Native.Uid);
        var message = Fails(peer, daemon, "offlinesigner.v1.KeyService/ListBackends", "PERMISSION_DENIED");
        Assert.Contains($"uid {Native.Uid}", message, StringComparison.Ordinal);
        Assert.Contains(File.ReadAllLines(daemon.AuditLogPath), l => l.Contains("\"caller_refused\"", StringComparison.Ordinal) && l.Contains($"\"caller_uid\":{Native.Uid}", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(GrpcPeer.Python)]
    [InlineData(GrpcPeer.GrpcJs)]
    public void Signing_requests_that_policy_refuses_name_the_rule(GrpcPeer peer)
    {
        using var daemon = DaemonProcess.Start(hsm);
        var generated = GenerateKey(peer, daemon, "targets-1", 0x01);
        var uri = Text(generated, "uri");
        var key = Key.FromPublicKey(OfflineSigner.Tuf.Crypto.PublicKey.FromSubjectPublicKeyInfo(Bytes(generated, "subject_public_key_info")), Dialect.TufSpecification);
        var root = Root.Create(Dialect.TufSpecification, DateTimeOffset.UtcNow.AddDays(300));
        foreach (var role in Root.TopLevelRoles)
        {
            root.AddKey(role, key);
        }

        var trustedRoot = B64(Metadata<Root>.Create(root).ToBytes());

        // Non-TUF bytes.
        var notTuf = Fails(peer, daemon, "offlinesigner.v1.SigningService/Preview", "FAILED_PRECONDITION", new JsonObject
        {
            ["metadata"] = B64("#!/bin/sh\nrm -rf /\n"u8), ["role"] = "targets", ["trusted_root"] = trustedRoot, ["key_uri"] = uri,
        });
        Assert.Contains("parse", notTuf, StringComparison.Ordinal);

        // A rollback: targets v3 when v5 is trusted.
        var previous = Targets.Create(Dialect.TufSpecification, DateTimeOffset.UtcNow.AddDays(30));
        previous.SetVersion(5);
        var older = Targets.Create(Dialect.TufSpecification, DateTimeOffset.UtcNow.AddDays(30));
        older.SetVersion(3);
        var rollback = Fails(peer, daemon, "offlinesigner.v1.SigningService/Preview", "FAILED_PRECONDITION", new JsonObject
        {
            ["metadata"] = B64(Metadata<Targets>.Create(older).ToBytes()),
            ["previous"] = B64(Metadata<Targets>.Create(previous).ToBytes()),
            ["role"] = "targets",
            ["trusted_root"] = trustedRoot,
            ["key_uri"] = uri,
        });
        Assert.Contains("rollback", rollback, StringComparison.Ordinal);

        // Expiry beyond the role's maximum.
        var tooLong = Targets.Create(Dialect.TufSpecification, DateTimeOffset.UtcNow.AddDays(5000));
        var expiry = Fails(peer, daemon, "offlinesigner.v1.SigningService/Sign", "FAILED_PRECONDITION", new JsonObject
        {
            ["request"] = new JsonObject { ["metadata"] = B64(Metadata<Targets>.Create(tooLong).ToBytes()), ["role"] = "targets", ["trusted_root"] = trustedRoot, ["key_uri"] = uri },
            ["expected_sha256"] = B64(System.Security.Cryptography.SHA256.HashData(tooLong.CanonicalBytes())),
            ["pin"] = B64(DaemonProcess.Pin),
        });
        Assert.Contains("expiry-max", expiry, StringComparison.Ordinal);

        // Every refusal is in the audit log, and nothing was signed.
        var log = File.ReadAllLines(daemon.AuditLogPath);
        Assert.Equal(3, log.Count(l => l.Contains("\"policy_refused\"", StringComparison.Ordinal)));
        Assert.DoesNotContain(log, l => l.Contains("\"event\":\"signed\"", StringComparison.Ordinal));
        Assert.Equal("SERVING", Text(Ok(peer, daemon, "grpc.health.v1.Health/Check"), "status"));
    }
}
