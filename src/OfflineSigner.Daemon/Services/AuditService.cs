using System.Text;
using System.Text.Json;
using OfflineSigner.Audit;
using OfflineSigner.Daemon.Grpc;
using OfflineSigner.Protocol.V1;

namespace OfflineSigner.Daemon.Services;

/// <summary>
/// AuditService: reads the daemon's audit log as stored (one JSON line per entry) and verifies its chain, while the
/// daemon keeps appending (the file is opened read-only and shared, so the writer is never held up). Only complete
/// lines are read: a line being written is not yet an entry.
/// </summary>
public sealed class AuditService(string logPath)
{
    private static readonly Google.Protobuf.Reflection.ServiceDescriptor Descriptor = AuditReflection.Descriptor.Services.Single(s => s.Name == "AuditService");
    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

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
            HeadSequence = result.HeadSequence,
            FirstBadSequence = result.FirstBadSequence ?? 0,
            FirstBadLine = result.FirstBadLine ?? 0,
            Error = result.Ok ? string.Empty : result.Reason ?? "broken",
            TornTail = result.TornTail,
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
            // The entries stored when the call starts: reading stops at this length, so a line the writer appends
            // meanwhile (possibly half written) is never taken for a complete one. Read in chunks, so a long log is
            // never held whole; bytes after the last newline are a line still being written, not an entry.
            var end = stream.Length;
            var buffer = new byte[64 * 1024];
            using var partial = new MemoryStream();
            var position = 0L;
            while (position < end)
            {
                var read = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, end - position));
                if (read == 0)
                {
                    yield break;
                }

                position += read;
                foreach (var line in SplitLines(buffer, read, partial))
                {
                    yield return line;
                }
            }
        }
    }

    // The complete lines in buffer[..count], the first one continuing `partial`; what follows the last newline is
    // left in `partial`.
    private static List<string> SplitLines(byte[] buffer, int count, MemoryStream partial)
    {
        var lines = new List<string>();
        var start = 0;
        int newline;
        while ((newline = Array.IndexOf(buffer, (byte)'\n', start, count - start)) >= 0)
        {
            partial.Write(buffer, start, newline - start);
            lines.Add(Decode(partial.GetBuffer().AsSpan(0, (int)partial.Length)));
            partial.SetLength(0);
            start = newline + 1;
        }

        partial.Write(buffer, start, count - start);
        return lines;
    }

    private static string Decode(ReadOnlySpan<byte> line)
    {
        try
        {
            return StrictUtf8.GetString(line);
        }
        catch (DecoderFallbackException)
        {
            throw NotAnEntry();
        }
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

        throw NotAnEntry();
    }

    private static RpcException NotAnEntry() => new(StatusCode.DataLoss, "the audit log holds a line that is not an entry; run VerifyLog");
}
