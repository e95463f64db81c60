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
        try
        {
            var pos = JsonLexer.DocumentStart(s, options);
            var value = ParseValue(s, ref pos);
            JsonLexer.DocumentEnd(s, pos);
            return value;
        }
        catch (JsonLexException e)
        {
            // The path stack still names the value being read when the lexer gave up.
            throw Fail(e.Reason, e.Offset);
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
                JsonLexer.Literal(s, ref pos, "true"u8);
                return JsonBoolean.True;
            case (byte)'f':
                JsonLexer.Literal(s, ref pos, "false"u8);
                return JsonBoolean.False;
            case (byte)'n':
                JsonLexer.Literal(s, ref pos, "null"u8);
                return JsonNull.Instance;
            case (byte)'-':
            case >= (byte)'0' and <= (byte)'9':
                return ParseNumber(s, ref pos);
            case (byte)'N' or (byte)'I':
                throw Fail("NaN and Infinity are not JSON", pos);
            default:
                throw Fail($"unexpected character {JsonLexer.Describe(b)}", pos);
        }
    }


    private JsonObject ParseObject(ReadOnlySpan<byte> s, ref int pos)
    {
        var start = pos;
        Enter(start);
        pos++; // '{'
        JsonLexer.SkipWhitespace(s, ref pos);
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
            JsonLexer.KeyStart(s, ref pos);
            var keyPos = pos;
            var key = ParseKey(s, ref pos);
            JsonLexer.Colon(s, ref pos);
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
            if (!JsonLexer.Separator(s, ref pos, (byte)'}'))
            {
                depth--;
                var obj = new JsonObject(CollectionsMarshal.AsSpan(memberStack)[first..], index);
                memberStack.RemoveRange(first, memberStack.Count - first);
                return obj;
            }
        }
    }

    private JsonArray ParseArray(ReadOnlySpan<byte> s, ref int pos)
    {
        Enter(pos);
        pos++; // '['
        JsonLexer.SkipWhitespace(s, ref pos);
        if (pos < s.Length && s[pos] == (byte)']')
        {
            pos++;
            depth--;
            return new JsonArray([], adopt: true);
        }

        var first = itemStack.Count;
        while (true)
        {
            JsonLexer.SkipWhitespace(s, ref pos);
            path.Add((null, itemStack.Count - first));
            itemStack.Add(ParseValue(s, ref pos));
            path.RemoveAt(path.Count - 1);
            if (!JsonLexer.Separator(s, ref pos, (byte)']'))
            {
                depth--;
                var items = new List<JsonNode>(itemStack.Count - first);
                items.AddRange(CollectionsMarshal.AsSpan(itemStack)[first..]);
                itemStack.RemoveRange(first, itemStack.Count - first);
                return new JsonArray(items, adopt: true);
            }
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
        var digits = JsonLexer.Integer(s, ref pos, options.MaxIntegerDigits);
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
        JsonLexer.CheckText(raw, pos + 1, options);
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
        var decoder = default(Decoder);
        JsonLexer.String(s, ref pos, options, ref decoder);
        return decoder.Result;
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


    /// <summary>Builds a string's value from what the lexer hands over; content without escapes is decoded once, directly.</summary>
    private struct Decoder : JsonLexer.IStringSink
    {
        private StringBuilder? builder;
        private string? text;

        public readonly string Result => text ?? builder?.ToString() ?? string.Empty;

        public void Utf8(ReadOnlySpan<byte> valid)
        {
            if (builder is null && text is null)
            {
                text = Encoding.UTF8.GetString(valid);
                return;
            }

            Builder().Append(Encoding.UTF8.GetString(valid));
        }

        public void Char(char c) => Builder().Append(c);

        private StringBuilder Builder()
        {
            if (builder is null)
            {
                builder = new StringBuilder(text);
                text = null;
            }

            return builder;
        }
    }
}
