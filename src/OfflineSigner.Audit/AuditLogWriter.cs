// Implements docs/audit-log.md, "Writing".
namespace OfflineSigner.Audit;

/// <summary>The audit log's chain is broken and no new segment was asked for.</summary>
public sealed class AuditLogBrokenException(string message) : OfflineSignerException(message);

/// <summary>
/// Appends hash-chained entries to one file; every <see cref="Append"/> returns only once its own entry is on disk
/// (fsync'ed). Concurrent appenders share fsyncs (group commit): each writes its line in chain order under one lock,
/// then waits for a flush that covers it; whoever finds no flush covering its entry runs one for every line written so
/// far, so N appenders arriving together cost one fsync, not N. The chain and the sequence numbers follow the order of
/// the writes, which is strictly serial. One writer at a time: it holds an exclusive lock on a sibling <c>.lock</c>
/// file, so a second writer fails at open, while readers (audit verify, the Audit RPC) may open the log itself at any
/// time. Thread-safe.
/// </summary>
public sealed class AuditLogWriter : IAuditLog, IDisposable
{
    private readonly FileStream stream;
    private readonly FileStream writerLock;
    private readonly TimeProvider clock;
    private readonly Lock gate = new();
    private readonly Lock flushGate = new();
    private long seq;
    private long offset;
    private long durableSeq;
    private long flushes;
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
            // Unbuffered: every line goes to the kernel in one write(2) at its own offset, and a flush is only fsync.
            stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, bufferSize: 0);
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

            offset = stream.Seek(0, SeekOrigin.End);
            seq = v.HeadSequence;
            durableSeq = seq;
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

    /// <summary>Sequence number of the last entry known to be on disk.</summary>
    public long DurableSequence => Interlocked.Read(ref durableSeq);

    /// <summary>How many fsyncs the writer has run for appended entries (for tests and benchmarks).</summary>
    public long Flushes => Interlocked.Read(ref flushes);

    /// <inheritdoc />
    public void Append(AuditEvent auditEvent)
    {
        ArgumentNullException.ThrowIfNull(auditEvent);
        long ticket;
        lock (gate)
        {
            ThrowIfUnusable();
            byte[] line = AuditLogFormat.Encode(seq + 1, clock.GetUtcNow(), prev, auditEvent);
            var buffer = new byte[line.Length + 1];
            line.CopyTo(buffer, 0);
            buffer[^1] = (byte)'\n';
            try
            {
                RandomAccess.Write(stream.SafeFileHandle, buffer, offset);
            }
            catch (IOException)
            {
                // A partial line may be on disk; appending after it would break the chain, so stop here.
                faulted = true;
                throw;
            }

            offset += buffer.Length;
            seq++;
            prev = AuditLogFormat.Hash(line);
            ticket = seq;
        }

        WaitDurable(ticket);
    }

    /// <summary>Returns once entry <paramref name="ticket"/> is on disk, running the fsync itself if no other did.</summary>
    private void WaitDurable(long ticket)
    {
        lock (flushGate)
        {
            if (Interlocked.Read(ref durableSeq) >= ticket)
            {
                // An appender that flushed while this one waited covered its line too.
                return;
            }

            long covered;
            lock (gate)
            {
                ThrowIfUnusable();
                covered = seq;
            }

            try
            {
                // fsync covers every line written to the file before it starts: all entries up to `covered`.
                stream.Flush(flushToDisk: true);
            }
            catch (IOException)
            {
                lock (gate)
                {
                    faulted = true;
                }

                throw;
            }

            Interlocked.Increment(ref flushes);
            Interlocked.Exchange(ref durableSeq, covered);
        }
    }

    private void ThrowIfUnusable()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (faulted)
        {
            throw new IOException("audit log writer failed an earlier write; reopen it (the torn entry is dropped on open)");
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (flushGate)
        {
            lock (gate)
            {
                if (!disposed)
                {
                    disposed = true;
                    if (!faulted && durableSeq < seq)
                    {
                        // An appender that has not seen its flush yet gets ObjectDisposedException; its entry is still
                        // made durable here, best effort.
                        try
                        {
                            stream.Flush(flushToDisk: true);
                        }
                        catch (IOException)
                        {
                            // Nothing to report to: the appender whose entry this was sees the writer disposed.
                        }
                    }

                    stream.Dispose();
                    writerLock.Dispose();
                }
            }
        }
    }
}
