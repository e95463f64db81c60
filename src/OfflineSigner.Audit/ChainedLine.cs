// Implements docs/audit-log.md, "Format": the hash-chained canonical JSON line shared by the audit log and the
// ceremony transcript (docs/ceremony.md), so that one verifier proves both chains.
using System.Globalization;
using System.Security.Cryptography;
using OfflineSigner.Tuf.Json;

namespace OfflineSigner.Audit;

/// <summary>
/// One entry of a hash chain: a canonical JSON object with <c>seq</c>, <c>time</c>, <c>prev</c> (the SHA-256 of the
/// previous line's bytes) and <c>event</c>, plus the entry's own fields. <see cref="AuditLogVerifier"/> checks a chain
/// of such lines whatever their other fields.
/// </summary>
public static class ChainedLine
{
    /// <summary>The <c>prev</c> of the first entry of a chain: 64 zeros.</summary>
    public const string GenesisPrev = "0000000000000000000000000000000000000000000000000000000000000000";

    /// <summary>The names every line carries; an entry's own fields may not use them.</summary>
    public static IReadOnlyList<string> ChainFields { get; } = ["seq", "time", "prev", "event"];

    /// <summary>The time as lines carry it: UTC, <c>yyyy-MM-ddTHH:mm:ss.fffZ</c>.</summary>
    public static string FormatTime(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>The canonical bytes of one line, without its newline.</summary>
    /// <exception cref="ArgumentException"><paramref name="fields"/> uses one of <see cref="ChainFields"/>.</exception>
    public static byte[] Encode(long seq, DateTimeOffset time, string prev, string eventName, JsonObject? fields)
    {
        ArgumentNullException.ThrowIfNull(prev);
        ArgumentNullException.ThrowIfNull(eventName);
        var o = new JsonObject
        {
            { "seq", seq },
            { "time", FormatTime(time) },
            { "prev", prev },
            { "event", eventName },
        };
        if (fields is not null)
        {
            foreach (var (key, value) in fields)
            {
                if (ChainFields.Contains(key))
                {
                    throw new ArgumentException($"field \"{key}\" belongs to the chain itself", nameof(fields));
                }

                o.Add(key, value);
            }
        }

        return CanonicalJson.Serialize(o);
    }

    /// <summary>Lowercase hex SHA-256 of a line's bytes (without its newline): the next line's <c>prev</c>.</summary>
    public static string Hash(ReadOnlySpan<byte> line) => Convert.ToHexStringLower(SHA256.HashData(line));
}
