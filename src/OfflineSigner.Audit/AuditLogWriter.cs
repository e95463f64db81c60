// Implements docs/audit-log.md, "Writing".
namespace OfflineSigner.Audit;

/// <summary>The audit log's chain is broken and no new segment was asked for.</summary>
public sealed class AuditLogBrokenException(string message) : OfflineSignerException(message);

/// <summary>
/// Appends hash-chained entries to one file, fsync'ed one by one. One writer at a time: it holds an exclusive
/// lock on a sibling <c>.lock</c> file, so a second writer fails at open, while readers (audit verify, the Audit
/// RPC) may open the log itself at any time. Thread-safe.
/// </summary>
public sealed class AuditLogWriter : IAuditLog, IDisposable
{
    private readonly FileStream stream;
    private readonly FileStream writerLock;
    private readonly TimeProvider clock;
    private readonly Lock gate = new();
    private long seq;
    private string prev;
    private bool disposed;
    private bool faulted;

    /// <summary>Opens (or creates) the log at <paramref name="path"/> and verifies its chain.</summary>
    /// <param name="path">The log file.</param>
    /// <param name="startNewSegment">On a broken chain, append a segment_started entry naming the damage instead of refusing.</param>
    /// <param name="clock">Time source (tests pass a fixed one).</param>
    /// <exception cref="IOException">Another writer holds the file.</exception>
    /// <exception cref="AuditLogBrokenException">The chain is broken and <paramref name="startNewSegment"/> is false.</exception>
    public AuditLogWriter(string path, bool startNewSegment = false, TimeProvider? clock = null)
    {
        this.clock = clock ?? TimeProvider.System;
        try
        {
            writerLock = new FileStream(path + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex)
        {
            throw new IOException($"audit log {path} is held by another writer or cannot be opened: {ex.Message}", ex);
        }

        try
        {
            stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        }
        catch (IOException ex)
        {
            writerLock.Dispose();
            throw new IOException($"audit log {path} cannot be opened: {ex.Message}", ex);
        }

        try
        {
            AuditLogVerification v = AuditLogVerifier.Verify(stream);
            if (v.TornTail)
            {
                // Only the last entry can be torn (each is fsync'ed before Append returns), and its Append never
                // returned, so no caller relied on it: dropping it loses nothing that was acknowledged.
                stream.SetLength(v.CompleteLength);
                stream.Flush(true);
            }

            stream.Seek(0, SeekOrigin.End);
            seq = v.HeadSequence;
            prev = v.HeadSha256;
            if (!v.Ok)
            {
                if (!startNewSegment)
                {
                    throw new AuditLogBrokenException(
                        $"audit log {path} is broken at line {v.FirstBadLine} (seq {v.FirstBadSequence}): {v.Reason}; "
                        + "start a new segment explicitly to continue");
                }

                seq = 0;
                prev = AuditLogFormat.GenesisPrev;
                Append(new AuditEvent(AuditEventKind.SegmentStarted)
                {
                    Detail = $"previous chain broken at line {v.FirstBadLine} (seq {v.FirstBadSequence}): {v.Reason}",
                });
            }
        }
        catch
        {
            stream.Dispose();
            writerLock.Dispose();
            throw;
        }
    }

    /// <summary>Sequence number of the last entry written.</summary>
    public long HeadSequence
    {
        get
        {
            lock (gate)
            {
                return seq;
            }
        }
    }

    /// <inheritdoc />
    public void Append(AuditEvent auditEvent)
    {
        ArgumentNullException.ThrowIfNull(auditEvent);
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            if (faulted)
            {
                throw new IOException("audit log writer failed an earlier write; reopen it (the torn entry is dropped on open)");
            }

            byte[] line = AuditLogFormat.Encode(seq + 1, clock.GetUtcNow(), prev, auditEvent);
            var buffer = new byte[line.Length + 1];
            line.CopyTo(buffer, 0);
            buffer[^1] = (byte)'\n';
            try
            {
                stream.Write(buffer);
                stream.Flush(true);
            }
            catch (IOException)
            {
                // A partial line may be on disk; appending after it would break the chain, so stop here.
                faulted = true;
                throw;
            }

            seq++;
            prev = AuditLogFormat.Hash(line);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (gate)
        {
            if (!disposed)
            {
                disposed = true;
                stream.Dispose();
                writerLock.Dispose();
            }
        }
    }
}
