using System.Buffers;
using System.Diagnostics;
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
    // Strings up to this length are checked and copied char by char; longer ones go through the vectorized paths.
    private const int ShortString = 24;

    /// <summary>Orders strings by Unicode code point (the order of their UTF-8 bytes), not by UTF-16 code unit.</summary>
    public static IComparer<string> KeyComparer { get; } = new CodePointComparer();

    /// <summary>The canonical bytes of a value.</summary>
    public static byte[] Serialize(JsonNode value)
    {
        ArgumentNullException.ThrowIfNull(value);

        // Two passes: the exact size first, then the bytes straight into an array of that size. This costs a walk
        // of the tree but no buffer growth or final copy, which for large metadata is most of the memory and time.
        var bytes = GC.AllocateUninitializedArray<byte>(checked((int)SizeOf(value)));
        var written = WriteValue(value, bytes, 0);
        Debug.Assert(written == bytes.Length, "size pass and write pass disagree");
        return bytes;
    }

    /// <summary>Writes the canonical bytes of a value to <paramref name="output"/>.</summary>
    public static void Write(JsonNode value, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(output);
        var size = checked((int)SizeOf(value));
        var written = WriteValue(value, output.GetSpan(size), 0);
        Debug.Assert(written == size, "size pass and write pass disagree");
        output.Advance(size);
    }

    /// <summary>Parser options that also read canonical bytes back (raw control characters allowed).</summary>
    public static JsonParseOptions ReadBackOptions { get; } = new() { AllowControlCharactersInStrings = true };

    /// <summary>Parses a document strictly and returns its canonical bytes.</summary>
    public static byte[] Canonicalize(ReadOnlySpan<byte> utf8Json, JsonParseOptions? options = null) =>
        Serialize(JsonParser.Parse(utf8Json, options));

    private static long SizeOf(JsonNode value)
    {
        switch (value)
        {
            case JsonString str:
                return SizeOfString(str.Value);
            case JsonObject obj:
                var props = obj.PropertySpan;
                long objectSize = props.Length <= 1 ? 2 : props.Length + 1; // braces and commas
                foreach (var p in props)
                {
                    objectSize += SizeOfString(p.Key) + 1 + SizeOf(p.Value);
                }

                return objectSize;
            case JsonInteger integer:
                return integer.FitsInt64 ? DigitCount(integer.Int64Value) : integer.Value.ToString(CultureInfo.InvariantCulture).Length;
            case JsonArray arr:
                var items = arr.ItemSpan;
                long arraySize = items.Length <= 1 ? 2 : items.Length + 1; // brackets and commas
                foreach (var item in items)
                {
                    arraySize += SizeOf(item);
                }

                return arraySize;
            case JsonBoolean b:
                return b.Value ? 4 : 5;
            case JsonNull:
                return 4;
            default:
                throw new ArgumentException("unknown JSON node type " + value.GetType().Name, nameof(value));
        }
    }

    private static long SizeOfString(string s)
    {
        if (s.Length <= ShortString && IsPlainAscii(s))
        {
            return s.Length + 2;
        }

        // Quotes, the UTF-8 bytes (lone surrogates count as the 3-byte replacement character, as written), and one
        // backslash before every '"' and '\'.
        long size = 2 + Encoding.UTF8.GetByteCount(s);
        var rest = s.AsSpan();
        int i;
        while ((i = rest.IndexOfAny('"', '\\')) >= 0)
        {
            size++;
            rest = rest[(i + 1)..];
        }

        return size;
    }

    /// <summary>Whether every character is ASCII other than '"' and '\\', so it is written as one byte each, unescaped.</summary>
    private static bool IsPlainAscii(string s)
    {
        foreach (var c in s)
        {
            if (c >= 0x80 || c == '"' || c == '\\')
            {
                return false;
            }
        }

        return true;
    }

    private static int DigitCount(long v)
    {
        var sign = v < 0 ? 1 : 0;
        var magnitude = v < 0 ? (ulong)-(v + 1) + 1 : (ulong)v;
        var digits = 1;
        while (magnitude >= 10)
        {
            magnitude /= 10;
            digits++;
        }

        return sign + digits;
    }

    private static int WriteValue(JsonNode value, Span<byte> dest, int pos)
    {
        switch (value)
        {
            case JsonString str:
                return WriteString(str.Value, dest, pos);
            case JsonObject obj:
                return WriteObject(obj, dest, pos);
            case JsonInteger integer:
                return WriteInteger(integer, dest, pos);
            case JsonArray arr:
                dest[pos++] = (byte)'[';
                var items = arr.ItemSpan;
                for (var i = 0; i < items.Length; i++)
                {
                    if (i > 0)
                    {
                        dest[pos++] = (byte)',';
                    }

                    pos = WriteValue(items[i], dest, pos);
                }

                dest[pos++] = (byte)']';
                return pos;
            case JsonBoolean b:
                return WriteAscii(b.Value ? "true"u8 : "false"u8, dest, pos);
            case JsonNull:
                return WriteAscii("null"u8, dest, pos);
            default:
                throw new ArgumentException("unknown JSON node type " + value.GetType().Name, nameof(value));
        }
    }

    private static int WriteObject(JsonObject obj, Span<byte> dest, int pos)
    {
        var props = obj.PropertySpan;

        // Documents are usually written with sorted keys already; checking costs one comparison per key and no
        // allocation, so only objects out of order are sorted (in a pooled copy).
        var sorted = true;
        for (var i = 1; i < props.Length; i++)
        {
            if (CompareCodePoints(props[i - 1].Key, props[i].Key) > 0)
            {
                sorted = false;
                break;
            }
        }

        if (sorted)
        {
            return WriteMembers(props, dest, pos);
        }

        var copy = ArrayPool<KeyValuePair<string, JsonNode>>.Shared.Rent(props.Length);
        try
        {
            props.CopyTo(copy);
            Array.Sort(copy, 0, props.Length, MemberComparer.Instance);
            return WriteMembers(copy.AsSpan(0, props.Length), dest, pos);
        }
        finally
        {
            ArrayPool<KeyValuePair<string, JsonNode>>.Shared.Return(copy, clearArray: true);
        }
    }

    private static int WriteMembers(ReadOnlySpan<KeyValuePair<string, JsonNode>> members, Span<byte> dest, int pos)
    {
        dest[pos++] = (byte)'{';
        for (var i = 0; i < members.Length; i++)
        {
            if (i > 0)
            {
                dest[pos++] = (byte)',';
            }

            pos = WriteString(members[i].Key, dest, pos);
            dest[pos++] = (byte)':';
            pos = WriteValue(members[i].Value, dest, pos);
        }

        dest[pos++] = (byte)'}';
        return pos;
    }

    private static int WriteString(string s, Span<byte> dest, int pos)
    {
        if (s.Length <= ShortString && IsPlainAscii(s))
        {
            // Most strings in metadata are short ASCII (keys, hash prefixes, names): a plain copy, no vector setup.
            var to = dest.Slice(pos, s.Length + 2);
            to[0] = (byte)'"';
            for (var k = 0; k < s.Length; k++)
            {
                to[k + 1] = (byte)s[k];
            }

            to[^1] = (byte)'"';
            return pos + to.Length;
        }

        dest[pos++] = (byte)'"';
        var rest = s.AsSpan();
        int i;
        while ((i = rest.IndexOfAny('"', '\\')) >= 0)
        {
            // Both escaped characters are ASCII, so a chunk never ends inside a surrogate pair.
            pos += Encoding.UTF8.GetBytes(rest[..i], dest[pos..]);
            dest[pos++] = (byte)'\\';
            dest[pos++] = (byte)rest[i];
            rest = rest[(i + 1)..];
        }

        pos += Encoding.UTF8.GetBytes(rest, dest[pos..]);
        dest[pos++] = (byte)'"';
        return pos;
    }

    private static int WriteInteger(JsonInteger integer, Span<byte> dest, int pos)
    {
        if (integer.FitsInt64)
        {
            integer.Int64Value.TryFormat(dest[pos..], out var n, default, CultureInfo.InvariantCulture);
            return pos + n;
        }

        return pos + Encoding.ASCII.GetBytes(integer.Value.ToString(CultureInfo.InvariantCulture), dest[pos..]);
    }

    private static int WriteAscii(ReadOnlySpan<byte> bytes, Span<byte> dest, int pos)
    {
        bytes.CopyTo(dest[pos..]);
        return pos + bytes.Length;
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

        var i = a.AsSpan().CommonPrefixLength(b);
        if (i == a.Length || i == b.Length)
        {
            return a.Length - b.Length;
        }

        int x = a[i], y = b[i];

        // UTF-16 code unit order equals code point order except that surrogates (D800-DFFF)
        // must sort above E000-FFFF; move them up before comparing.
        if (x >= 0xD800 && y >= 0xD800)
        {
            x = Fixup(x);
            y = Fixup(y);
        }

        return x - y;

        static int Fixup(int c) => c >= 0xE000 ? c - 0x800 : c + 0x2000;
    }

    private sealed class CodePointComparer : IComparer<string>
    {
        public int Compare(string? x, string? y) => CompareCodePoints(x, y);
    }

    private sealed class MemberComparer : IComparer<KeyValuePair<string, JsonNode>>
    {
        public static readonly MemberComparer Instance = new();

        public int Compare(KeyValuePair<string, JsonNode> x, KeyValuePair<string, JsonNode> y) => CompareCodePoints(x.Key, y.Key);
    }
}
