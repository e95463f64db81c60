// Writes the ceremony transcript, docs/ceremony.md "The transcript": the audit log's hash-chained line format
// (docs/audit-log.md, ChainedLine) with the ceremony's own events.
using OfflineSigner.Audit;
using OfflineSigner.Tuf.Json;

namespace OfflineSigner.Ceremony.Transcripts;

/// <summary>
/// Appends hash-chained canonical JSON lines to a new transcript file (or a stream), flushed to disk one by one,
/// and keeps a copy of the bytes so the ceremony can seal and export them.
/// </summary>
public sealed class TranscriptWriter : IDisposable
{
    private readonly Stream stream;
    private readonly bool ownsStream;
    private readonly TimeProvider clock;
    private readonly MemoryStream copy = new();
    private bool disposed;

    /// <summary>Writes to <paramref name="stream"/> (not disposed by the writer).</summary>
    public TranscriptWriter(Stream stream, TimeProvider? clock = null)
        : this(stream, false, clock)
    {
    }

    private TranscriptWriter(Stream stream, bool ownsStream, TimeProvider? clock)
    {
        this.stream = stream ?? throw new ArgumentNullException(nameof(stream));
        this.ownsStream = ownsStream;
        this.clock = clock ?? TimeProvider.System;
    }

    /// <summary>The sequence number of the last line written (0 before the first).</summary>
    public long HeadSequence { get; private set; }

    /// <summary>The SHA-256 of the last line written (64 zeros before the first).</summary>
    public string HeadSha256 { get; private set; } = ChainedLine.GenesisPrev;

    /// <summary>The clock the lines are stamped with.</summary>
    public TimeProvider Clock => clock;

    /// <summary>Creates a new transcript file; refuses to overwrite one (a transcript is never rewritten).</summary>
    public static TranscriptWriter Create(string path, TimeProvider? clock = null)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.Read };
        return new TranscriptWriter(new FileStream(path, options), true, clock);
    }

    /// <summary>Every byte written so far.</summary>
    public byte[] ToArray() => copy.ToArray();

    /// <summary>Appends one entry and flushes it before returning; returns its sequence number.</summary>
    /// <param name="eventName">The entry's event.</param>
    /// <param name="fields">The entry's own fields.</param>
    /// <param name="time">The entry's time, when the caller fixed it beforehand (a seal signs it); default: the clock's now.</param>
    public long Append(string eventName, JsonObject fields, DateTimeOffset? time = null)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var line = ChainedLine.Encode(HeadSequence + 1, time ?? clock.GetUtcNow(), HeadSha256, eventName, fields);
        if (line.AsSpan().IndexOf((byte)'\n') >= 0)
        {
            // Canonical JSON writes control characters raw; a line break would split the entry in two.
            throw new ArgumentException($"a field of the {eventName} entry contains a line break", nameof(fields));
        }

        var buffer = new byte[line.Length + 1];
        line.CopyTo(buffer, 0);
        buffer[^1] = (byte)'\n';
        stream.Write(buffer);
        if (stream is FileStream file)
        {
            file.Flush(true);
        }
        else
        {
            stream.Flush();
        }

        copy.Write(buffer);
        HeadSequence++;
        HeadSha256 = ChainedLine.Hash(line);
        return HeadSequence;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (!disposed)
        {
            disposed = true;
            copy.Dispose();
            if (ownsStream)
            {
                stream.Dispose();
            }
        }
    }
}
