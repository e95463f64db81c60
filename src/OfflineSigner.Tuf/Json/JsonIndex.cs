using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Text;

namespace OfflineSigner.Tuf.Json;

/// <summary>
/// A strictly parsed JSON document kept as its UTF-8 bytes and a compact index of where each value is, instead of a
/// tree of nodes and strings. It accepts and refuses exactly what <see cref="JsonParser"/> does (floats, duplicate
/// keys, invalid UTF-8, lone surrogates, control characters, limits), with the same messages. Canonical bytes are
/// written straight from the source bytes (<see cref="JsonIndexValue.CanonicalBytes"/>,
/// <see cref="JsonIndexValue.WriteCanonical(Stream)"/>, <see cref="JsonIndexValue.CanonicalHash"/>), and any value
/// can still be turned into a <see cref="JsonNode"/> when a tree is wanted (<see cref="JsonIndexValue.ToJsonNode"/>).
/// </summary>
/// <remarks>
/// Every value costs 12 bytes of index, a member's key counting as one more value: a large targets role needs about
/// half its own size in index. The source bytes must not change while the index is in use.
/// </remarks>
public sealed class JsonIndex
{
    private const int ChunkBits = 14;
    private const int ChunkSize = 1 << ChunkBits;
    private const int EscapedFlag = 1 << 30;

    // Objects up to this many members are looked up and checked for duplicate keys by a linear scan.
    private const int LinearScanMembers = 8;

    private readonly ReadOnlyMemory<byte> utf8;
    private readonly List<Entry[]> chunks = [];
    private int count;

    // Objects whose keys are not in code point order on input: their key entries in that order (canonical output
    // order). Objects already in order are the common case and need nothing here.
    private readonly Dictionary<int, int[]> reordered = [];

    // Key entries of large objects in code point order, built on the first lookup.
    private readonly Dictionary<int, int[]> lookup = [];

    private JsonIndex(ReadOnlyMemory<byte> utf8) => this.utf8 = utf8;

    /// <summary>The document's bytes, as given.</summary>
    public ReadOnlyMemory<byte> Utf8 => utf8;

    /// <summary>How many values the index holds (object keys counted).</summary>
    public int ValueCount => count;

    /// <summary>The document's top-level value.</summary>
    public JsonIndexValue Root => new(this, 0);

    /// <summary>Parses a UTF-8 document strictly, with the same rules and messages as <see cref="JsonParser.Parse(ReadOnlySpan{byte}, JsonParseOptions?)"/>.</summary>
    /// <exception cref="JsonFormatException">the document is not acceptable; the message says where and why.</exception>
    public static JsonIndex Parse(ReadOnlyMemory<byte> utf8, JsonParseOptions? options = null)
    {
        var index = new JsonIndex(utf8);
        new Scanner(index, options ?? JsonParseOptions.Default).ScanDocument(utf8.Span);
        return index;
    }

    internal ref Entry At(int i) => ref chunks[i >> ChunkBits][i & (ChunkSize - 1)];

    internal JsonKind KindOf(int i) => KindOfByte(utf8.Span[At(i).Start]);

    internal static JsonKind KindOfByte(byte b) => b switch
    {
        (byte)'{' => JsonKind.Object,
        (byte)'[' => JsonKind.Array,
        (byte)'"' => JsonKind.String,
        (byte)'t' or (byte)'f' => JsonKind.Boolean,
        (byte)'n' => JsonKind.Null,
        _ => JsonKind.Integer,
    };

    /// <summary>The entry after value <paramref name="i"/> and everything inside it.</summary>
    internal int Next(int i)
    {
        ref var e = ref At(i);
        var b = utf8.Span[e.Start];
        return b is (byte)'{' or (byte)'[' ? e.B : i + 1;
    }

    /// <summary>The key entries of an object in code point order.</summary>
    internal int[] SortedKeys(int obj)
    {
        if (reordered.TryGetValue(obj, out var keys) || lookup.TryGetValue(obj, out keys))
        {
            return keys;
        }

        keys = new int[At(obj).A];
        var k = obj + 1;
        for (var m = 0; m < keys.Length; m++)
        {
            keys[m] = k;
            k = Next(k + 1);
        }

        lookup[obj] = keys;
        return keys;
    }

    internal bool IsReordered(int obj, out int[] keys) => reordered.TryGetValue(obj, out keys!);

    /// <summary>Finds a member by name: a scan for small objects, a binary search in code point order for large ones.</summary>
    internal int FindMember(int obj, string name)
    {
        const int StackLimit = 256;
        var length = Encoding.UTF8.GetByteCount(name);
        Span<byte> key = length <= StackLimit ? stackalloc byte[StackLimit] : new byte[length];
        return FindMember(obj, key[..Encoding.UTF8.GetBytes(name, key)]);
    }

    /// <summary>Finds a member by its name's UTF-8 bytes; returns the value's entry, or -1.</summary>
    internal int FindMember(int obj, ReadOnlySpan<byte> key)
    {
        var members = At(obj).A;
        if (members <= LinearScanMembers)
        {
            var k = obj + 1;
            for (var m = 0; m < members; m++)
            {
                if (CompareKey(k, key) == 0)
                {
                    return k + 1;
                }

                k = Next(k + 1);
            }

            return -1;
        }

        var sorted = SortedKeys(obj);
        int lo = 0, hi = sorted.Length - 1;
        while (lo <= hi)
        {
            var mid = lo + ((hi - lo) / 2);
            var c = CompareKey(sorted[mid], key);
            if (c == 0)
            {
                return sorted[mid] + 1;
            }

            if (c < 0)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return -1;
    }

    /// <summary>The raw content of a string without escapes (between its quotes), or false when it has escapes.</summary>
    internal bool TryRawString(int i, out ReadOnlySpan<byte> content)
    {
        ref var e = ref At(i);
        if ((e.A & EscapedFlag) != 0)
        {
            content = default;
            return false;
        }

        content = utf8.Span.Slice(e.Start + 1, e.A - 2);
        return true;
    }

    /// <summary>The UTF-8 bytes of a string's value, escapes decoded.</summary>
    internal byte[] DecodeString(int i)
    {
        if (TryRawString(i, out var raw))
        {
            return raw.ToArray();
        }

        ref var e = ref At(i);
        var s = utf8.Span.Slice(e.Start + 1, (e.A & ~EscapedFlag) - 2);
        var output = new List<byte>(s.Length);
        Span<byte> rune = stackalloc byte[4];
        var pos = 0;
        while (pos < s.Length)
        {
            var next = s[pos..].IndexOf((byte)'\\');
            if (next < 0)
            {
                output.AddRange(s[pos..]);
                break;
            }

            output.AddRange(s.Slice(pos, next));
            pos += next;
            var c = s[pos + 1];
            pos += 2;
            switch (c)
            {
                case (byte)'b': output.Add(0x08); break;
                case (byte)'f': output.Add(0x0C); break;
                case (byte)'n': output.Add(0x0A); break;
                case (byte)'r': output.Add(0x0D); break;
                case (byte)'t': output.Add(0x09); break;
                case (byte)'u':
                    var unit = Hex4(s.Slice(pos, 4));
                    pos += 4;
                    var scalar = unit;
                    if (char.IsHighSurrogate((char)unit))
                    {
                        // The scanner checked that a low surrogate escape follows.
                        scalar = char.ConvertToUtf32((char)unit, (char)Hex4(s.Slice(pos + 2, 4)));
                        pos += 6;
                    }

                    var n = new Rune(scalar).EncodeToUtf8(rune);
                    output.AddRange(rune[..n]);
                    break;
                default: output.Add(c); break; // '"', '\\' and '/'
            }
        }

        return [.. output];

        static int Hex4(ReadOnlySpan<byte> h) => int.Parse(Encoding.ASCII.GetString(h), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
    }

    internal string GetString(int i) =>
        TryRawString(i, out var raw) ? Encoding.UTF8.GetString(raw) : Encoding.UTF8.GetString(DecodeString(i));

    /// <summary>Compares a key's value with UTF-8 bytes: byte order of UTF-8 is code point order.</summary>
    internal int CompareKey(int k, ReadOnlySpan<byte> other) =>
        TryRawString(k, out var raw) ? raw.SequenceCompareTo(other) : DecodeString(k).AsSpan().SequenceCompareTo(other);

    internal int CompareKeys(int a, int b)
    {
        if (TryRawString(a, out var x) && TryRawString(b, out var y))
        {
            return x.SequenceCompareTo(y);
        }

        return DecodeString(a).AsSpan().SequenceCompareTo(DecodeString(b));
    }

    /// <summary>
    /// The value of an integer entry when it is certainly a non-negative <see cref="long"/>: no sign and at most 18
    /// digits. Other integers (negative, "-0", 19 digits and more) answer false and are left to the model's checks.
    /// </summary>
    internal bool TryGetSmallNonNegative(int i, out long value)
    {
        var digits = Source(i);
        value = 0;
        if (KindOf(i) != JsonKind.Integer || digits.Length > 18 || digits[0] == (byte)'-')
        {
            return false;
        }

        foreach (var d in digits)
        {
            value = (value * 10) + (d - '0');
        }

        return true;
    }

    /// <summary>Whether two string entries hold the same string, compared without decoding when neither has escapes.</summary>
    internal bool StringEquals(int a, int b) => CompareKeys(a, b) == 0;

    /// <summary>A hash of a string entry's value (escapes decoded), consistent with <see cref="StringEquals"/>.</summary>
    internal int StringHash(int i)
    {
        var h = default(HashCode);
        h.AddBytes(TryRawString(i, out var raw) ? raw : DecodeString(i));
        return h.ToHashCode();
    }

    internal ReadOnlySpan<byte> Source(int i)
    {
        ref var e = ref At(i);
        return utf8.Span.Slice(e.Start, e.A & ~EscapedFlag);
    }

    /// <summary>A tree of the value, as <see cref="JsonParser"/> would have built it.</summary>
    internal JsonNode ToNode(int i)
    {
        ref var e = ref At(i);
        switch (KindOf(i))
        {
            case JsonKind.Object:
            {
                var members = new KeyValuePair<string, JsonNode>[e.A];
                var k = i + 1;
                for (var m = 0; m < members.Length; m++)
                {
                    members[m] = new(GetString(k), ToNode(k + 1));
                    k = Next(k + 1);
                }

                return new JsonObject(members, null);
            }

            case JsonKind.Array:
            {
                var items = new List<JsonNode>(e.A);
                var k = i + 1;
                for (var m = 0; m < e.A; m++)
                {
                    items.Add(ToNode(k));
                    k = Next(k);
                }

                return new JsonArray(items, adopt: true);
            }

            case JsonKind.String:
                return new JsonString(GetString(i));
            case JsonKind.Boolean:
                return utf8.Span[e.Start] == (byte)'t' ? JsonBoolean.True : JsonBoolean.False;
            case JsonKind.Null:
                return JsonNull.Instance;
            default:
                var digits = Source(i);
                if (digits.Length <= 18)
                {
                    return new JsonInteger(long.Parse(digits, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture));
                }

                return new JsonInteger(BigInteger.Parse(Encoding.ASCII.GetString(digits), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture));
        }
    }

    private int Add(int start)
    {
        var i = count;
        if ((i & (ChunkSize - 1)) == 0)
        {
            chunks.Add(new Entry[ChunkSize]);
        }

        count++;
        At(i).Start = start;
        return i;
    }

    /// <summary>
    /// One value: where it starts; for a scalar its length in bytes (strings: quotes included, with a flag when it has
    /// escapes), for an object or array its number of members or items and the entry after its last descendant.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct Entry
    {
        public int Start;
        public int A;
        public int B;
    }

    /// <summary>The strict grammar of <see cref="JsonParser"/>, recording offsets instead of building nodes.</summary>
    private sealed class Scanner
    {
        private readonly JsonIndex index;
        private readonly JsonParseOptions options;

        // The location of the value being scanned, for error messages: a key entry, or ~index inside an array.
        private readonly List<int> path = [];

        // Key entries of the objects being scanned, stacked across nesting levels.
        private readonly List<int> keyStack = [];
        private int depth;

        public Scanner(JsonIndex index, JsonParseOptions options)
        {
            this.index = index;
            this.options = options;
        }

        public void ScanDocument(ReadOnlySpan<byte> s)
        {
            try
            {
                var pos = JsonLexer.DocumentStart(s, options);
                ScanValue(s, ref pos);
                JsonLexer.DocumentEnd(s, pos);
            }
            catch (JsonLexException e)
            {
                // The path stack still names the value being scanned when the lexer gave up.
                throw Fail(e.Reason, e.Offset);
            }
        }

        private void ScanValue(ReadOnlySpan<byte> s, ref int pos)
        {
            if (pos >= s.Length)
            {
                throw Fail("unexpected end of document", pos);
            }

            var b = s[pos];
            switch (b)
            {
                case (byte)'{':
                    ScanObject(s, ref pos);
                    return;
                case (byte)'[':
                    ScanArray(s, ref pos);
                    return;
                case (byte)'"':
                    ScanString(s, ref pos);
                    return;
                case (byte)'t':
                    Literal(s, ref pos, "true"u8);
                    return;
                case (byte)'f':
                    Literal(s, ref pos, "false"u8);
                    return;
                case (byte)'n':
                    Literal(s, ref pos, "null"u8);
                    return;
                case (byte)'-':
                case >= (byte)'0' and <= (byte)'9':
                    ScanNumber(s, ref pos);
                    return;
                case (byte)'N' or (byte)'I':
                    throw Fail("NaN and Infinity are not JSON", pos);
                default:
                    throw Fail($"unexpected character {JsonLexer.Describe(b)}", pos);
            }
        }

        private void Literal(ReadOnlySpan<byte> s, ref int pos, ReadOnlySpan<byte> literal)
        {
            var start = pos;
            JsonLexer.Literal(s, ref pos, literal);
            index.At(index.Add(start)).A = literal.Length;
        }

        private void ScanObject(ReadOnlySpan<byte> s, ref int pos)
        {
            Enter(pos);
            var obj = index.Add(pos);
            pos++; // '{'
            JsonLexer.SkipWhitespace(s, ref pos);
            if (pos < s.Length && s[pos] == (byte)'}')
            {
                pos++;
                depth--;
                index.At(obj).B = index.count;
                return;
            }

            var first = keyStack.Count;
            var inOrder = true;
            HashSet<int>? seen = null;
            while (true)
            {
                JsonLexer.KeyStart(s, ref pos);
                var keyPos = pos;
                var key = ScanString(s, ref pos);
                JsonLexer.Colon(s, ref pos);
                path.Add(key);
                ScanValue(s, ref pos);
                CheckDuplicate(key, keyPos, first, ref inOrder, ref seen);
                keyStack.Add(key);
                path.RemoveAt(path.Count - 1);
                if (!JsonLexer.Separator(s, ref pos, (byte)'}'))
                {
                    depth--;
                    ref var e = ref index.At(obj);
                    e.A = keyStack.Count - first;
                    e.B = index.count;
                    if (!inOrder)
                    {
                        var keys = CollectionsMarshal.AsSpan(keyStack)[first..].ToArray();
                        Array.Sort(keys, index.CompareKeys);
                        index.reordered[obj] = keys;
                    }

                    keyStack.RemoveRange(first, keyStack.Count - first);
                    return;
                }
            }
        }

        /// <summary>
        /// While keys arrive in code point order (the usual case: metadata is written sorted), comparing each with the
        /// one before finds any duplicate. After the first key out of order, small objects are scanned and large ones
        /// go through a set of key entries hashed by their value.
        /// </summary>
        private void CheckDuplicate(int key, int keyPos, int first, ref bool inOrder, ref HashSet<int>? seen)
        {
            var members = keyStack.Count - first;
            if (members == 0)
            {
                return;
            }

            if (inOrder)
            {
                var c = index.CompareKeys(keyStack[^1], key);
                if (c < 0)
                {
                    return;
                }

                if (c == 0)
                {
                    throw Duplicate(key, keyPos);
                }

                inOrder = false;
            }

            if (seen is null && members < LinearScanMembers)
            {
                for (var i = first; i < keyStack.Count; i++)
                {
                    if (index.CompareKeys(keyStack[i], key) == 0)
                    {
                        throw Duplicate(key, keyPos);
                    }
                }

                return;
            }

            if (seen is null)
            {
                seen = new HashSet<int>(new KeyEquality(index));
                for (var i = first; i < keyStack.Count; i++)
                {
                    seen.Add(keyStack[i]);
                }
            }

            if (!seen.Add(key))
            {
                throw Duplicate(key, keyPos);
            }
        }

        private JsonFormatException Duplicate(int key, int keyPos) =>
            // Reported, as the parser does, once the value has been read and at the place of the second key.
            Fail($"duplicate key \"{index.GetString(key)}\"", keyPos);

        private void ScanArray(ReadOnlySpan<byte> s, ref int pos)
        {
            Enter(pos);
            var arr = index.Add(pos);
            pos++; // '['
            JsonLexer.SkipWhitespace(s, ref pos);
            if (pos < s.Length && s[pos] == (byte)']')
            {
                pos++;
                depth--;
                index.At(arr).B = index.count;
                return;
            }

            var items = 0;
            while (true)
            {
                JsonLexer.SkipWhitespace(s, ref pos);
                path.Add(~items);
                ScanValue(s, ref pos);
                items++;
                path.RemoveAt(path.Count - 1);
                if (!JsonLexer.Separator(s, ref pos, (byte)']'))
                {
                    depth--;
                    ref var e = ref index.At(arr);
                    e.A = items;
                    e.B = index.count;
                    return;
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

        private void ScanNumber(ReadOnlySpan<byte> s, ref int pos)
        {
            var start = pos;
            var length = JsonLexer.Integer(s, ref pos, options.MaxIntegerDigits).Length;
            var i = index.Add(start);
            index.At(i).A = length;
        }

        /// <summary>Checks a string as the parser decodes it and records it; returns its entry.</summary>
        private int ScanString(ReadOnlySpan<byte> s, ref int pos)
        {
            var start = pos;
            var discard = default(JsonLexer.Discard);
            var escaped = JsonLexer.String(s, ref pos, options, ref discard);
            return Record(start, pos - start, escaped);
        }

        private int Record(int start, int length, bool escaped)
        {
            var i = index.Add(start);
            index.At(i).A = length | (escaped ? EscapedFlag : 0);
            return i;
        }

        private JsonFormatException Fail(string reason, long offset) =>
            new(reason, JsonParser.FormatPath(path.Select(p => p < 0 ? (object)~p : index.GetString(p))), offset);

    }

    /// <summary>Key entries are equal when their values are (escapes decoded).</summary>
    internal sealed class KeyEquality(JsonIndex index) : IEqualityComparer<int>
    {
        public bool Equals(int x, int y) => index.StringEquals(x, y);

        public int GetHashCode(int obj) => index.StringHash(obj);
    }
}
