using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using OfflineSigner.Audit;
using OfflineSigner.Daemon.Grpc;
using OfflineSigner.Daemon.Services;
using OfflineSigner.Protocol.V1;
using OfflineSigner.Tests.Shared;
using Xunit;
using GrpcStatus = OfflineSigner.Protocol.Grpc.StatusCode;

namespace OfflineSigner.Daemon.Tests;

/// <summary>AuditService over a log file written by the real AuditLogWriter, read while the writer holds it.</summary>
public sealed class AuditServiceTests
{
    private const string ReadLogMethod = "/offlinesigner.v1.AuditService/ReadLog";
    private const string VerifyLogMethod = "/offlinesigner.v1.AuditService/VerifyLog";

    [Fact]
    public async Task ReadLog_streams_every_stored_entry_in_order_while_the_writer_holds_the_log()
    {
        using var dir = TestEnvironment.CreateTempDir("audit-read");
        var path = Path.Combine(dir.Path, "audit.jsonl");
        using var writer = new AuditLogWriter(path);
        Write(writer, 5);

        var entries = await ReadAsync(path, new ReadLogRequest());

        Assert.Equal([1L, 2, 3, 4, 5], entries.Select(e => e.Sequence));
        var lines = File.ReadAllLines(path);
        Assert.Equal(lines, entries.Select(e => e.Json));
        for (var i = 0; i < entries.Count; i++)
        {
            using var json = JsonDocument.Parse(entries[i].Json);
            Assert.Equal(entries[i].Sequence, json.RootElement.GetProperty("seq").GetInt64());
            Assert.Equal("signed", json.RootElement.GetProperty("event").GetString());
            Assert.Equal($"key-{i + 1}", json.RootElement.GetProperty("key_id").GetString());
        }

        // An entry appended after a call is seen by the next one.
        writer.Append(new AuditEvent(AuditEventKind.Rotated) { Role = "root", Version = 2 });
        var again = await ReadAsync(path, new ReadLogRequest());
        Assert.Equal(6, again.Count);
        Assert.Contains("\"event\":\"rotated\"", again[^1].Json, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_read_keeps_to_the_entries_stored_when_it_began_while_the_writer_appends()
    {
        using var dir = TestEnvironment.CreateTempDir("audit-during");
        var path = Path.Combine(dir.Path, "audit.jsonl");
        using var writer = new AuditLogWriter(path);
        Write(writer, 4);
        var stored = File.ReadAllLines(path);

        // Each streamed entry makes the writer append one more (at most four, so a reader that followed the growing
        // file would end as well, and fail): the writer is never held up, and the read stops where the file ended.
        var appended = 0;
        var collector = new Collector(_ =>
        {
            if (appended < 4)
            {
                writer.Append(new AuditEvent(AuditEventKind.Rotated) { Role = "root", Version = ++appended });
            }
        });
        await Service(path).ReadLogAsync(new ReadLogRequest(), collector, Context(ReadLogMethod));

        Assert.Equal(4, appended);
        Assert.Equal(stored, collector.Messages.Select(e => e.Json));
        var after = await ReadAsync(path, new ReadLogRequest());
        Assert.Equal(File.ReadAllLines(path), after.Select(e => e.Json));
        Assert.Equal(8, after.Count);
        Assert.True(Service(path).VerifyLog(new VerifyLogRequest(), Context(VerifyLogMethod)).Ok);
    }

    [Theory]
    [InlineData(0, 0, new long[] { 1, 2, 3, 4, 5, 6, 7 })]
    [InlineData(3, 0, new long[] { 3, 4, 5, 6, 7 })]
    [InlineData(3, 2, new long[] { 3, 4 })]
    [InlineData(0, 1, new long[] { 1 })]
    [InlineData(7, 5, new long[] { 7 })]
    [InlineData(8, 0, new long[] { })]
    public async Task ReadLog_honours_from_sequence_and_limit(long from, long limit, long[] expected)
    {
        using var dir = TestEnvironment.CreateTempDir("audit-filter");
        var path = Path.Combine(dir.Path, "audit.jsonl");
        using (var writer = new AuditLogWriter(path))
        {
            Write(writer, 7);
        }

        var entries = await ReadAsync(path, new ReadLogRequest { FromSequence = from, Limit = limit });

        Assert.Equal(expected, entries.Select(e => e.Sequence));
    }

    [Fact]
    public async Task ReadLog_leaves_out_a_last_line_without_its_newline()
    {
        using var dir = TestEnvironment.CreateTempDir("audit-torn");
        var path = Path.Combine(dir.Path, "audit.jsonl");
        using (var writer = new AuditLogWriter(path))
        {
            Write(writer, 3);
        }

        // Half of a fourth entry, as a crash in the middle of an append leaves it.
        var stored = File.ReadAllLines(path);
        var fourth = stored[2].Replace("\"seq\":3", "\"seq\":4", StringComparison.Ordinal);
        File.AppendAllText(path, fourth[..(fourth.Length / 2)]);

        var entries = await ReadAsync(path, new ReadLogRequest());
        Assert.Equal([1L, 2, 3], entries.Select(e => e.Sequence));

        var verified = Service(path).VerifyLog(new VerifyLogRequest(), Context(VerifyLogMethod));
        Assert.True(verified.Ok, verified.Error);
        Assert.True(verified.TornTail);
        Assert.Equal(3, verified.Entries);
    }

    [Fact]
    public async Task ReadLog_refuses_negative_filters_and_a_missing_log()
    {
        using var dir = TestEnvironment.CreateTempDir("audit-refuse");
        var path = Path.Combine(dir.Path, "audit.jsonl");

        var missing = await Assert.ThrowsAsync<RpcException>(() => ReadAsync(path, new ReadLogRequest()));
        Assert.Equal(GrpcStatus.NotFound, missing.Status);
        Assert.Equal(GrpcStatus.NotFound, Assert.Throws<RpcException>(() => Service(path).VerifyLog(new VerifyLogRequest(), Context(VerifyLogMethod))).Status);

        using (var writer = new AuditLogWriter(path))
        {
            Write(writer, 1);
        }

        var negative = await Assert.ThrowsAsync<RpcException>(() => ReadAsync(path, new ReadLogRequest { Limit = -1 }));
        Assert.Equal(GrpcStatus.InvalidArgument, negative.Status);
        negative = await Assert.ThrowsAsync<RpcException>(() => ReadAsync(path, new ReadLogRequest { FromSequence = -1 }));
        Assert.Equal(GrpcStatus.InvalidArgument, negative.Status);
    }

    [Fact]
    public void VerifyLog_reports_an_intact_log_with_its_head()
    {
        using var dir = TestEnvironment.CreateTempDir("audit-verify");
        var path = Path.Combine(dir.Path, "audit.jsonl");
        using var writer = new AuditLogWriter(path);
        Write(writer, 4);

        var response = Service(path).VerifyLog(new VerifyLogRequest(), Context(VerifyLogMethod));

        Assert.True(response.Ok, response.Error);
        Assert.Equal(4, response.Entries);
        Assert.Equal(4, response.HeadSequence);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(File.ReadAllLines(path)[^1]))), response.HeadSha256);
        Assert.Equal(0, response.FirstBadSequence);
        Assert.Empty(response.Error);
        Assert.False(response.TornTail);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(5)]
    public void VerifyLog_names_the_entry_after_a_tampered_one(int tampered)
    {
        using var dir = TestEnvironment.CreateTempDir("audit-tamper");
        var path = Path.Combine(dir.Path, "audit.jsonl");
        using (var writer = new AuditLogWriter(path))
        {
            Write(writer, 6);
        }

        var service = Service(path);
        var before = service.VerifyLog(new VerifyLogRequest(), Context(VerifyLogMethod));
        Assert.True(before.Ok, before.Error);

        // Someone who can write the file changes one entry's key id: the entry stays well formed, but the next
        // entry's prev no longer names its hash, so the chain breaks right after it.
        Tamper(path, tampered);

        var response = service.VerifyLog(new VerifyLogRequest(), Context(VerifyLogMethod));

        Assert.False(response.Ok);
        Assert.NotEmpty(response.Error);
        Assert.Equal(tampered + 1, response.FirstBadSequence);
        Assert.Equal(tampered + 1, response.FirstBadLine);
    }

    [Fact]
    public void VerifyLog_shows_an_edited_last_entry_as_a_new_head()
    {
        using var dir = TestEnvironment.CreateTempDir("audit-head");
        var path = Path.Combine(dir.Path, "audit.jsonl");
        using (var writer = new AuditLogWriter(path))
        {
            Write(writer, 4);
        }

        var service = Service(path);
        var before = service.VerifyLog(new VerifyLogRequest(), Context(VerifyLogMethod));
        Tamper(path, 4);
        var after = service.VerifyLog(new VerifyLogRequest(), Context(VerifyLogMethod));

        // Nothing follows the last entry to name its hash: only a head recorded elsewhere reveals the edit.
        Assert.True(after.Ok, after.Error);
        Assert.Equal(before.HeadSequence, after.HeadSequence);
        Assert.NotEqual(before.HeadSha256, after.HeadSha256);
    }

    [Fact]
    public void VerifyLog_names_a_deleted_entry()
    {
        using var dir = TestEnvironment.CreateTempDir("audit-delete");
        var path = Path.Combine(dir.Path, "audit.jsonl");
        using (var writer = new AuditLogWriter(path))
        {
            Write(writer, 5);
        }

        var lines = File.ReadAllLines(path).ToList();
        lines.RemoveAt(2);
        File.WriteAllText(path, string.Join('\n', lines) + "\n");

        var response = Service(path).VerifyLog(new VerifyLogRequest(), Context(VerifyLogMethod));

        Assert.False(response.Ok);
        Assert.Equal(3, response.FirstBadLine);
        Assert.Contains("seq", response.Error, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void The_service_is_registered_only_with_a_log_path()
    {
        var registry = new RecordingRegistry();
        new AuditService("/nonexistent/audit.jsonl").Register(registry);
        Assert.Equal(["/offlinesigner.v1.AuditService/ReadLog", "/offlinesigner.v1.AuditService/VerifyLog"], registry.Methods.Order(StringComparer.Ordinal));
    }

    private static AuditService Service(string path) => new(path);

    private static void Tamper(string path, int sequence)
    {
        var lines = File.ReadAllLines(path);
        var edited = lines[sequence - 1].Replace($"\"key_id\":\"key-{sequence}\"", "\"key_id\":\"key-X\"", StringComparison.Ordinal);
        Assert.NotEqual(lines[sequence - 1], edited);
        lines[sequence - 1] = edited;
        File.WriteAllText(path, string.Join('\n', lines) + "\n");
    }

    private static CallContext Context(string method) => new() { Uid = 4242, Gid = 4242, Pid = 1, Method = method };

    private static void Write(AuditLogWriter writer, int count)
    {
        var start = writer.HeadSequence;
        for (var i = 1; i <= count; i++)
        {
            writer.Append(new AuditEvent(AuditEventKind.Signed)
            {
                KeyId = $"key-{start + i}",
                Role = "targets",
                Version = start + i,
                PayloadSha256 = Convert.ToHexStringLower(SHA256.HashData(BitConverter.GetBytes(start + i))),
                CallerUid = 4242,
            });
        }
    }

    private static async Task<List<AuditEntry>> ReadAsync(string path, ReadLogRequest request)
    {
        var collector = new Collector();
        await Service(path).ReadLogAsync(request, collector, Context(ReadLogMethod));
        return collector.Messages;
    }

    private sealed class Collector(Action<AuditEntry>? onEach = null) : IServerStreamWriter<AuditEntry>
    {
        public List<AuditEntry> Messages { get; } = [];

        public Task WriteAsync(AuditEntry message)
        {
            Messages.Add(message);
            onEach?.Invoke(message);
            return Task.CompletedTask;
        }
    }

    private sealed class RecordingRegistry : IGrpcServiceRegistry
    {
        public List<string> Methods { get; } = [];

        public void AddUnary<TRequest, TResponse>(Google.Protobuf.Reflection.ServiceDescriptor service, string method, UnaryMethod<TRequest, TResponse> handler)
            where TRequest : Google.Protobuf.IMessage<TRequest>, new()
            where TResponse : Google.Protobuf.IMessage<TResponse> =>
            Methods.Add($"/{service.FullName}/{method}");

        public void AddServerStreaming<TRequest, TResponse>(Google.Protobuf.Reflection.ServiceDescriptor service, string method, ServerStreamingMethod<TRequest, TResponse> handler)
            where TRequest : Google.Protobuf.IMessage<TRequest>, new()
            where TResponse : Google.Protobuf.IMessage<TResponse> =>
            Methods.Add($"/{service.FullName}/{method}");
    }
}
