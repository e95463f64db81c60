// BER-TLV as ISO/IEC 7816-4 §5.2 and X.690 encode it, restricted to what PIV uses: one- and two-byte tags, definite
// lengths in short form or long form up to three length bytes.
namespace OfflineSigner.YubiKey.Apdu;

/// <summary>Builds and reads the tag-length-value structures of PIV commands and responses.</summary>
internal static class BerTlv
{
    /// <summary>The encoding of <paramref name="tag"/> (one or two bytes), the length of <paramref name="value"/>, and the value.</summary>
    public static byte[] Encode(int tag, ReadOnlySpan<byte> value)
    {
        var tagBytes = tag > 0xFF ? 2 : 1;
        var lengthBytes = LengthSize(value.Length);
        var result = new byte[tagBytes + lengthBytes + value.Length];
        var at = 0;
        if (tagBytes == 2)
        {
            result[at++] = (byte)(tag >> 8);
        }

        result[at++] = (byte)tag;
        at += WriteLength(result.AsSpan(at), value.Length);
        value.CopyTo(result.AsSpan(at));
        return result;
    }

    /// <summary>Several encoded TLVs (or any byte strings) one after another.</summary>
    public static byte[] Concat(params ReadOnlySpan<byte[]> parts)
    {
        var total = 0;
        foreach (var part in parts)
        {
            total += part.Length;
        }

        var result = new byte[total];
        var at = 0;
        foreach (var part in parts)
        {
            part.CopyTo(result, at);
            at += part.Length;
        }

        return result;
    }

    /// <summary>The number of bytes the length field of a value of <paramref name="length"/> bytes takes.</summary>
    public static int LengthSize(int length) => length switch
    {
        < 0x80 => 1,
        <= 0xFF => 2,
        <= 0xFFFF => 3,
        _ => 4,
    };

    /// <summary>Writes a definite length; returns the bytes written.</summary>
    public static int WriteLength(Span<byte> destination, int length)
    {
        switch (length)
        {
            case < 0x80:
                destination[0] = (byte)length;
                return 1;
            case <= 0xFF:
                destination[0] = 0x81;
                destination[1] = (byte)length;
                return 2;
            case <= 0xFFFF:
                destination[0] = 0x82;
                destination[1] = (byte)(length >> 8);
                destination[2] = (byte)length;
                return 3;
            default:
                destination[0] = 0x83;
                destination[1] = (byte)(length >> 16);
                destination[2] = (byte)(length >> 8);
                destination[3] = (byte)length;
                return 4;
        }
    }

    /// <summary>
    /// Reads one TLV at the start of <paramref name="input"/>: its tag, value and total encoded size.
    /// </summary>
    /// <exception cref="FormatException">truncated, indefinite or over-long encoding.</exception>
    public static (int Tag, ReadOnlyMemory<byte> Value, int Size) Read(ReadOnlyMemory<byte> input)
    {
        var span = input.Span;
        if (span.Length < 2)
        {
            throw new FormatException("truncated TLV: no tag and length");
        }

        var at = 0;
        int tag = span[at++];
        if ((tag & 0x1F) == 0x1F)
        {
            // A multi-byte tag: PIV uses two-byte ones only (7F 49, 5F xx).
            if (span.Length < 3)
            {
                throw new FormatException("truncated TLV: two-byte tag without length");
            }

            tag = (tag << 8) | span[at++];
            if ((tag & 0x80) != 0)
            {
                throw new FormatException($"tags longer than two bytes are not used here (tag starts {tag:X4})");
            }
        }

        int length = span[at++];
        if (length == 0x80)
        {
            throw new FormatException("indefinite lengths are not allowed");
        }

        if (length > 0x80)
        {
            var count = length & 0x7F;
            if (count > 3 || at + count > span.Length)
            {
                throw new FormatException("truncated or over-long TLV length");
            }

            length = 0;
            for (var i = 0; i < count; i++)
            {
                length = (length << 8) | span[at++];
            }
        }

        if (at + length > span.Length)
        {
            throw new FormatException($"TLV with tag {tag:X2} claims {length} bytes but {span.Length - at} remain");
        }

        return (tag, input.Slice(at, length), at + length);
    }

    /// <summary>Every TLV in <paramref name="input"/>, in order; the whole input must be TLVs.</summary>
    public static List<(int Tag, ReadOnlyMemory<byte> Value)> ReadAll(ReadOnlyMemory<byte> input)
    {
        var result = new List<(int, ReadOnlyMemory<byte>)>();
        while (!input.IsEmpty)
        {
            var (tag, value, size) = Read(input);
            result.Add((tag, value));
            input = input[size..];
        }

        return result;
    }

    /// <summary>The value of the single TLV that makes up <paramref name="input"/>, which must carry <paramref name="tag"/>.</summary>
    public static ReadOnlyMemory<byte> Unwrap(ReadOnlyMemory<byte> input, int tag)
    {
        var (found, value, size) = Read(input);
        if (found != tag)
        {
            throw new FormatException($"expected tag {tag:X2}, found {found:X2}");
        }

        if (size != input.Length)
        {
            throw new FormatException($"{input.Length - size} bytes follow the TLV with tag {tag:X2}");
        }

        return value;
    }

    /// <summary>The value of the first TLV with <paramref name="tag"/> among <paramref name="input"/>'s TLVs, or null.</summary>
    public static ReadOnlyMemory<byte>? Find(ReadOnlyMemory<byte> input, int tag)
    {
        foreach (var (t, v) in ReadAll(input))
        {
            if (t == tag)
            {
                return v;
            }
        }

        return null;
    }
}
