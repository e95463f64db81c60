using System.Buffers;
using System.Diagnostics;
using System.Security.Cryptography;

namespace OfflineSigner.Tuf.Json;

/// <summary>One value of a <see cref="JsonIndex"/>: its kind, members, items, and canonical bytes, read from the source bytes.</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1815:Override equals and operator equals on value types", Justification = "A position in an index; values are compared by their content, not their position.")]
public readonly struct JsonIndexValue
{
    // Canonical bytes go to a stream or a hash through a buffer of this size.
    private const int ChunkBytes = 64 * 1024;

    private readonly JsonIndex index;
    private readonly int entry;

    internal JsonIndexValue(JsonIndex index, int entry)
    {
        this.index = index;
        this.entry = entry;
    }

    /// <summary>The index this value belongs to.</summary>
    internal JsonIndex Owner => index;

    /// <summary>The value's entry in <see cref="Owner"/>.</summary>
    internal int Entry => entry;

    /// <summary>The kind of value.</summary>
    public JsonKind Kind => index.KindOf(entry);

    /// <summary>The number of members of an object or items of an array (0 for other values).</summary>
    public int Count => Kind is JsonKind.Object or JsonKind.Array ? index.At(entry).A : 0;

    /// <summary>Where the value starts in the document, in bytes.</summary>
    public int Offset => index.At(entry).Start;

    /// <summary>A short lowercase name of the kind, for error messages (as <see cref="JsonNode.KindName"/>).</summary>
    public string KindName => Kind switch
    {
        JsonKind.Object => "object",
        JsonKind.Array => "array",
        JsonKind.String => "string",
        JsonKind.Integer => "integer",
        JsonKind.Boolean => "boolean",
        _ => "null",
    };

    /// <summary>Looks up a member of an object by name.</summary>
    /// <exception cref="InvalidOperationException">the value is not an object.</exception>
    public bool TryGetProperty(string name, out JsonIndexValue value)
    {
        ArgumentNullException.ThrowIfNull(name);
        RequireKind(JsonKind.Object);
        var found = index.FindMember(entry, name);
        value = found < 0 ? default : new JsonIndexValue(index, found);
        return found >= 0;
    }

    /// <summary>Looks up a member of an object by the UTF-8 bytes of its name.</summary>
    internal bool TryGetProperty(ReadOnlySpan<byte> utf8Name, out JsonIndexValue value)
    {
        RequireKind(JsonKind.Object);
        var found = index.FindMember(entry, utf8Name);
        value = found < 0 ? default : new JsonIndexValue(index, found);
        return found >= 0;
    }

    /// <summary>The members of an object in document order, their names decoded.</summary>
    /// <exception cref="InvalidOperationException">the value is not an object.</exception>
    public IEnumerable<KeyValuePair<string, JsonIndexValue>> EnumerateProperties()
    {
        RequireKind(JsonKind.Object);
        return Members(index, entry);

        static IEnumerable<KeyValuePair<string, JsonIndexValue>> Members(JsonIndex index, int obj)
        {
            var n = index.At(obj).A;
            var k = obj + 1;
            for (var m = 0; m < n; m++)
            {
                yield return new(index.GetString(k), new JsonIndexValue(index, k + 1));
                k = index.Next(k + 1);
            }
        }
    }

    /// <summary>The items of an array in order.</summary>
    /// <exception cref="InvalidOperationException">the value is not an array.</exception>
    public IEnumerable<JsonIndexValue> EnumerateItems()
    {
        RequireKind(JsonKind.Array);
        return Items(index, entry);

        static IEnumerable<JsonIndexValue> Items(JsonIndex index, int arr)
        {
            var n = index.At(arr).A;
            var k = arr + 1;
            for (var m = 0; m < n; m++)
            {
                yield return new JsonIndexValue(index, k);
                k = index.Next(k);
            }
        }
    }

    /// <summary>The value of a string, escapes decoded.</summary>
    /// <exception cref="InvalidOperationException">the value is not a string.</exception>
    public string GetString()
    {
        RequireKind(JsonKind.String);
        return index.GetString(entry);
    }

    /// <summary>The value as a tree, exactly as <see cref="JsonParser"/> would have built it.</summary>
    public JsonNode ToJsonNode() => index.ToNode(entry);

    /// <summary>The length of the value's canonical bytes.</summary>
    public long CanonicalLength() => SizeOf(index, entry);

    /// <summary>The canonical bytes of the value, byte-identical to <see cref="CanonicalJson.Serialize"/> of its tree.</summary>
    public byte[] CanonicalBytes()
    {
        var bytes = GC.AllocateUninitializedArray<byte>(checked((int)CanonicalLength()));
        var output = new Output(bytes, null);
        Write(index, entry, output);
        Debug.Assert(output.Position == bytes.Length, "size pass and write pass disagree");
        return bytes;
    }

    /// <summary>Writes the canonical bytes to a stream, through a small buffer.</summary>
    public void WriteCanonical(Stream destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        Stream(destination.Write);
    }

    /// <summary>The digest of the canonical bytes, computed while they are written (never held whole).</summary>
    public byte[] CanonicalHash(HashAlgorithmName algorithm)
    {
        using var hash = IncrementalHash.CreateHash(algorithm);
        Stream(hash.AppendData);
        return hash.GetHashAndReset();
    }

    private void Stream(Action<byte[], int, int> sink)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            var output = new Output(buffer, sink);
            Write(index, entry, output);
            output.Flush();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void RequireKind(JsonKind kind)
    {
        if (index is null)
        {
            throw new InvalidOperationException("the default JsonIndexValue is no value");
        }

        if (Kind != kind)
        {
            throw new InvalidOperationException($"expected {kind.ToString().ToLowerInvariant()}, found {KindName}");
        }
    }

    private static long SizeOf(JsonIndex index, int entry)
    {
        // One pass over the entries of the value: scalars by their source bytes, containers by their punctuation.
        var end = index.Next(entry);
        long size = 0;
        for (var i = entry; i < end; i++)
        {
            ref var e = ref index.At(i);
            switch (index.KindOf(i))
            {
                case JsonKind.Object:
                    size += e.A == 0 ? 2 : 2 * e.A + 1; // braces, colons and commas
                    break;
                case JsonKind.Array:
                    size += e.A == 0 ? 2 : e.A + 1; // brackets and commas
                    break;
                case JsonKind.String:
                    size += index.TryRawString(i, out var raw) ? raw.Length + 2 : EscapedSize(index.DecodeString(i));
                    break;
                default:
                    size += IsNegativeZero(index.Source(i)) ? 1 : index.Source(i).Length;
                    break;
            }
        }

        return size;
    }

    private static long EscapedSize(ReadOnlySpan<byte> value)
    {
        long size = value.Length + 2;
        foreach (var b in value)
        {
            if (b is (byte)'"' or (byte)'\\')
            {
                size++;
            }
        }

        return size;
    }

    // "-0" is the integer 0, written "0"; every other integer the strict grammar accepts is written as it was read.
    private static bool IsNegativeZero(ReadOnlySpan<byte> source) => source.SequenceEqual("-0"u8);

    /// <summary>Writes a value; returns the entry after it.</summary>
    private static int Write(JsonIndex index, int i, Output output)
    {
        ref var e = ref index.At(i);
        switch (index.KindOf(i))
        {
            case JsonKind.Object:
            {
                output.Put((byte)'{');
                if (index.IsReordered(i, out var keys))
                {
                    for (var m = 0; m < keys.Length; m++)
                    {
                        if (m > 0)
                        {
                            output.Put((byte)',');
                        }

                        WriteString(index, keys[m], output);
                        output.Put((byte)':');
                        Write(index, keys[m] + 1, output);
                    }
                }
                else
                {
                    var k = i + 1;
                    for (var m = 0; m < e.A; m++)
                    {
                        if (m > 0)
                        {
                            output.Put((byte)',');
                        }

                        WriteString(index, k, output);
                        output.Put((byte)':');
                        k = Write(index, k + 1, output);
                    }
                }

                output.Put((byte)'}');
                return e.B;
            }

            case JsonKind.Array:
            {
                output.Put((byte)'[');
                var k = i + 1;
                for (var m = 0; m < e.A; m++)
                {
                    if (m > 0)
                    {
                        output.Put((byte)',');
                    }

                    k = Write(index, k, output);
                }

                output.Put((byte)']');
                return e.B;
            }

            case JsonKind.String:
                WriteString(index, i, output);
                return i + 1;
            default:
                var source = index.Source(i);
                output.Put(IsNegativeZero(source) ? "0"u8 : source);
                return i + 1;
        }
    }

    private static void WriteString(JsonIndex index, int i, Output output)
    {
        if (index.TryRawString(i, out _))
        {
            // Without escapes the source is already canonical: valid UTF-8, no '"' or '\' inside.
            output.Put(index.Source(i));
            return;
        }

        output.Put((byte)'"');
        ReadOnlySpan<byte> rest = index.DecodeString(i);
        int at;
        while ((at = rest.IndexOfAny((byte)'"', (byte)'\\')) >= 0)
        {
            output.Put(rest[..at]);
            output.Put((byte)'\\');
            output.Put(rest[at]);
            rest = rest[(at + 1)..];
        }

        output.Put(rest);
        output.Put((byte)'"');
    }

    /// <summary>A buffer that is either the exact destination, or flushed to a sink whenever it fills.</summary>
    private sealed class Output(byte[] buffer, Action<byte[], int, int>? sink)
    {
        public int Position { get; private set; }

        public void Put(byte b)
        {
            if (Position == buffer.Length)
            {
                Flush();
            }

            buffer[Position++] = b;
        }

        public void Put(ReadOnlySpan<byte> data)
        {
            while (data.Length > buffer.Length - Position)
            {
                var n = buffer.Length - Position;
                data[..n].CopyTo(buffer.AsSpan(Position));
                Position += n;
                Flush();
                data = data[n..];
            }

            data.CopyTo(buffer.AsSpan(Position));
            Position += data.Length;
        }

        public void Flush()
        {
            if (sink is null)
            {
                throw new InvalidOperationException("canonical output longer than its computed size");
            }

            sink(buffer, 0, Position);
            Position = 0;
        }
    }
}
