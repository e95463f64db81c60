// Implements docs/audit-log.md, "Verification".
using System.Globalization;
using OfflineSigner.Tuf.Json;

namespace OfflineSigner.Audit;

/// <summary>The outcome of verifying an audit log's hash chain.</summary>
public sealed record AuditLogVerification
{
    /// <summary>True when every entry of the current segment is intact (a torn tail does not break the chain).</summary>
    public required bool Ok { get; init; }

    /// <summary>Complete entries read (torn tail excluded).</summary>
    public required long Entries { get; init; }

    /// <summary>Lowercase hex SHA-256 of the last complete line: the next entry's prev.</summary>
    public required string HeadSha256 { get; init; }

    /// <summary>Sequence number of the last good entry of the current segment (0 if none).</summary>
    public required long HeadSequence { get; init; }

    /// <summary>The sequence number expected where the chain first broke (null when Ok).</summary>
    public long? FirstBadSequence { get; init; }

    /// <summary>1-based line number where the chain first broke (null when Ok).</summary>
    public long? FirstBadLine { get; init; }

    /// <summary>Why the chain is broken (null when Ok).</summary>
    public string? Reason { get; init; }

    /// <summary>True when the file ends with a partial line (a write interrupted by a crash).</summary>
    public bool TornTail { get; init; }

    /// <summary>Byte length of the complete lines: where a writer truncates a torn tail.</summary>
    public long CompleteLength { get; init; }

    /// <summary>Damage in earlier segments, closed by a later segment_started entry (kept for the record).</summary>
    public IReadOnlyList<string> EarlierSegmentDamage { get; init; } = [];
}

/// <summary>Checks an audit log: strict canonical JSON lines, consecutive seq, prev chained by SHA-256.</summary>
public static class AuditLogVerifier
{
    /// <summary>Verifies the file at <paramref name="path"/>.</summary>
    public static AuditLogVerification Verify(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        return Verify(stream);
    }

    /// <summary>Verifies a whole log read from <paramref name="stream"/> from its current position.</summary>
    public static AuditLogVerification Verify(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var ms = new MemoryStream();
        stream.CopyTo(ms);
        return Verify(ms.ToArray());
    }

    /// <summary>Verifies a whole log held in memory.</summary>
    public static AuditLogVerification Verify(ReadOnlySpan<byte> log)
    {
        long entries = 0;
        long lineNo = 0;
        long expectedSeq = 1;
        string expectedPrev = AuditLogFormat.GenesisPrev;
        string head = AuditLogFormat.GenesisPrev;
        long headSeq = 0;
        string? reason = null;
        long? badSeq = null;
        long? badLine = null;
        var earlier = new List<string>();
        int offset = 0;
        while (offset < log.Length)
        {
            int nl = log[offset..].IndexOf((byte)'\n');
            if (nl < 0)
            {
                break; // torn tail: reported below, never part of the chain
            }

            ReadOnlySpan<byte> line = log.Slice(offset, nl);
            offset += nl + 1;
            lineNo++;
            entries++;
            string hash = AuditLogFormat.Hash(line);
            string? problem = Check(line, expectedSeq, expectedPrev, out bool isSegmentStart);
            if (isSegmentStart)
            {
                if (reason is not null)
                {
                    earlier.Add(string.Create(CultureInfo.InvariantCulture, $"line {badLine}: {reason}"));
                }

                reason = null;
                badSeq = null;
                badLine = null;
                problem = null;
            }

            if (reason is null)
            {
                if (problem is null)
                {
                    headSeq = isSegmentStart ? 1 : expectedSeq;
                    expectedSeq = headSeq + 1;
                    expectedPrev = hash;
                }
                else
                {
                    reason = problem;
                    badSeq = expectedSeq;
                    badLine = lineNo;
                }
            }

            head = hash;
        }

        return new AuditLogVerification
        {
            Ok = reason is null,
            Entries = entries,
            HeadSha256 = head,
            HeadSequence = headSeq,
            FirstBadSequence = badSeq,
            FirstBadLine = badLine,
            Reason = reason,
            TornTail = offset < log.Length,
            CompleteLength = offset,
            EarlierSegmentDamage = earlier,
        };
    }

    // Returns null when the line is the expected next entry; isSegmentStart is set for a well-formed
    // segment_started entry that opens a new chain (seq 1, prev all zeros).
    private static string? Check(ReadOnlySpan<byte> line, long expectedSeq, string expectedPrev, out bool isSegmentStart)
    {
        isSegmentStart = false;
        JsonNode node;
        try
        {
            node = JsonParser.Parse(line);
        }
        catch (JsonFormatException ex)
        {
            return "not valid JSON: " + ex.Message;
        }

        if (node is not JsonObject o)
        {
            return "not a JSON object";
        }

        if (!line.SequenceEqual(CanonicalJson.Serialize(o)))
        {
            return "not in canonical form";
        }

        if (!o.TryGetValue("seq", out var seqNode) || seqNode is not JsonInteger { FitsInt64: true } seqInt)
        {
            return "missing or invalid seq";
        }

        if (!o.TryGetValue("prev", out var prevNode) || prevNode is not JsonString prev)
        {
            return "missing or invalid prev";
        }

        if (!o.TryGetValue("event", out var evNode) || evNode is not JsonString ev)
        {
            return "missing or invalid event";
        }

        if (!o.TryGetValue("time", out var timeNode) || timeNode is not JsonString)
        {
            return "missing or invalid time";
        }

        if (ev.Value == AuditLogFormat.EventName(AuditEventKind.SegmentStarted)
            && seqInt.Int64Value == 1 && prev.Value == AuditLogFormat.GenesisPrev && expectedSeq != 1)
        {
            isSegmentStart = true;
            return null;
        }

        if (seqInt.Int64Value != expectedSeq)
        {
            return string.Create(CultureInfo.InvariantCulture, $"seq {seqInt.Int64Value} where {expectedSeq} was expected");
        }

        if (prev.Value != expectedPrev)
        {
            return string.Create(CultureInfo.InvariantCulture, $"prev of seq {expectedSeq} does not match the previous line's SHA-256");
        }

        return null;
    }
}
