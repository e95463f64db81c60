using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using Google.Protobuf;
using OfflineSigner.Interop.Tests.Fixtures;
using OfflineSigner.Protocol.Client;
using OfflineSigner.Protocol.Grpc;
using OfflineSigner.Protocol.Health.V1;
using OfflineSigner.Protocol.V1;
using OfflineSigner.Tests.Shared;
using Peertest.V1;
using Xunit;

namespace OfflineSigner.Interop.Tests;

/// <summary>
/// The daemon's own gRPC client (<see cref="DaemonChannel"/>, <see cref="DaemonClient"/>) against servers nobody
/// here wrote: python3-grpcio serving tests/peers/testdata/echo.proto on a Unix socket and on loopback TCP, and
/// python3-grpcio serving the project's Health and AuditService from protos/ (messages built by protoc at run time).
/// Payloads, metadata, streams, status codes and messages, the receive limit, deadlines, cancellation and
/// unreachable or unknown endpoints must come out as gRPC defines them. A few hostile responses no real server
/// sends are scripted through an <see cref="HttpMessageHandler"/>.
/// </summary>
public sealed class DaemonClientPeerTests(DaemonClientPeerTests.PeerServers servers) : IClassFixture<DaemonClientPeerTests.PeerServers>
{
    private static readonly ServiceDescriptorHolder Echo = new();

    public enum Transport
    {
        UnixSocket,
        LoopbackTcp,
    }

    public static TheoryData<Transport> Transports => [Transport.UnixSocket, Transport.LoopbackTcp];

    public static TheoryData<Transport, int> FailureCodes
    {
        get
        {
            var data = new TheoryData<Transport, int>();
            foreach (var transport in new[] { Transport.UnixSocket, Transport.LoopbackTcp })
            {
                for (var code = (int)StatusCode.Cancelled; code <= (int)StatusCode.Unauthenticated; code++)
                {
                    data.Add(transport, code);
                }
            }

            return data;
        }
    }

    private static CancellationToken TestCancellation => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Unary_call_round_trips_text_bytes_and_64_bit_integers(Transport transport)
    {
        using var channel = servers.Open(transport);
        var payload = RandomBytes(70_000);
        var request = new EchoRequest { Text = "h\u00e9llo \u2713 \U0001F511", Payload = ByteString.CopyFrom(payload), Big = long.MinValue + 7 };

        var reply = await channel.UnaryAsync(Echo.Say, request, Options());

        Assert.Equal(request.Text, reply.Text);
        Assert.Equal(payload, reply.Payload.ToByteArray());
        Assert.Equal(request.Big, reply.Big);
        Assert.Equal(0, reply.Index);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task A_response_exactly_at_the_default_4_MiB_limit_arrives_intact(Transport transport)
    {
        using var channel = servers.Open(transport);
        Assert.Equal(4 * 1024 * 1024, channel.Options.MaxReceiveMessageSize);
        var payload = RandomBytes(PayloadForReplySize("limit", channel.Options.MaxReceiveMessageSize));

        var reply = await channel.UnaryAsync(Echo.Say, new EchoRequest { Text = "limit", Payload = ByteString.CopyFrom(payload) }, Options());

        Assert.Equal(channel.Options.MaxReceiveMessageSize, reply.CalculateSize());
        Assert.Equal(payload, reply.Payload.ToByteArray());
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task A_response_one_byte_over_the_receive_limit_is_RESOURCE_EXHAUSTED_and_the_channel_keeps_working(Transport transport)
    {
        const int limit = 100_000;
        using var channel = servers.Open(transport, new DaemonChannelOptions { MaxReceiveMessageSize = limit });
        var atLimit = PayloadForReplySize("x", limit);

        var ok = await channel.UnaryAsync(Echo.Say, new EchoRequest { Text = "x", Payload = ByteString.CopyFrom(RandomBytes(atLimit)) }, Options());
        Assert.Equal(limit, ok.CalculateSize());

        var e = await Assert.ThrowsAsync<DaemonRpcException>(() =>
            channel.UnaryAsync(Echo.Say, new EchoRequest { Text = "x", Payload = ByteString.CopyFrom(RandomBytes(atLimit + 1)) }, Options()));
        Assert.Equal(StatusCode.ResourceExhausted, e.Status);
        Assert.Contains((limit + 1).ToString(CultureInfo.InvariantCulture), e.Detail, StringComparison.Ordinal);
        Assert.Contains(limit.ToString(CultureInfo.InvariantCulture), e.Detail, StringComparison.Ordinal);

        var streamed = await Assert.ThrowsAsync<DaemonRpcException>(() =>
            Collect(channel.ServerStreamingAsync(Echo.Repeat, new EchoRequest { Count = 3, Payload = ByteString.CopyFrom(RandomBytes(limit * 2)) }, Options())));
        Assert.Equal(StatusCode.ResourceExhausted, streamed.Status);

        var after = await channel.UnaryAsync(Echo.Say, new EchoRequest { Text = "still here" }, Options());
        Assert.Equal("still here", after.Text);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Custom_metadata_reaches_the_server(Transport transport)
    {
        using var channel = servers.Open(transport);
        var value = "meta " + Guid.NewGuid().ToString("N");

        var reply = await channel.UnaryAsync(Echo.Say, new EchoRequest { Text = "m" }, Options() with { Headers = [new("x-peer-test", value), new("x-other", "1")] });
        var without = await channel.UnaryAsync(Echo.Say, new EchoRequest { Text = "m" }, Options());

        Assert.Equal(value, reply.MetadataEcho);
        Assert.Equal(string.Empty, without.MetadataEcho);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Server_streaming_returns_every_message_in_order(Transport transport)
    {
        using var channel = servers.Open(transport);
        var payload = RandomBytes(3000);

        var replies = await Collect(channel.ServerStreamingAsync(Echo.Repeat, new EchoRequest { Text = "r", Count = 257, Payload = ByteString.CopyFrom(payload), Big = 1L << 53 }, Options()));

        Assert.Equal(Enumerable.Range(0, 257), replies.Select(r => r.Index));
        Assert.All(replies, r =>
        {
            Assert.Equal("r", r.Text);
            Assert.Equal(payload, r.Payload.ToByteArray());
            Assert.Equal(1L << 53, r.Big);
        });
        Assert.Empty(await Collect(channel.ServerStreamingAsync(Echo.Repeat, new EchoRequest { Count = 0 }, Options())));
    }

    [Theory]
    [MemberData(nameof(FailureCodes))]
    public async Task Every_status_code_the_server_fails_with_comes_through_with_its_message(Transport transport, int code)
    {
        using var channel = servers.Open(transport);
        var status = (StatusCode)code;

        var e = await Assert.ThrowsAsync<DaemonRpcException>(() => channel.UnaryAsync(Echo.Say, new EchoRequest { FailWithCode = code }, Options()));

        Assert.Equal(status, e.Status);
        Assert.Equal("asked to fail with " + GrpcName(status), e.Detail);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task A_stream_that_fails_after_some_messages_yields_them_then_throws_the_status(Transport transport)
    {
        using var channel = servers.Open(transport);
        var received = new List<int>();

        var e = await Assert.ThrowsAsync<DaemonRpcException>(async () =>
        {
            await foreach (var reply in channel.ServerStreamingAsync(Echo.Repeat, new EchoRequest { Count = 3, FailWithCode = (int)StatusCode.NotFound }, Options()))
            {
                received.Add(reply.Index);
            }
        });

        Assert.Equal([0, 1, 2], received);
        Assert.Equal(StatusCode.NotFound, e.Status);
        Assert.Equal("asked to fail with NOT_FOUND", e.Detail);
    }

    [Fact]
    public async Task A_non_ASCII_status_message_is_percent_decoded()
    {
        using var channel = servers.OpenContract();
        var client = new DaemonClient(channel);
        var service = "cl\u00e9 \u2713 100% \U0001F511\tfin";

        var e = await Assert.ThrowsAsync<DaemonRpcException>(() => client.CheckHealthAsync(new HealthCheckRequest { Service = service }, Options()));

        Assert.Equal(StatusCode.NotFound, e.Status);
        Assert.Equal("unknown service " + service, e.Detail);
    }

    [Fact]
    public async Task The_typed_client_calls_Health_Check_and_the_streaming_ReadLog_of_the_projects_protos()
    {
        using var channel = servers.OpenContract();
        var client = new DaemonClient(channel);

        var health = await client.CheckHealthAsync(new HealthCheckRequest(), Options());
        var audit = await client.CheckHealthAsync(new HealthCheckRequest { Service = DaemonMethods.AuditService.FullName }, Options());
        var entries = await Collect(client.ReadLogAsync(new ReadLogRequest { FromSequence = 41, Limit = 5 }, Options()));

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, audit.Status);
        Assert.Equal([41L, 42, 43, 44, 45], entries.Select(e => e.Sequence));
        Assert.All(entries, e => Assert.Equal($"{{\"sequence\":{e.Sequence}}}", e.Json));

        // A method the stand-in does not serve: the path reaches the server, which does not know it.
        var e = await Assert.ThrowsAsync<DaemonRpcException>(() => client.VerifyLogAsync(new VerifyLogRequest(), Options()));
        Assert.Equal(StatusCode.Unimplemented, e.Status);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task A_deadline_shorter_than_the_call_is_DEADLINE_EXCEEDED_and_the_server_keeps_serving(Transport transport)
    {
        using var channel = servers.Open(transport);
        var received = 0;
        var clock = Stopwatch.StartNew();

        var e = await Assert.ThrowsAsync<DaemonRpcException>(async () =>
        {
            var options = CallOptions.WithTimeout(TimeSpan.FromMilliseconds(400), TestCancellation);
            await foreach (var _ in channel.ServerStreamingAsync(Echo.Repeat, new EchoRequest { Count = 50_000_000 }, options))
            {
                received++;
            }
        });
        clock.Stop();

        Assert.Equal(StatusCode.DeadlineExceeded, e.Status);
        Assert.True(received > 0, "the stream never started, so the deadline was not what ended it");
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(350), TimeSpan.FromSeconds(20));
        Assert.Equal("after", (await channel.UnaryAsync(Echo.Say, new EchoRequest { Text = "after" }, Options())).Text);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task The_channels_default_timeout_applies_when_a_call_sets_no_deadline(Transport transport)
    {
        using var channel = servers.Open(transport, new DaemonChannelOptions { DefaultTimeout = TimeSpan.FromMilliseconds(300) });

        var e = await Assert.ThrowsAsync<DaemonRpcException>(() =>
            Collect(channel.ServerStreamingAsync(Echo.Repeat, new EchoRequest { Count = 50_000_000 }, new CallOptions { CancellationToken = TestCancellation })));

        Assert.Equal(StatusCode.DeadlineExceeded, e.Status);
        var quick = await channel.UnaryAsync(Echo.Say, new EchoRequest { Text = "quick" }, new CallOptions { CancellationToken = TestCancellation });
        Assert.Equal("quick", quick.Text);
    }

    [Fact]
    public async Task A_deadline_already_passed_fails_before_connecting()
    {
        using var dir = TestEnvironment.CreateTempDir("daemon-client");
        using var channel = new DaemonChannel(Path.Combine(dir.Path, "nobody.sock"));

        var e = await Assert.ThrowsAsync<DaemonRpcException>(() =>
            channel.UnaryAsync(Echo.Say, new EchoRequest(), new CallOptions { Deadline = DateTimeOffset.UtcNow - TimeSpan.FromSeconds(1) }));

        // Not UNAVAILABLE: the socket was never tried.
        Assert.Equal(StatusCode.DeadlineExceeded, e.Status);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Cancelling_a_stream_is_CANCELLED_and_the_channel_keeps_working(Transport transport)
    {
        using var channel = servers.Open(transport);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(TestCancellation);
        var received = 0;

        var e = await Assert.ThrowsAsync<DaemonRpcException>(async () =>
        {
            await foreach (var reply in channel.ServerStreamingAsync(Echo.Repeat, new EchoRequest { Count = 50_000_000 }, new CallOptions { CancellationToken = cancel.Token }))
            {
                Assert.Equal(received, reply.Index);
                if (++received == 20)
                {
                    await cancel.CancelAsync();
                }
            }
        });

        Assert.Equal(StatusCode.Cancelled, e.Status);
        Assert.Equal(20, received);
        Assert.IsAssignableFrom<OperationCanceledException>(e.InnerException);

        var before = await Assert.ThrowsAsync<DaemonRpcException>(() => channel.UnaryAsync(Echo.Say, new EchoRequest(), new CallOptions { CancellationToken = cancel.Token }));
        Assert.Equal(StatusCode.Cancelled, before.Status);

        Assert.Equal("after", (await channel.UnaryAsync(Echo.Say, new EchoRequest { Text = "after" }, Options())).Text);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Leaving_a_stream_early_ends_the_call_without_error(Transport transport)
    {
        using var channel = servers.Open(transport);
        var first = new List<int>();

        await foreach (var reply in channel.ServerStreamingAsync(Echo.Repeat, new EchoRequest { Count = 50_000_000 }, Options()))
        {
            first.Add(reply.Index);
            if (first.Count == 5)
            {
                break;
            }
        }

        Assert.Equal([0, 1, 2, 3, 4], first);
        Assert.Equal("next", (await channel.UnaryAsync(Echo.Say, new EchoRequest { Text = "next" }, Options())).Text);
    }

    [Fact]
    public async Task A_missing_socket_is_UNAVAILABLE_naming_the_path()
    {
        using var dir = TestEnvironment.CreateTempDir("daemon-client");
        var socket = Path.Combine(dir.Path, "offline-signerd.sock");
        using var channel = new DaemonChannel(socket);

        var e = await Assert.ThrowsAsync<DaemonRpcException>(() => channel.UnaryAsync(Echo.Say, new EchoRequest(), Options()));

        Assert.Equal(StatusCode.Unavailable, e.Status);
        Assert.Contains(socket, e.Detail, StringComparison.Ordinal);
        Assert.Contains(socket, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_socket_file_nobody_listens_on_is_UNAVAILABLE()
    {
        using var dir = TestEnvironment.CreateTempDir("daemon-client");
        var path = Path.Combine(dir.Path, "stale.sock");

        // Bound but not listening, as a daemon that died between bind and listen leaves it: connect is refused.
        using var stale = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        stale.Bind(new UnixDomainSocketEndPoint(path));
        Assert.True(File.Exists(path));
        using var channel = new DaemonChannel(path);

        var e = await Assert.ThrowsAsync<DaemonRpcException>(() => Collect(channel.ServerStreamingAsync(Echo.Repeat, new EchoRequest { Count = 1 }, Options())));

        Assert.Equal(StatusCode.Unavailable, e.Status);
        Assert.Contains(path, e.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_closed_loopback_port_is_UNAVAILABLE_naming_the_address()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        using var channel = new DaemonChannel(new Uri($"http://127.0.0.1:{port}"));
        var e = await Assert.ThrowsAsync<DaemonRpcException>(() => channel.UnaryAsync(Echo.Say, new EchoRequest(), Options()));

        Assert.Equal(StatusCode.Unavailable, e.Status);
        Assert.Contains($"127.0.0.1:{port}", e.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Methods_and_services_the_server_does_not_have_are_UNIMPLEMENTED(Transport transport)
    {
        using var channel = servers.Open(transport);

        var unserved = await Assert.ThrowsAsync<DaemonRpcException>(() => channel.UnaryAsync("/peertest.v1.Echo/Unserved", new EchoRequest(), EchoReply.Parser, Options()));
        var noService = await Assert.ThrowsAsync<DaemonRpcException>(() => channel.UnaryAsync("/peertest.v1.Nowhere/Say", new EchoRequest(), EchoReply.Parser, Options()));
        var noStream = await Assert.ThrowsAsync<DaemonRpcException>(() => Collect(channel.ServerStreamingAsync("/peertest.v1.Echo/RepeatForever", new EchoRequest(), EchoReply.Parser, Options())));

        Assert.Equal(StatusCode.Unimplemented, unserved.Status);
        Assert.Equal(StatusCode.Unimplemented, noService.Status);
        Assert.Equal(StatusCode.Unimplemented, noStream.Status);
    }

    [Fact]
    public void Every_rpc_of_the_contract_has_a_typed_client_method()
    {
        var contract = DaemonMethods.Services
            .SelectMany(s => s.Methods.Select(m => $"/{s.FullName}/{m.Name}"))
            .Order(StringComparer.Ordinal);
        var fromProtos = new[] { KeysReflection.Descriptor, SigningReflection.Descriptor, RotationReflection.Descriptor, AttestationReflection.Descriptor, CeremonyReflection.Descriptor, AuditReflection.Descriptor, HealthReflection.Descriptor }
            .SelectMany(f => f.Services)
            .SelectMany(s => s.Methods.Select(m => $"/{s.FullName}/{m.Name}"))
            .Order(StringComparer.Ordinal);
        var clientMethods = typeof(DaemonClient).GetMethods()
            .Where(m => m.DeclaringType == typeof(DaemonClient) && m.Name.EndsWith("Async", StringComparison.Ordinal))
            .ToList();

        Assert.Equal(fromProtos, contract);
        Assert.Equal(contract, DaemonMethods.FullNames.Order(StringComparer.Ordinal));
        Assert.Equal(DaemonMethods.FullNames.Count, clientMethods.Count);
        foreach (var method in clientMethods)
        {
            var request = method.GetParameters()[0].ParameterType;
            Assert.Contains(DaemonMethods.Services.SelectMany(s => s.Methods), m => m.InputType.ClrType == request);
        }

        Assert.Equal("/offlinesigner.v1.SigningService/Sign", DaemonMethods.Sign.FullName);
        Assert.True(DaemonMethods.ReadLog.ServerStreaming);
        Assert.Throws<InvalidOperationException>(() => DaemonMethod.Find<SignRequest, PreviewResponse>(DaemonMethods.SigningService, "Sign", serverStreaming: false));
        Assert.Throws<InvalidOperationException>(() => DaemonMethod.Find<ReadLogRequest, AuditEntry>(DaemonMethods.AuditService, "ReadLog", serverStreaming: false));
    }

    [Fact]
    public async Task The_request_is_a_POST_of_one_uncompressed_message_with_the_grpc_headers()
    {
        var seen = default(SeenRequest);
        using var channel = Scripted((request, body) =>
        {
            seen = new SeenRequest(request, body);
            return Respond(Frame(new EchoReply { Text = "ok" }), trailers: [("grpc-status", "0")]);
        });
        var message = new EchoRequest { Text = "t", Payload = ByteString.CopyFrom(RandomBytes(300)) };
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(30);

        var reply = await channel.UnaryAsync(Echo.Say, message, new CallOptions { Deadline = deadline, Headers = [new("x-peer-test", "v")], CancellationToken = TestCancellation });

        Assert.Equal("ok", reply.Text);
        Assert.NotNull(seen);
        Assert.Equal(HttpMethod.Post, seen.Method);
        Assert.Equal("/peertest.v1.Echo/Say", seen.Path);
        Assert.Equal(HttpVersion.Version20, seen.Version);
        Assert.Equal(HttpVersionPolicy.RequestVersionExact, seen.VersionPolicy);
        Assert.Equal("application/grpc", seen.ContentType);
        Assert.Equal("trailers", seen.Te);
        Assert.Equal("v", seen.Header("x-peer-test"));
        Assert.True(GrpcWire.TryParseTimeout(seen.Header("grpc-timeout"), out var timeout), seen.Header("grpc-timeout"));
        Assert.InRange(timeout, TimeSpan.FromSeconds(25), TimeSpan.FromSeconds(30));
        Assert.Equal(Frame(message), seen.Body);
    }

    [Fact]
    public async Task An_oversized_prefix_fails_before_the_message_is_read_or_allocated()
    {
        // The body is only a prefix announcing 4 GiB - 1: allocating first would fail with an exception of its own,
        // reading first would find the end of the body (INTERNAL). The limit decides first.
        using var channel = Scripted((_, _) => Respond([0, 0xFF, 0xFF, 0xFF, 0xFF], trailers: [("grpc-status", "0")]));

        var e = await Assert.ThrowsAsync<DaemonRpcException>(() => channel.UnaryAsync(Echo.Say, new EchoRequest(), Options()));

        Assert.Equal(StatusCode.ResourceExhausted, e.Status);
        Assert.Contains(uint.MaxValue.ToString(CultureInfo.InvariantCulture), e.Detail, StringComparison.Ordinal);
    }

    public static TheoryData<string, byte[], string?, StatusCode> MalformedResponses => new()
    {
        { "compressed message", [1, 0, 0, 0, 2, 8, 1], "0", StatusCode.Internal },
        { "undefined prefix flag", [2, 0, 0, 0, 0], "0", StatusCode.Internal },
        { "body ends inside the prefix", [0, 0, 0], "0", StatusCode.Internal },
        { "body ends inside the message", [0, 0, 0, 0, 10, 10, 1], "0", StatusCode.Internal },
        { "message does not parse", [0, 0, 0, 0, 2, 0xFF, 0xFF], "0", StatusCode.Internal },
        { "no message and OK", [], "0", StatusCode.Internal },
        { "two messages for a unary call", [0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "0", StatusCode.Internal },
        { "no grpc-status", [0, 0, 0, 0, 0], null, StatusCode.Unknown },
        { "undefined grpc-status", [], "99", StatusCode.Unknown },
        { "status after a message", [0, 0, 0, 0, 0], "7", StatusCode.PermissionDenied },
    };

    [Theory]
    [MemberData(nameof(MalformedResponses))]
    public async Task Malformed_responses_get_a_precise_status(string what, byte[] body, string? status, StatusCode expected)
    {
        using var channel = Scripted((_, _) => Respond(body, trailers: status is null ? [] : [("grpc-status", status)]));

        var e = await Assert.ThrowsAsync<DaemonRpcException>(() => channel.UnaryAsync(Echo.Say, new EchoRequest(), Options()));

        Assert.True(expected == e.Status, $"{what}: {e.Status} ({e.Detail})");
    }

    public static TheoryData<int, StatusCode> HttpStatuses => new()
    {
        { 400, StatusCode.Internal },
        { 401, StatusCode.Unauthenticated },
        { 403, StatusCode.PermissionDenied },
        { 404, StatusCode.Unimplemented },
        { 415, StatusCode.Unknown },
        { 429, StatusCode.Unavailable },
        { 500, StatusCode.Unknown },
        { 501, StatusCode.Unimplemented },
        { 502, StatusCode.Unavailable },
        { 503, StatusCode.Unavailable },
        { 504, StatusCode.Unavailable },
    };

    [Theory]
    [MemberData(nameof(HttpStatuses))]
    public async Task An_HTTP_status_other_than_200_maps_as_gRPC_maps_it(int http, StatusCode expected)
    {
        using var channel = Scripted((_, _) => Respond([], (HttpStatusCode)http, contentType: "text/plain"));

        var e = await Assert.ThrowsAsync<DaemonRpcException>(() => channel.UnaryAsync(Echo.Say, new EchoRequest(), Options()));

        Assert.Equal(expected, e.Status);
        Assert.Contains(http.ToString(CultureInfo.InvariantCulture), e.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_200_response_that_is_not_gRPC_is_INTERNAL_and_a_trailers_only_one_carries_its_status()
    {
        using var html = Scripted((_, _) => Respond("<html>"u8.ToArray(), contentType: "text/html"));
        var notGrpc = await Assert.ThrowsAsync<DaemonRpcException>(() => html.UnaryAsync(Echo.Say, new EchoRequest(), Options()));
        Assert.Equal(StatusCode.Internal, notGrpc.Status);
        Assert.Contains("text/html", notGrpc.Detail, StringComparison.Ordinal);

        using var trailersOnly = Scripted((_, _) => Respond([], headers: [("grpc-status", "9"), ("grpc-message", "caf%C3%A9 %25 %E2%9C%93")]));
        var refused = await Assert.ThrowsAsync<DaemonRpcException>(() => trailersOnly.UnaryAsync(Echo.Say, new EchoRequest(), Options()));
        Assert.Equal(StatusCode.FailedPrecondition, refused.Status);
        Assert.Equal("caf\u00e9 % \u2713", refused.Detail);
    }

    [Fact]
    public async Task Malformed_method_paths_and_metadata_are_refused_before_any_call()
    {
        using var channel = new DaemonChannel(new Uri("http://127.0.0.1:9"));
        await Assert.ThrowsAsync<ArgumentException>(() => channel.UnaryAsync("peertest.v1.Echo/Say", new EchoRequest(), EchoReply.Parser));
        await Assert.ThrowsAsync<ArgumentException>(() => channel.UnaryAsync("/Say", new EchoRequest(), EchoReply.Parser));
        await Assert.ThrowsAsync<ArgumentException>(() => channel.UnaryAsync(Echo.Say, new EchoRequest(), new CallOptions { Headers = [new("grpc-timeout", "1S")] }));
        await Assert.ThrowsAsync<ArgumentException>(() => channel.UnaryAsync(Echo.Say, new EchoRequest(), new CallOptions { Headers = [new("X-Upper", "v")] }));
        await Assert.ThrowsAsync<ArgumentException>(() => channel.UnaryAsync(Echo.Say, new EchoRequest(), new CallOptions { Headers = [new("x-ok", "line\nbreak")] }));
        Assert.Throws<ArgumentException>(() => channel.ServerStreamingAsync(Echo.Say, new EchoRequest()));
        await Assert.ThrowsAsync<ArgumentException>(() => channel.UnaryAsync(Echo.Repeat, new EchoRequest()));
    }

    private static CallOptions Options() => CallOptions.WithTimeout(TimeSpan.FromSeconds(60), TestCancellation);

    private static async Task<List<T>> Collect<T>(IAsyncEnumerable<T> source)
    {
        var list = new List<T>();
        await foreach (var item in source)
        {
            list.Add(item);
        }

        return list;
    }

    private static byte[] RandomBytes(int length)
    {
        var bytes = new byte[length];
        Random.Shared.NextBytes(bytes);
        return bytes;
    }

    /// <summary>The payload length that makes EchoReply { text, payload } exactly <paramref name="size"/> bytes.</summary>
    private static int PayloadForReplySize(string text, int size)
    {
        var n = size;
        while (new EchoReply { Text = text, Payload = ByteString.CopyFrom(new byte[n]) }.CalculateSize() > size)
        {
            n--;
        }

        Assert.Equal(size, new EchoReply { Text = text, Payload = ByteString.CopyFrom(new byte[n]) }.CalculateSize());
        return n;
    }

    /// <summary>grpc.StatusCode names as python3-grpcio prints them: DEADLINE_EXCEEDED for DeadlineExceeded.</summary>
    private static string GrpcName(StatusCode status)
    {
        var name = status.ToString();
        var builder = new StringBuilder();
        for (var i = 0; i < name.Length; i++)
        {
            if (i > 0 && char.IsUpper(name[i]))
            {
                builder.Append('_');
            }

            builder.Append(char.ToUpperInvariant(name[i]));
        }

        return builder.ToString();
    }

    private static byte[] Frame(IMessage message)
    {
        var bytes = message.ToByteArray();
        var frame = new byte[GrpcWire.PrefixLength + bytes.Length];
        GrpcWire.WritePrefix(frame, bytes.Length);
        bytes.CopyTo(frame, GrpcWire.PrefixLength);
        return frame;
    }

    private static DaemonChannel Scripted(Func<HttpRequestMessage, byte[], HttpResponseMessage> respond) =>
        new(new ScriptedHandler(respond), new Uri("http://scripted.invalid"));

    private static HttpResponseMessage Respond(
        byte[] body,
        HttpStatusCode status = HttpStatusCode.OK,
        string contentType = "application/grpc",
        (string Name, string Value)[]? headers = null,
        (string Name, string Value)[]? trailers = null)
    {
        var response = new HttpResponseMessage(status) { Version = HttpVersion.Version20, Content = new ByteArrayContent(body) };
        response.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        foreach (var (name, value) in headers ?? [])
        {
            response.Headers.TryAddWithoutValidation(name, value);
        }

        foreach (var (name, value) in trailers ?? [])
        {
            response.TrailingHeaders.TryAddWithoutValidation(name, value);
        }

        return response;
    }

    /// <summary>The methods of peertest.v1.Echo, from the descriptors generated from echo.proto.</summary>
    private sealed class ServiceDescriptorHolder
    {
        private static readonly Google.Protobuf.Reflection.ServiceDescriptor Service = EchoReflection.Descriptor.Services.Single(s => s.Name == "Echo");

        public DaemonMethod<EchoRequest, EchoReply> Say { get; } = DaemonMethod.Find<EchoRequest, EchoReply>(Service, "Say", serverStreaming: false);

        public DaemonMethod<EchoRequest, EchoReply> Repeat { get; } = DaemonMethod.Find<EchoRequest, EchoReply>(Service, "Repeat", serverStreaming: true);
    }

    private sealed record SeenRequest(HttpMethod Method, string Path, Version Version, HttpVersionPolicy VersionPolicy, string? ContentType, string Te, IReadOnlyDictionary<string, string> Headers, byte[] Body)
    {
        public SeenRequest(HttpRequestMessage request, byte[] body)
            : this(
                request.Method,
                request.RequestUri!.AbsolutePath,
                request.Version,
                request.VersionPolicy,
                request.Content?.Headers.ContentType?.ToString(),
                request.Headers.TE.ToString(),
                request.Headers.NonValidated.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase),
                body)
        {
        }

        public string? Header(string name) => Headers.TryGetValue(name, out var v) ? v : null;
    }

    private sealed class ScriptedHandler(Func<HttpRequestMessage, byte[], HttpResponseMessage> respond) : HttpMessageHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var body = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken);
            var response = respond(request, body);
            response.RequestMessage = request;
            return response;
        }
    }

    /// <summary>
    /// The python3-grpcio servers, started on first use and killed when the class is done: the echo server on a Unix
    /// socket (<see cref="PythonEchoServer"/>) and on a loopback TCP port, and a stand-in of the daemon's contract.
    /// </summary>
    public sealed class PeerServers : IDisposable
    {
        private readonly Lazy<PythonEchoServer> _unix = new(PythonEchoServer.Start);
        private readonly Lazy<PeerProcess> _tcp = new(StartTcpEcho);
        private readonly Lazy<PeerProcess> _contract = new(StartContractStandIn);

        internal DaemonChannel Open(Transport transport, DaemonChannelOptions? options = null) => transport switch
        {
            Transport.UnixSocket => new DaemonChannel(_unix.Value.Target["unix://".Length..], options),
            _ => new DaemonChannel(new Uri("http://" + _tcp.Value.Target), options),
        };

        internal DaemonChannel OpenContract() => new(_contract.Value.Target, null);

        public void Dispose()
        {
            if (_unix.IsValueCreated)
            {
                _unix.Value.Dispose();
            }

            if (_tcp.IsValueCreated)
            {
                _tcp.Value.Dispose();
            }

            if (_contract.IsValueCreated)
            {
                _contract.Value.Dispose();
            }
        }

        private static PeerProcess StartTcpEcho()
        {
            var python = GrpcPeers.RequirePythonGrpc();
            for (var attempt = 1; ; attempt++)
            {
                int port;
                using (var probe = new TcpListener(IPAddress.Loopback, 0))
                {
                    probe.Start();
                    port = ((IPEndPoint)probe.LocalEndpoint).Port;
                }

                var target = $"127.0.0.1:{port}";
                try
                {
                    return PeerProcess.Start(python, [Peers.Script("grpc_echo_server.py"), "--listen", target], target, dir: null);
                }
                catch (PeerToolException) when (attempt < 5)
                {
                    // Another process took the port between the probe and the server's bind: try another.
                }
            }
        }

        private static PeerProcess StartContractStandIn()
        {
            var python = GrpcPeers.RequirePythonGrpc();
            var dir = TestEnvironment.CreateTempDir("daemon-contract");
            var socket = Path.Combine(dir.Path, "daemon.sock");
            return PeerProcess.Start(python, ["-c", ContractStandIn, Peers.Dir, GrpcPeers.ProtoRoot, "unix://" + socket], socket, dir);
        }

        // python3-grpcio serving grpc.health.v1.Health/Check and offlinesigner.v1.AuditService/ReadLog from the
        // project's .proto files (compiled by protoc at run time through tests/peers/grpc_protos.py).
        private const string ContractStandIn = """
            import signal, sys, threading
            from concurrent import futures
            peers, proto_root, listen = sys.argv[1:4]
            sys.path.insert(0, peers)
            import grpc
            from grpc_protos import Protos
            protos = Protos(proto_root, ["grpc/health/v1/health.proto", "offlinesigner/v1/audit.proto"])
            CheckRequest = protos.message_class("grpc.health.v1.HealthCheckRequest")
            CheckResponse = protos.message_class("grpc.health.v1.HealthCheckResponse")
            ReadLogRequest = protos.message_class("offlinesigner.v1.ReadLogRequest")
            AuditEntry = protos.message_class("offlinesigner.v1.AuditEntry")

            def check(request, context):
                if request.service in ("", "offlinesigner.v1.AuditService"):
                    return CheckResponse(status=CheckResponse.SERVING)
                context.abort(grpc.StatusCode.NOT_FOUND, "unknown service " + request.service)

            def read_log(request, context):
                for i in range(request.limit):
                    n = request.from_sequence + i
                    yield AuditEntry(sequence=n, json='{"sequence":%d}' % n)

            server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
            server.add_generic_rpc_handlers((
                grpc.method_handlers_generic_handler("grpc.health.v1.Health", {"Check": grpc.unary_unary_rpc_method_handler(
                    check, request_deserializer=CheckRequest.FromString, response_serializer=CheckResponse.SerializeToString)}),
                grpc.method_handlers_generic_handler("offlinesigner.v1.AuditService", {"ReadLog": grpc.unary_stream_rpc_method_handler(
                    read_log, request_deserializer=ReadLogRequest.FromString, response_serializer=AuditEntry.SerializeToString)}),
            ))
            server.add_insecure_port(listen)
            server.start()
            print("READY " + listen, flush=True)
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            stop.wait()
            server.stop(0)
            """;
    }

    /// <summary>A server process that prints "READY ..." once it listens; killed by its PID on dispose.</summary>
    internal sealed class PeerProcess : IDisposable
    {
        private readonly Process _process;
        private readonly TempDir? _dir;

        private PeerProcess(Process process, string target, TempDir? dir)
        {
            _process = process;
            _dir = dir;
            Target = target;
        }

        /// <summary>host:port, or the socket path.</summary>
        public string Target { get; }

        public static PeerProcess Start(string exe, IReadOnlyList<string> args, string target, TempDir? dir)
        {
            var psi = new ProcessStartInfo(exe)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var a in args)
            {
                psi.ArgumentList.Add(a);
            }

            var process = Process.Start(psi) ?? throw new PeerToolException("cannot start " + exe);
            var peer = new PeerProcess(process, target, dir);
            var stderr = new StringBuilder();
            process.ErrorDataReceived += (_, e) =>
            {
                lock (stderr)
                {
                    stderr.AppendLine(e.Data);
                }
            };
            process.BeginErrorReadLine();
            var ready = process.StandardOutput.ReadLineAsync();
            if (!ready.Wait(TimeSpan.FromSeconds(30)) || ready.Result is null || !ready.Result.StartsWith("READY", StringComparison.Ordinal))
            {
                peer.Dispose();
                lock (stderr)
                {
                    throw new PeerToolException($"{exe} {args[0]} did not become ready on {target}:\n{stderr}");
                }
            }

            return peer;
        }

        public void Dispose()
        {
            try
            {
                if (!_process.HasExited)
                {
                    _process.Kill();
                    _process.WaitForExit(TimeSpan.FromSeconds(10));
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }

            _process.Dispose();
            _dir?.Dispose();
        }
    }
}
