using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Text;

namespace OfflineSigner.Tuf.Json;

/// <summary>
/// A strict JSON parser for canonical-JSON documents (RFC 8259 grammar): it rejects floating point numbers,
/// duplicate object keys, invalid UTF-8, lone surrogates, NaN/Infinity, a byte order mark and trailing data,
/// and names the place of every fault.
/// </summary>
public sealed class JsonParser
{
    // Property names longer than this are rarely repeated (target paths, key ids), so they are not interned.
    private const int MaxInternedKeyBytes = 32;
    private const int MaxInternedKeys = 4096;

    // Objects up to this many members are checked for duplicate keys by a linear scan (as JsonObject does).
    private const int LinearScanMembers = 8;

    private readonly JsonParseOptions options;

    // The location of the value being parsed, for error messages: a key, or an array index when Key is null.
    private readonly List<(string? Key, int Index)> path = [];

    // Members and items of the objects and arrays being parsed, stacked across nesting levels, so that every
    // object and array is created once at its exact size.
    private readonly List<KeyValuePair<string, JsonNode>> memberStack = [];
    private readonly List<JsonNode> itemStack = [];

    // Property names repeat in every entry of a large role ("length", "hashes", "sha256", "keyids"...): one string each.
    private readonly Dictionary<string, string> keys = new(StringComparer.Ordinal);
    private int depth;

    private JsonParser(JsonParseOptions options) => this.options = options;

    /// <summary>Parses a UTF-8 document.</summary>
    /// <exception cref="JsonFormatException">the document is not acceptable; the message says where and why.</exception>
    public static JsonNode Parse(ReadOnlySpan<byte> utf8, JsonParseOptions? options = null)
    {
        var parser = new JsonParser(options ?? JsonParseOptions.Default);
        return parser.ParseDocument(utf8);
    }

    /// <summary>Parses a document given as text.</summary>
    public static JsonNode Parse(string text, JsonParseOptions? options = null) =>
        Parse(Encoding.UTF8.GetBytes(text), options);

    private JsonNode ParseDocument(ReadOnlySpan<byte> s)
    {
        if (s.Length > options.MaxDocumentBytes)
        {
            throw Fail($"document is {s.Length} bytes, more than the limit of {options.MaxDocumentBytes}", 0);
        }

        if (s.Length >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF)
        {
            throw Fail("a UTF-8 byte order mark is not allowed", 0);
        }

        var pos = 0;
        SkipWhitespace(s, ref pos);
        if (pos >= s.Length)
        {
            throw Fail("empty document", pos);
        }

        var value = ParseValue(s, ref pos);
        SkipWhitespace(s, ref pos);
        if (pos != s.Length)
        {
            throw Fail("unexpected data after the end of the document", pos);
        }

        return value;
    }

    private static void SkipWhitespace(ReadOnlySpan<byte> s, ref int pos)
    {
        while (pos < s.Length)
        {
            var b = s[pos];
            if (b is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r')
            {
                pos++;
            }
            else
            {
                break;
            }
        }
    }

    private JsonNode ParseValue(ReadOnlySpan<byte> s, ref int pos)
    {
        if (pos >= s.Length)
        {
            throw Fail("unexpected end of document", pos);
        }

        var b = s[pos];
        switch (b)
        {
            case (byte)'{':
                return ParseObject(s, ref pos);
            case (byte)'[':
                return ParseArray(s, ref pos);
            case (byte)'"':
                return new JsonString(ParseString(s, ref pos));
            case (byte)'t':
                ExpectLiteral(s, ref pos, "true"u8);
                return JsonBoolean.True;
            case (byte)'f':
                ExpectLiteral(s, ref pos, "false"u8);
                return JsonBoolean.False;
            case (byte)'n':
                ExpectLiteral(s, ref pos, "null"u8);
                return JsonNull.Instance;
            case (byte)'-':
            case >= (byte)'0' and <= (byte)'9':
                return ParseNumber(s, ref pos);
            case (byte)'N' or (byte)'I':
                throw Fail("NaN and Infinity are not JSON", pos);
            default:
                throw Fail($"unexpected character {Describe(b)}", pos);
        }
    }

    private void ExpectLiteral(ReadOnlySpan<byte> s, ref int pos, ReadOnlySpan<byte> literal)
    {
        if (!s[pos..].StartsWith(literal))
        {
            throw Fail($"invalid literal (expected {Encoding.ASCII.GetString(literal)})", pos);
        }

        pos += literal.Length;
    }

    private JsonObject ParseObject(ReadOnlySpan<byte> s, ref int pos)
    {
        var start = pos;
        Enter(start);
        pos++; // '{'
        SkipWhitespace(s, ref pos);
        if (pos < s.Length && s[pos] == (byte)'}')
        {
            pos++;
            depth--;
            return new JsonObject();
        }

        var first = memberStack.Count;
        Dictionary<string, int>? index = null;
        while (true)
        {
            SkipWhitespace(s, ref pos);
            if (pos >= s.Length || s[pos] != (byte)'"')
            {
                throw Fail(pos >= s.Length ? "unexpected end of document inside an object" : "expected a string key", pos);
            }

            var keyPos = pos;
            var key = ParseKey(s, ref pos);
            SkipWhitespace(s, ref pos);
            if (pos >= s.Length || s[pos] != (byte)':')
            {
                throw Fail("expected ':' after an object key", pos);
            }

            pos++;
            SkipWhitespace(s, ref pos);
            path.Add((key, 0));
            var value = ParseValue(s, ref pos);
            var count = memberStack.Count - first;
            if (index is null && count < LinearScanMembers)
            {
                for (var i = first; i < memberStack.Count; i++)
                {
                    if (string.Equals(memberStack[i].Key, key, StringComparison.Ordinal))
                    {
                        throw Fail($"duplicate key \"{key}\"", keyPos);
                    }
                }
            }
            else
            {
                if (index is null)
                {
                    index = new Dictionary<string, int>(StringComparer.Ordinal);
                    for (var i = first; i < memberStack.Count; i++)
                    {
                        index.Add(memberStack[i].Key, i - first);
                    }
                }

                if (!index.TryAdd(key, count))
                {
                    throw Fail($"duplicate key \"{key}\"", keyPos);
                }
            }

            memberStack.Add(new(key, value));
            path.RemoveAt(path.Count - 1);
            SkipWhitespace(s, ref pos);
            if (pos >= s.Length)
            {
                throw Fail("unexpected end of document inside an object", pos);
            }

            if (s[pos] == (byte)',')
            {
                pos++;
                continue;
            }

            if (s[pos] == (byte)'}')
            {
                pos++;
                depth--;
                var obj = new JsonObject(CollectionsMarshal.AsSpan(memberStack)[first..], index);
                memberStack.RemoveRange(first, memberStack.Count - first);
                return obj;
            }

            throw Fail($"expected ',' or '}}' in an object, found {Describe(s[pos])}", pos);
        }
    }

    private JsonArray ParseArray(ReadOnlySpan<byte> s, ref int pos)
    {
        Enter(pos);
        pos++; // '['
        SkipWhitespace(s, ref pos);
        if (pos < s.Length && s[pos] == (byte)']')
        {
            pos++;
            depth--;
            return new JsonArray([], adopt: true);
        }

        var first = itemStack.Count;
        while (true)
        {
            SkipWhitespace(s, ref pos);
            path.Add((null, itemStack.Count - first));
            itemStack.Add(ParseValue(s, ref pos));
            path.RemoveAt(path.Count - 1);
            SkipWhitespace(s, ref pos);
            if (pos >= s.Length)
            {
                throw Fail("unexpected end of document inside an array", pos);
            }

            if (s[pos] == (byte)',')
            {
                pos++;
                continue;
            }

            if (s[pos] == (byte)']')
            {
                pos++;
                depth--;
                var items = new List<JsonNode>(itemStack.Count - first);
                items.AddRange(CollectionsMarshal.AsSpan(itemStack)[first..]);
                itemStack.RemoveRange(first, itemStack.Count - first);
                return new JsonArray(items, adopt: true);
            }

            throw Fail($"expected ',' or ']' in an array, found {Describe(s[pos])}", pos);
        }
    }

    private void Enter(int pos)
    {
        if (++depth > options.MaxDepth)
        {
            throw Fail($"nesting deeper than the limit of {options.MaxDepth}", pos);
        }
    }

    private JsonInteger ParseNumber(ReadOnlySpan<byte> s, ref int pos)
    {
        var start = pos;
        if (s[pos] == (byte)'-')
        {
            pos++;
        }

        if (pos >= s.Length || !IsDigit(s[pos]))
        {
            throw Fail("invalid number", start);
        }

        if (s[pos] == (byte)'0' && pos + 1 < s.Length && IsDigit(s[pos + 1]))
        {
            throw Fail("numbers may not have leading zeros", start);
        }

        while (pos < s.Length && IsDigit(s[pos]))
        {
            pos++;
        }

        if (pos < s.Length && (s[pos] == (byte)'.' || s[pos] == (byte)'e' || s[pos] == (byte)'E'))
        {
            throw Fail("floating point numbers are not allowed in canonical JSON", start);
        }

        var digits = s[start..pos];
        if (digits.Length - (digits[0] == (byte)'-' ? 1 : 0) > options.MaxIntegerDigits)
        {
            throw Fail($"integer with more than {options.MaxIntegerDigits} digits", start);
        }

        if (digits.Length <= 18)
        {
            long value = 0;
            var negative = digits[0] == (byte)'-';
            for (var i = negative ? 1 : 0; i < digits.Length; i++)
            {
                value = (value * 10) + (digits[i] - (byte)'0');
            }

            return new JsonInteger(negative ? -value : value);
        }

        return new JsonInteger(BigInteger.Parse(Encoding.ASCII.GetString(digits), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture));
    }

    private static bool IsDigit(byte b) => b is >= (byte)'0' and <= (byte)'9';

    /// <summary>A property name: short ASCII names without escapes come from the parser's intern table.</summary>
    private string ParseKey(ReadOnlySpan<byte> s, ref int pos)
    {
        var rest = s[(pos + 1)..];
        var stop = rest.IndexOfAny((byte)'"', (byte)'\\');
        if (stop < 0 || stop > MaxInternedKeyBytes || rest[stop] != (byte)'"' || !Ascii.IsValid(rest[..stop]))
        {
            return ParseString(s, ref pos);
        }

        var raw = rest[..stop];
        CheckNoControl(raw, pos + 1);
        Span<char> chars = stackalloc char[MaxInternedKeyBytes];
        Ascii.ToUtf16(raw, chars, out var n);
        var lookup = keys.GetAlternateLookup<ReadOnlySpan<char>>();
        if (!lookup.TryGetValue(chars[..n], out var key))
        {
            key = new string(chars[..n]);
            if (keys.Count < MaxInternedKeys)
            {
                keys.Add(key, key);
            }
        }

        pos += stop + 2;
        return key;
    }

    private string ParseString(ReadOnlySpan<byte> s, ref int pos)
    {
        var start = pos;
        pos++; // opening quote
        var contentStart = pos;

        // Fast path: no escapes.
        var rest = s[pos..];
        var stop = rest.IndexOfAny((byte)'"', (byte)'\\');
        if (stop < 0)
        {
            throw Fail("unterminated string", start);
        }

        if (stop > options.MaxStringBytes)
        {
            throw Fail($"string longer than the limit of {options.MaxStringBytes} bytes", start);
        }

        if (rest[stop] == (byte)'"')
        {
            var raw = rest[..stop];
            CheckNoControl(raw, contentStart);
            pos += stop + 1;
            return DecodeUtf8(raw, contentStart);
        }

        var sb = new StringBuilder();
        while (true)
        {
            if (pos >= s.Length)
            {
                throw Fail("unterminated string", start);
            }

            if (pos - contentStart > options.MaxStringBytes)
            {
                throw Fail($"string longer than the limit of {options.MaxStringBytes} bytes", start);
            }

            var chunk = s[pos..];
            var next = chunk.IndexOfAny((byte)'"', (byte)'\\');
            if (next < 0)
            {
                throw Fail("unterminated string", start);
            }

            if (next > 0)
            {
                CheckNoControl(chunk[..next], pos);
                sb.Append(DecodeUtf8(chunk[..next], pos));
                pos += next;
            }

            if (s[pos] == (byte)'"')
            {
                pos++;
                return sb.ToString();
            }

            // Backslash escape.
            if (pos + 1 >= s.Length)
            {
                throw Fail("unterminated string", start);
            }

            var e = s[pos + 1];
            switch (e)
            {
                case (byte)'"': sb.Append('"'); pos += 2; break;
                case (byte)'\\': sb.Append('\\'); pos += 2; break;
                case (byte)'/': sb.Append('/'); pos += 2; break;
                case (byte)'b': sb.Append('\b'); pos += 2; break;
                case (byte)'f': sb.Append('\f'); pos += 2; break;
                case (byte)'n': sb.Append('\n'); pos += 2; break;
                case (byte)'r': sb.Append('\r'); pos += 2; break;
                case (byte)'t': sb.Append('\t'); pos += 2; break;
                case (byte)'u':
                    var escPos = pos;
                    var unit = ReadHex4(s, pos + 2, escPos);
                    pos += 6;
                    if (char.IsHighSurrogate((char)unit))
                    {
                        if (pos + 6 <= s.Length && s[pos] == (byte)'\\' && s[pos + 1] == (byte)'u')
                        {
                            var low = ReadHex4(s, pos + 2, pos);
                            if (!char.IsLowSurrogate((char)low))
                            {
                                throw Fail("a high surrogate escape must be followed by a low surrogate escape", escPos);
                            }

                            sb.Append((char)unit).Append((char)low);
                            pos += 6;
                        }
                        else
                        {
                            throw Fail("lone surrogate in a \\u escape", escPos);
                        }
                    }
                    else if (char.IsLowSurrogate((char)unit))
                    {
                        throw Fail("lone surrogate in a \\u escape", escPos);
                    }
                    else
                    {
                        sb.Append((char)unit);
                    }

                    break;
                default:
                    throw Fail($"invalid escape \\{Describe(e)}", pos);
            }
        }
    }

    private int ReadHex4(ReadOnlySpan<byte> s, int at, int escPos)
    {
        if (at + 4 > s.Length)
        {
            throw Fail("truncated \\u escape", escPos);
        }

        var v = 0;
        for (var i = 0; i < 4; i++)
        {
            var c = s[at + i];
            int d = c switch
            {
                >= (byte)'0' and <= (byte)'9' => c - '0',
                >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
                >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
                _ => -1,
            };
            if (d < 0)
            {
                throw Fail("invalid hex digit in a \\u escape", escPos);
            }

            v = (v << 4) | d;
        }

        return v;
    }

    private void CheckNoControl(ReadOnlySpan<byte> raw, int offset)
    {
        if (options.AllowControlCharactersInStrings)
        {
            return;
        }

        // RFC 8259: control characters inside strings must be escaped.
        for (var i = 0; i < raw.Length; i++)
        {
            if (raw[i] < 0x20)
            {
                throw Fail($"unescaped control character {Describe(raw[i])} in a string", offset + i);
            }
        }
    }

    private string DecodeUtf8(ReadOnlySpan<byte> raw, int offset)
    {
        if (System.Text.Unicode.Utf8.IsValid(raw))
        {
            return Encoding.UTF8.GetString(raw);
        }

        var index = 0;
        while (index < raw.Length && Rune.DecodeFromUtf8(raw[index..], out _, out var consumed) == System.Buffers.OperationStatus.Done)
        {
            index += consumed;
        }

        throw Fail("invalid UTF-8 in a string", offset + index);
    }

    private JsonFormatException Fail(string reason, long offset) =>
        new(reason, FormatPath(path.Select(p => p.Key is null ? (object)p.Index : p.Key)), offset);

    internal static string FormatPath(IEnumerable<object> segments)
    {
        var sb = new StringBuilder("$");
        foreach (var seg in segments)
        {
            if (seg is int i)
            {
                sb.Append('[').Append(i.ToString(CultureInfo.InvariantCulture)).Append(']');
            }
            else
            {
                var k = (string)seg;
                if (k.Length > 0 && k.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
                {
                    sb.Append('.').Append(k);
                }
                else
                {
                    sb.Append("[\"").Append(k.Replace("\"", "\\\"", StringComparison.Ordinal)).Append("\"]");
                }
            }
        }

        return sb.ToString();
    }

    private static string Describe(byte b) =>
        b is >= 0x21 and < 0x7F ? $"'{(char)b}'" : $"0x{b:X2}";
}
