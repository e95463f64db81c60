using System.Runtime.InteropServices;

namespace OfflineSigner.Pkcs11.Interop;

/// <summary>
/// A CK_ATTRIBUTE array and the values it points to, in one native allocation: the array first, then the values,
/// each 8-byte aligned. Zeroed before it is freed.
/// </summary>
internal sealed unsafe class NativeAttributeTemplate : IDisposable
{
    private byte* _block;
    private readonly int _blockLength;

    private NativeAttributeTemplate(int count, int blockLength)
    {
        Count = count;
        _blockLength = blockLength;
        _block = (byte*)NativeMemory.AllocZeroed((nuint)Math.Max(blockLength, 1));
    }

    public int Count { get; }

    public CkAttribute* Attributes => (CkAttribute*)_block;

    /// <summary>The whole block, for byte-level inspection.</summary>
    public ReadOnlySpan<byte> Bytes => new(_block, _blockLength);

    /// <summary>Offset of the first value (the size of the attribute array).</summary>
    public int ValuesOffset => Count * sizeof(CkAttribute);

    /// <summary>A template whose values are copies of the attributes' values.</summary>
    public static NativeAttributeTemplate From(IReadOnlyList<ObjectAttribute> attributes)
    {
        var lengths = new int[attributes.Count];
        for (var i = 0; i < attributes.Count; i++)
        {
            lengths[i] = attributes[i].Value?.Length ?? 0;
        }

        var template = Allocate(attributes.Count, i => (CkUlong)attributes[i].Type, lengths);
        for (var i = 0; i < attributes.Count; i++)
        {
            var value = attributes[i].Value;
            if (value is { Length: > 0 })
            {
                value.CopyTo(new Span<byte>((void*)template.Attributes[i].Value, value.Length));
            }
        }

        return template;
    }

    /// <summary>A template for C_GetAttributeValue's first pass: types only, null values, zero lengths.</summary>
    public static NativeAttributeTemplate ForLengths(IReadOnlyList<CkUlong> types)
    {
        var template = new NativeAttributeTemplate(types.Count, types.Count * sizeof(CkAttribute));
        for (var i = 0; i < types.Count; i++)
        {
            template.Attributes[i].Type = types[i];
        }

        return template;
    }

    /// <summary>A template with zeroed buffers of the given lengths (negative: the attribute is skipped with a null value).</summary>
    public static NativeAttributeTemplate Allocate(int count, Func<int, CkUlong> type, IReadOnlyList<int> lengths)
    {
        var arrayLength = count * sizeof(CkAttribute);
        var total = arrayLength;
        for (var i = 0; i < count; i++)
        {
            total += Align8(Math.Max(lengths[i], 0));
        }

        var template = new NativeAttributeTemplate(count, total);
        var offset = arrayLength;
        for (var i = 0; i < count; i++)
        {
            ref var a = ref template.Attributes[i];
            a.Type = type(i);
            if (lengths[i] < 0)
            {
                a.Value = 0;
                a.ValueLen = 0;
                continue;
            }

            a.Value = lengths[i] == 0 ? 0 : (nint)(template._block + offset);
            a.ValueLen = (CkUlong)lengths[i];
            offset += Align8(lengths[i]);
        }

        return template;
    }

    /// <summary>The value of attribute <paramref name="index"/> after a call, or null when the module could not give it.</summary>
    public byte[]? ReadValue(int index)
    {
        var a = Attributes[index];
        if (a.ValueLen == Pkcs11Layout.UnavailableInformation || (a.Value == 0 && a.ValueLen != 0))
        {
            return null;
        }

        return a.ValueLen == 0 ? [] : new ReadOnlySpan<byte>((void*)a.Value, checked((int)a.ValueLen)).ToArray();
    }

    public void Dispose()
    {
        if (_block != null)
        {
            NativeMemory.Clear(_block, (nuint)Math.Max(_blockLength, 1));
            NativeMemory.Free(_block);
            _block = null;
        }
    }

    private static int Align8(int n) => (n + 7) & ~7;
}
