// Implements docs/audit-log.md, "Writing".
namespace OfflineSigner.Audit;

/// <summary>The audit log's chain is broken and no new segment was asked for.</summary>
public sealed class AuditLogBrokenException(string message) : OfflineSignerException(message);

/// <summary>
/// Appends hash-chained entries to one file; every <see cref="Append"/> returns only once its own entry is on disk
/// (written and fsync'ed). Concurrent appenders share fsyncs (group commit, leader and followers): an appender queues
/// its entry, then takes the flush lock; if its entry was made durable meanwhile it returns, otherwise it becomes the
/// leader and writes every queued entry, in queue order, chained and numbered, in one write, then fsyncs once and
/// marks the whole batch durable. Entries that arrive while an fsync runs wait in memory (a file system may hold the
/// file's lock during fsync, so a write then would wait anyway) and go out together in the next batch, so N appenders
/// arriving together cost one write and one fsync, not N. The sequence numbers and the chain follow the queue order,
/// strictly. One writer at a time: it holds an exclusive lock on a sibling <c>.lock</c> file, so a second writer fails
/// at open, while readers (audit verify, the Audit RPC) may open the log itself at any time. Thread-safe.
/// </summary>
public sealed class AuditLogWriter : IAuditLog, IDisposable
{
    private readonly FileStream stream;
    private readonly FileStream writerLock;
    private readonly TimeProvider clock;
    // Guards the queue and the flags; followers wait on it (Monitor.Wait) for their batch.
    private readonly object gate = new();

    // Held by the leader while it writes: owns seq, prev and offset.
    private readonly Lock flushGate = new();
    private bool leading;
    private List<Pending> queue = [];
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

    /// <summary>Sequence number of the last entry written (entries are written and fsync'ed a batch at a time).</summary>
    public long HeadSequence => Interlocked.Read(ref seq);

    /// <summary>Sequence number of the last entry known to be on disk.</summary>
    public long DurableSequence => Interlocked.Read(ref durableSeq);

    /// <summary>An entry waiting for its batch: Error is set by the leader that wrote (or failed) it, Done under the queue lock after that.</summary>
    private sealed class Pending(AuditEvent auditEvent)
    {
        public AuditEvent Event { get; } = auditEvent;

        public bool Done { get; set; }

        public Exception? Error { get; set; }
    }

    /// <summary>How many fsyncs the writer has run for appended entries (for tests and benchmarks).</summary>
    public long Flushes => Interlocked.Read(ref flushes);

    /// <inheritdoc />
    public void Append(AuditEvent auditEvent)
    {
        ArgumentNullException.ThrowIfNull(auditEvent);
        AppendAll([auditEvent]);
    }

    /// <inheritdoc />
    public void AppendAll(IReadOnlyList<AuditEvent> auditEvents)
    {
        ArgumentNullException.ThrowIfNull(auditEvents);
        if (auditEvents.Count == 0)
        {
            return;
        }

        var mine = new List<Pending>(auditEvents.Count);
        foreach (var auditEvent in auditEvents)
        {
            ArgumentNullException.ThrowIfNull(auditEvent);
            mine.Add(new Pending(auditEvent));
        }

        // Queued together under the queue lock, the entries are taken by one batch: adjacent, and durable together.
        var first = mine[0];
        lock (gate)
        {
            ThrowIfUnusable();
            queue.AddRange(mine);

            // Followers wait for the batch in progress; every batch's end wakes them all at once.
            while (!first.Done && leading)
            {
                Monitor.Wait(gate);
            }

            if (!first.Done)
            {
                leading = true;
            }
        }

        if (!first.Done)
        {
            // No batch took these entries yet: lead one with everything queued so far (these entries included).
            List<Pending> taken = [];
            try
            {
                lock (flushGate)
                {
                    taken = WriteBatch();
                }
            }
            finally
            {
                lock (gate)
                {
                    foreach (var pending in taken)
                    {
                        pending.Done = true;
                    }

                    leading = false;
                    Monitor.PulseAll(gate);
                }
            }
        }

        if (mine.Find(p => p.Error is not null)?.Error is { } error)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        }
    }

    /// <summary>
    /// Writes and fsyncs every queued entry and returns them, each with its <see cref="Pending.Error"/> if it failed
    /// (the caller marks them done). Under the flush lock, which also owns seq, prev and offset.
    /// </summary>
    private List<Pending> WriteBatch()
    {
        List<Pending> taken;
        lock (gate)
        {
            taken = queue;
            queue = [];
            if (faulted || disposed)
            {
                Fail(taken, disposed
                    ? new ObjectDisposedException(nameof(AuditLogWriter), "the audit log writer was closed before the entry was written")
                    : new IOException("audit log writer failed an earlier write; reopen it (the torn entry is dropped on open)"));
                return taken;
            }
        }

        var batch = taken;

        var next = seq;
        var chain = prev;
        var written = new List<Pending>(batch.Count);
        using var buffer = new MemoryStream();
        foreach (var pending in batch)
        {
            byte[] line;
            try
            {
                line = AuditLogFormat.Encode(next + 1, clock.GetUtcNow(), chain, pending.Event);
            }
            catch (ArgumentException e)
            {
                // An entry that cannot be encoded fails alone, and takes no place in the chain.
                pending.Error = e;
                continue;
            }

            buffer.Write(line);
            buffer.WriteByte((byte)'\n');
            next++;
            chain = AuditLogFormat.Hash(line);
            written.Add(pending);
        }

        if (written.Count == 0)
        {
            return taken;
        }

        batch = written;
        try
        {
            RandomAccess.Write(stream.SafeFileHandle, buffer.GetBuffer().AsSpan(0, (int)buffer.Length), offset);
            stream.Flush(flushToDisk: true);
        }
        catch (IOException e)
        {
            // A partial batch may be on disk; appending after it would break the chain, so stop here.
            lock (gate)
            {
                faulted = true;
            }

            Fail(batch, e);
            return taken;
        }

        offset += buffer.Length;
        Interlocked.Exchange(ref seq, next);
        prev = chain;
        Interlocked.Increment(ref flushes);
        Interlocked.Exchange(ref durableSeq, next);
        return taken;
    }

    private static void Fail(List<Pending> batch, Exception error)
    {
        foreach (var pending in batch)
        {
            pending.Error = error;
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
                    // Every entry written so far is durable (a batch is fsync'ed before the flush lock is let go);
                    // appenders still queued get ObjectDisposedException.
                    disposed = true;
                    stream.Dispose();
                    writerLock.Dispose();
                }
            }
        }
    }
}
