using System.Globalization;
using System.Text;
using System.Text.Json;
using OfflineSigner.Audit;
using OfflineSigner.Daemon.Grpc;
using OfflineSigner.Protocol.V1;

namespace OfflineSigner.Daemon.Services;

/// <summary>
/// AuditService: reads the daemon's audit log as stored (one JSON line per entry) and verifies its chain, while the
/// daemon keeps appending. Only complete lines are read: a line being written is not yet an entry.
/// </summary>
public sealed class AuditService(string logPath)
{
    private static readonly Google.Protobuf.Reflection.ServiceDescriptor Descriptor = AuditReflection.Descriptor.Services.Single(s => s.Name == "AuditService");

    /// <summary>Registers ReadLog and VerifyLog.</summary>
    public void Register(IGrpcServiceRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        registry.AddServerStreaming<ReadLogRequest, AuditEntry>(Descriptor, "ReadLog", ReadLogAsync);
        registry.AddUnary<VerifyLogRequest, VerifyLogResponse>(Descriptor, "VerifyLog", (r, c) => Task.FromResult(VerifyLog(r, c)));
    }

    public async Task ReadLogAsync(ReadLogRequest request, IServerStreamWriter<AuditEntry> writer, CallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(context);
        if (request.FromSequence < 0 || request.Limit < 0)
        {
            throw new RpcException(StatusCode.InvalidArgument, "from_sequence and limit must not be negative");
        }

        var sent = 0L;
        foreach (var line in CompleteLines())
        {
            context.CancellationToken.ThrowIfCancellationRequested();
            var sequence = SequenceOf(line);
            if (sequence < request.FromSequence)
            {
                continue;
            }

            await writer.WriteAsync(new AuditEntry { Sequence = sequence, Json = line }).ConfigureAwait(false);
            if (request.Limit > 0 && ++sent >= request.Limit)
            {
                break;
            }
        }
    }

    public VerifyLogResponse VerifyLog(VerifyLogRequest request, CallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        AuditLogVerification result;
        try
        {
            using var stream = Open();
            result = AuditLogVerifier.Verify(stream);
        }
        catch (FileNotFoundException)
        {
            throw new RpcException(StatusCode.NotFound, $"the audit log {logPath} does not exist");
        }

        return new VerifyLogResponse
        {
            Ok = result.Ok,
            Entries = result.Entries,
            HeadSha256 = result.HeadSha256,
            FirstBadSequence = result.FirstBadSequence ?? 0,
            Error = result.Ok ? string.Empty : result.Reason ?? "broken",
        };
    }

    private FileStream Open() => new(logPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);

    private IEnumerable<string> CompleteLines()
    {
        FileStream stream;
        try
        {
            stream = Open();
        }
        catch (FileNotFoundException)
        {
            throw new RpcException(StatusCode.NotFound, $"the audit log {logPath} does not exist");
        }

        using (stream)
        {
            // Line by line, so a long log is never held whole; a last line without its newline is still being written.
            using var reader = new StreamReader(stream, new UTF8Encoding(false, true), false, 64 * 1024);
            var limit = stream.Length;
            string? line;
            while ((line = reader.ReadLine()) is not null)
            {
                if (reader.EndOfStream && !EndsWithNewline(stream, limit))
                {
                    yield break;
                }

                yield return line;
            }
        }
    }

    private static bool EndsWithNewline(FileStream stream, long length)
    {
        if (length == 0)
        {
            return false;
        }

        Span<byte> last = stackalloc byte[1];
        return RandomAccess.Read(stream.SafeFileHandle, last, length - 1) == 1 && last[0] == (byte)'\n';
    }

    private static long SequenceOf(string line)
    {
        try
        {
            using var document = JsonDocument.Parse(line);
            if (document.RootElement.TryGetProperty("seq", out var seq) && seq.TryGetInt64(out var value))
            {
                return value;
            }
        }
        catch (JsonException)
        {
            // Reported below.
        }

        throw new RpcException(StatusCode.DataLoss, string.Create(CultureInfo.InvariantCulture, $"the audit log holds a line that is not an entry; run VerifyLog"));
    }
}
