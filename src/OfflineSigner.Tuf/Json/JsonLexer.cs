// RFC 8259 sections 2, 3, 6 and 7 (whitespace, literals, numbers, strings), narrowed to canonical JSON: integers only.
using System.Text;

namespace OfflineSigner.Tuf.Json;

/// <summary>
/// The lexical rules both strict readers share: <see cref="JsonParser"/> (which builds a tree) and
/// <see cref="JsonIndex"/> (which records offsets). A broken rule throws <see cref="JsonLexException"/> with the
/// reason and the offset; each reader catches it once, at the top of the document, and reports it as a
/// <see cref="JsonFormatException"/> with the path of the value it was reading, which its path stack still holds.
/// </summary>
internal static class JsonLexer
{
    /// <summary>Receives a string's content as it is read: runs of raw, already validated UTF-8, and decoded escapes.</summary>
    internal interface IStringSink
    {
        void Utf8(ReadOnlySpan<byte> valid);

        void Char(char c);
    }

    /// <summary>A sink for readers that only validate (the offsets are what they keep).</summary>
    internal struct Discard : IStringSink
    {
        public readonly void Utf8(ReadOnlySpan<byte> valid)
        {
        }

        public readonly void Char(char c)
        {
        }
    }

    /// <summary>Checks a whole document's size and first bytes, and returns where its value starts.</summary>
    public static int DocumentStart(ReadOnlySpan<byte> s, JsonParseOptions options)
    {
        if (s.Length > options.MaxDocumentBytes)
        {
            throw new JsonLexException($"document is {s.Length} bytes, more than the limit of {options.MaxDocumentBytes}", 0);
        }

        if (s.Length >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF)
        {
            throw new JsonLexException("a UTF-8 byte order mark is not allowed", 0);
        }

        var pos = 0;
        SkipWhitespace(s, ref pos);
        if (pos >= s.Length)
        {
            throw new JsonLexException("empty document", pos);
        }

        return pos;
    }

    /// <summary>Nothing but whitespace may follow the document's value, which ended at <paramref name="pos"/>.</summary>
    public static void DocumentEnd(ReadOnlySpan<byte> s, int pos)
    {
        SkipWhitespace(s, ref pos);
        if (pos != s.Length)
        {
            throw new JsonLexException("unexpected data after the end of the document", pos);
        }
    }

    /// <summary>Steps to the next member's key, which must be a string.</summary>
    public static void KeyStart(ReadOnlySpan<byte> s, ref int pos)
    {
        SkipWhitespace(s, ref pos);
        if (pos >= s.Length || s[pos] != (byte)'"')
        {
            throw new JsonLexException(pos >= s.Length ? "unexpected end of document inside an object" : "expected a string key", pos);
        }
    }

    /// <summary>Steps over the ':' after a key, to the member's value.</summary>
    public static void Colon(ReadOnlySpan<byte> s, ref int pos)
    {
        SkipWhitespace(s, ref pos);
        if (pos >= s.Length || s[pos] != (byte)':')
        {
            throw new JsonLexException("expected ':' after an object key", pos);
        }

        pos++;
        SkipWhitespace(s, ref pos);
    }

    /// <summary>
    /// After a member or an item: steps over ',' and returns true when another follows, or over the closing
    /// <paramref name="close"/> and returns false.
    /// </summary>
    public static bool Separator(ReadOnlySpan<byte> s, ref int pos, byte close)
    {
        var container = close == (byte)'}' ? "an object" : "an array";
        SkipWhitespace(s, ref pos);
        if (pos >= s.Length)
        {
            throw new JsonLexException($"unexpected end of document inside {container}", pos);
        }

        if (s[pos] == (byte)',')
        {
            pos++;
            return true;
        }

        if (s[pos] == close)
        {
            pos++;
            return false;
        }

        throw new JsonLexException($"expected ',' or '{(char)close}' in {container}, found {Describe(s[pos])}", pos);
    }

    public static void SkipWhitespace(ReadOnlySpan<byte> s, ref int pos)
    {
        while (pos < s.Length && s[pos] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r')
        {
            pos++;
        }
    }

    public static bool IsDigit(byte b) => b is >= (byte)'0' and <= (byte)'9';

    /// <summary>A byte as an error message shows it: printable ASCII quoted, anything else in hex.</summary>
    public static string Describe(byte b) =>
        b is >= 0x21 and < 0x7F ? $"'{(char)b}'" : $"0x{b:X2}";

    /// <summary>Steps over <paramref name="literal"/> (true, false, null) at <paramref name="pos"/>.</summary>
    public static void Literal(ReadOnlySpan<byte> s, ref int pos, ReadOnlySpan<byte> literal)
    {
        if (!s[pos..].StartsWith(literal))
        {
            throw new JsonLexException($"invalid literal (expected {Encoding.ASCII.GetString(literal)})", pos);
        }

        pos += literal.Length;
    }

    /// <summary>
    /// Steps over an integer at <paramref name="pos"/> and returns its text (sign included): no leading zeros, no
    /// fraction or exponent (canonical JSON has no floating point), at most <paramref name="maxDigits"/> digits.
    /// </summary>
    public static ReadOnlySpan<byte> Integer(ReadOnlySpan<byte> s, ref int pos, int maxDigits)
    {
        var start = pos;
        if (s[pos] == (byte)'-')
        {
            pos++;
        }

        if (pos >= s.Length || !IsDigit(s[pos]))
        {
            throw new JsonLexException("invalid number", start);
        }

        if (s[pos] == (byte)'0' && pos + 1 < s.Length && IsDigit(s[pos + 1]))
        {
            throw new JsonLexException("numbers may not have leading zeros", start);
        }

        while (pos < s.Length && IsDigit(s[pos]))
        {
            pos++;
        }

        if (pos < s.Length && (s[pos] == (byte)'.' || s[pos] == (byte)'e' || s[pos] == (byte)'E'))
        {
            throw new JsonLexException("floating point numbers are not allowed in canonical JSON", start);
        }

        var digits = s[start..pos];
        if (digits.Length - (digits[0] == (byte)'-' ? 1 : 0) > maxDigits)
        {
            throw new JsonLexException($"integer with more than {maxDigits} digits", start);
        }

        return digits;
    }

    /// <summary>
    /// Steps over the string whose opening quote is at <paramref name="pos"/>, checking its length, control characters,
    /// UTF-8, escapes and surrogate pairs, and hands its content to <paramref name="sink"/>. Returns whether it had
    /// escapes (without any, the sink got the whole content in one <see cref="IStringSink.Utf8"/> call).
    /// </summary>
    public static bool String<TSink>(ReadOnlySpan<byte> s, ref int pos, JsonParseOptions options, ref TSink sink)
        where TSink : struct, IStringSink
    {
        var start = pos;
        pos++; // opening quote
        var contentStart = pos;
        var rest = s[pos..];
        var stop = rest.IndexOfAny((byte)'"', (byte)'\\');
        if (stop < 0)
        {
            throw new JsonLexException("unterminated string", start);
        }

        if (stop > options.MaxStringBytes)
        {
            throw new JsonLexException($"string longer than the limit of {options.MaxStringBytes} bytes", start);
        }

        if (rest[stop] == (byte)'"')
        {
            var raw = rest[..stop];
            CheckText(raw, contentStart, options);
            sink.Utf8(raw);
            pos += stop + 1;
            return false;
        }

        while (true)
        {
            if (pos >= s.Length)
            {
                throw new JsonLexException("unterminated string", start);
            }

            if (pos - contentStart > options.MaxStringBytes)
            {
                throw new JsonLexException($"string longer than the limit of {options.MaxStringBytes} bytes", start);
            }

            var chunk = s[pos..];
            var next = chunk.IndexOfAny((byte)'"', (byte)'\\');
            if (next < 0)
            {
                throw new JsonLexException("unterminated string", start);
            }

            if (next > 0)
            {
                CheckText(chunk[..next], pos, options);
                sink.Utf8(chunk[..next]);
                pos += next;
            }

            if (s[pos] == (byte)'"')
            {
                pos++;
                return true;
            }

            // A backslash escape.
            if (pos + 1 >= s.Length)
            {
                throw new JsonLexException("unterminated string", start);
            }

            var e = s[pos + 1];
            switch (e)
            {
                case (byte)'"': sink.Char('"'); pos += 2; break;
                case (byte)'\\': sink.Char('\\'); pos += 2; break;
                case (byte)'/': sink.Char('/'); pos += 2; break;
                case (byte)'b': sink.Char('\b'); pos += 2; break;
                case (byte)'f': sink.Char('\f'); pos += 2; break;
                case (byte)'n': sink.Char('\n'); pos += 2; break;
                case (byte)'r': sink.Char('\r'); pos += 2; break;
                case (byte)'t': sink.Char('\t'); pos += 2; break;
                case (byte)'u':
                    var escPos = pos;
                    var unit = Hex4(s, pos + 2, escPos);
                    pos += 6;
                    if (char.IsHighSurrogate((char)unit))
                    {
                        if (pos + 6 > s.Length || s[pos] != (byte)'\\' || s[pos + 1] != (byte)'u')
                        {
                            throw new JsonLexException("lone surrogate in a \\u escape", escPos);
                        }

                        var low = Hex4(s, pos + 2, pos);
                        if (!char.IsLowSurrogate((char)low))
                        {
                            throw new JsonLexException("a high surrogate escape must be followed by a low surrogate escape", escPos);
                        }

                        sink.Char((char)unit);
                        sink.Char((char)low);
                        pos += 6;
                    }
                    else if (char.IsLowSurrogate((char)unit))
                    {
                        throw new JsonLexException("lone surrogate in a \\u escape", escPos);
                    }
                    else
                    {
                        sink.Char((char)unit);
                    }

                    break;
                default:
                    throw new JsonLexException($"invalid escape \\{Describe(e)}", pos);
            }
        }
    }

    /// <summary>Raw string content: no unescaped control character (RFC 8259 section 7) unless allowed, and valid UTF-8.</summary>
    public static void CheckText(ReadOnlySpan<byte> raw, int offset, JsonParseOptions options)
    {
        if (!options.AllowControlCharactersInStrings)
        {
            var i = raw.IndexOfAnyInRange((byte)0, (byte)0x1F);
            if (i >= 0)
            {
                throw new JsonLexException($"unescaped control character {Describe(raw[i])} in a string", offset + i);
            }
        }

        if (System.Text.Unicode.Utf8.IsValid(raw))
        {
            return;
        }

        var valid = 0;
        while (valid < raw.Length && Rune.DecodeFromUtf8(raw[valid..], out _, out var consumed) == System.Buffers.OperationStatus.Done)
        {
            valid += consumed;
        }

        throw new JsonLexException("invalid UTF-8 in a string", offset + valid);
    }

    private static int Hex4(ReadOnlySpan<byte> s, int at, int escPos)
    {
        if (at + 4 > s.Length)
        {
            throw new JsonLexException("truncated \\u escape", escPos);
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
                throw new JsonLexException("invalid hex digit in a \\u escape", escPos);
            }

            v = (v << 4) | d;
        }

        return v;
    }
}

/// <summary>A lexical rule broken at <see cref="Offset"/>; the reader reports it with its path (<see cref="JsonLexer"/>).</summary>
internal sealed class JsonLexException(string reason, long offset) : Exception(reason)
{
    public string Reason { get; } = reason;

    public long Offset { get; } = offset;
}
