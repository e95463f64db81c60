using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using OfflineSigner.Tuf;

namespace OfflineSigner.Bundles;

/// <summary>One event of a bundle's life: export, a signature, an import.</summary>
public sealed record TranscriptEntry(long Seq, DateTimeOffset Time, string Event, string Prev, IReadOnlyList<KeyValuePair<string, string>> Details);

/// <summary>
/// transcript.jsonl: what happened to the bundle, one JSON object per line, each naming the SHA-256 of the line before
/// it (64 zeros for the first), so that a removed, reordered or edited line is detected when the bundle is opened.
/// </summary>
public sealed class Transcript
{
    public static readonly string Genesis = new('0', 64);

    private readonly List<string> lines;

    private Transcript(List<string> lines, List<TranscriptEntry> entries)
    {
        this.lines = lines;
        Entries = entries;
    }

    public IReadOnlyList<TranscriptEntry> Entries { get; }

    public static Transcript Empty() => new([], []);

    public static Transcript Parse(ReadOnlySpan<byte> bytes, string path)
    {
        var text = Encoding.UTF8.GetString(bytes);
        if (text.Length > 0 && !text.EndsWith('\n'))
        {
            throw new BundleException($"{path}: the last line is incomplete (an interrupted write?)");
        }

        var lines = text.Length == 0 ? [] : text[..^1].Split('\n').ToList();
        var entries = new List<TranscriptEntry>();
        var prev = Genesis;
        foreach (var line in lines)
        {
            var n = entries.Count + 1;
            TranscriptEntry entry;
            try
            {
                using var doc = JsonDocument.Parse(line, new JsonDocumentOptions { MaxDepth = 4 });
                var e = doc.RootElement;
                var details = e.GetProperty("details").EnumerateObject().Select(p => new KeyValuePair<string, string>(p.Name, p.Value.GetString() ?? string.Empty)).ToList();
                if (!Rfc3339.TryParse(e.GetProperty("time").GetString() ?? string.Empty, out var time))
                {
                    throw new BundleException($"{path} line {n}: bad time");
                }

                entry = new TranscriptEntry(e.GetProperty("seq").GetInt64(), time, e.GetProperty("event").GetString()!, e.GetProperty("prev").GetString()!, details);
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                throw new BundleException($"{path} line {n}: not a transcript entry: {ex.Message}", ex);
            }

            if (entry.Seq != n || entry.Prev != prev)
            {
                throw new BundleException($"{path} line {n}: the hash chain is broken (entry {entry.Seq} names a previous entry that is not the line before it): the transcript was edited");
            }

            prev = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(line)));
            entries.Add(entry);
        }

        return new Transcript(lines, entries);
    }

    /// <summary>The transcript with one more entry, as file bytes.</summary>
    public byte[] Append(DateTimeOffset time, string @event, params (string Key, string Value)[] details)
    {
        var prev = lines.Count == 0 ? Genesis : Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(lines[^1])));
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteNumber("seq", lines.Count + 1);
            w.WriteString("time", Rfc3339.Format(time));
            w.WriteString("event", @event);
            w.WriteString("prev", prev);
            w.WriteStartObject("details");
            foreach (var (k, v) in details)
            {
                w.WriteString(k, v);
            }

            w.WriteEndObject();
            w.WriteEndObject();
        }

        var line = Encoding.UTF8.GetString(stream.ToArray());
        lines.Add(line);
        return Encoding.UTF8.GetBytes(string.Concat(lines.Select(l => l + "\n")));
    }
}
