using System.Buffers;
using System.Globalization;
using System.Text;

namespace OfflineSigner.Tuf.Json;

/// <summary>
/// The canonical JSON encoding TUF signs (OLPC canonical JSON as securesystemslib's <c>encode_canonical</c> writes it):
/// object keys sorted by Unicode code point, no whitespace, only <c>"</c> and <c>\</c> escaped in strings,
/// every other character (control characters and non-ASCII included) written as raw UTF-8, integers only.
/// </summary>
public static class CanonicalJson
{
    /// <summary>Orders strings by Unicode code point (the order of their UTF-8 bytes), not by UTF-16 code unit.</summary>
    public static IComparer<string> KeyComparer { get; } = new CodePointComparer();

    /// <summary>The canonical bytes of a value.</summary>
    public static byte[] Serialize(JsonNode value)
    {
        var writer = new ArrayBufferWriter<byte>(256);
        Write(value, writer);
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>Writes the canonical bytes of a value to <paramref name="output"/>.</summary>
    public static void Write(JsonNode value, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(output);
        WriteValue(value, output);
    }

    /// <summary>Parser options that also read canonical bytes back (raw control characters allowed).</summary>
    public static JsonParseOptions ReadBackOptions { get; } = new() { AllowControlCharactersInStrings = true };

    /// <summary>Parses a document strictly and returns its canonical bytes.</summary>
    public static byte[] Canonicalize(ReadOnlySpan<byte> utf8Json, JsonParseOptions? options = null) =>
        Serialize(JsonParser.Parse(utf8Json, options));

    private static void WriteValue(JsonNode value, IBufferWriter<byte> output)
    {
        switch (value)
        {
            case JsonObject obj:
                WriteObject(obj, output);
                break;
            case JsonArray arr:
                WriteByte(output, (byte)'[');
                for (var i = 0; i < arr.Count; i++)
                {
                    if (i > 0)
                    {
                        WriteByte(output, (byte)',');
                    }

                    WriteValue(arr[i], output);
                }

                WriteByte(output, (byte)']');
                break;
            case JsonString str:
                WriteString(str.Value, output);
                break;
            case JsonInteger integer:
                WriteInteger(integer, output);
                break;
            case JsonBoolean b:
                WriteAscii(output, b.Value ? "true"u8 : "false"u8);
                break;
            case JsonNull:
                WriteAscii(output, "null"u8);
                break;
            default:
                throw new ArgumentException("unknown JSON node type " + value.GetType().Name, nameof(value));
        }
    }

    private static void WriteObject(JsonObject obj, IBufferWriter<byte> output)
    {
        WriteByte(output, (byte)'{');
        var props = obj.Properties;
        if (props.Count == 1)
        {
            WriteString(props[0].Key, output);
            WriteByte(output, (byte)':');
            WriteValue(props[0].Value, output);
        }
        else if (props.Count > 1)
        {
            var sorted = new KeyValuePair<string, JsonNode>[props.Count];
            for (var i = 0; i < sorted.Length; i++)
            {
                sorted[i] = props[i];
            }

            Array.Sort(sorted, static (a, b) => CompareCodePoints(a.Key, b.Key));
            for (var i = 0; i < sorted.Length; i++)
            {
                if (i > 0)
                {
                    WriteByte(output, (byte)',');
                }

                WriteString(sorted[i].Key, output);
                WriteByte(output, (byte)':');
                WriteValue(sorted[i].Value, output);
            }
        }

        WriteByte(output, (byte)'}');
    }

    private static void WriteString(string s, IBufferWriter<byte> output)
    {
        var max = Encoding.UTF8.GetMaxByteCount(s.Length);
        var escapes = 0;
        foreach (var c in s)
        {
            if (c is '"' or '\\')
            {
                escapes++;
            }
        }

        var span = output.GetSpan(max + escapes + 2);
        span[0] = (byte)'"';
        int written;
        if (escapes == 0)
        {
            written = 1 + Encoding.UTF8.GetBytes(s, span[1..]);
        }
        else
        {
            written = 1;
            var from = 0;
            for (var i = 0; i < s.Length; i++)
            {
                if (s[i] is '"' or '\\')
                {
                    written += Encoding.UTF8.GetBytes(s.AsSpan(from, i - from), span[written..]);
                    span[written++] = (byte)'\\';
                    span[written++] = (byte)s[i];
                    from = i + 1;
                }
            }

            written += Encoding.UTF8.GetBytes(s.AsSpan(from), span[written..]);
        }

        span[written++] = (byte)'"';
        output.Advance(written);
    }

    private static void WriteInteger(JsonInteger integer, IBufferWriter<byte> output)
    {
        if (integer.FitsInt64)
        {
            var span = output.GetSpan(24);
            integer.Int64Value.TryFormat(span, out var n, default, CultureInfo.InvariantCulture);
            output.Advance(n);
        }
        else
        {
            WriteAscii(output, Encoding.ASCII.GetBytes(integer.Value.ToString(CultureInfo.InvariantCulture)));
        }
    }

    private static void WriteByte(IBufferWriter<byte> output, byte b)
    {
        output.GetSpan(1)[0] = b;
        output.Advance(1);
    }

    private static void WriteAscii(IBufferWriter<byte> output, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(output.GetSpan(bytes.Length));
        output.Advance(bytes.Length);
    }

    /// <summary>Compares two strings by Unicode code point.</summary>
    public static int CompareCodePoints(string? a, string? b)
    {
        if (ReferenceEquals(a, b))
        {
            return 0;
        }

        if (a is null)
        {
            return -1;
        }

        if (b is null)
        {
            return 1;
        }

        var n = Math.Min(a.Length, b.Length);
        for (var i = 0; i < n; i++)
        {
            int x = a[i], y = b[i];
            if (x != y)
            {
                // UTF-16 code unit order equals code point order except that surrogates (D800-DFFF)
                // must sort above E000-FFFF; move them up before comparing.
                if (x >= 0xD800 && y >= 0xD800)
                {
                    x = Fixup(x);
                    y = Fixup(y);
                }

                return x - y;
            }
        }

        return a.Length - b.Length;

        static int Fixup(int c) => c >= 0xE000 ? c - 0x800 : c + 0x2000;
    }

    private sealed class CodePointComparer : IComparer<string>
    {
        public int Compare(string? x, string? y) => CompareCodePoints(x, y);
    }
}
