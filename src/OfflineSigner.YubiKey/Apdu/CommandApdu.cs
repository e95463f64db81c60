// Command APDUs as ISO/IEC 7816-4 §5.1 encodes them: short (Lc, Le one byte) and extended (three-byte Lc, two-byte Le).
using System.Security.Cryptography;

namespace OfflineSigner.YubiKey.Apdu;

/// <summary>
/// One command to a card. <see cref="Data"/> is the caller's: when <see cref="Sensitive"/> is set (a PIN, a management
/// key response), every buffer the encoding makes of it is wiped after it was sent.
/// </summary>
internal sealed class CommandApdu
{
    /// <summary>The largest data field one short command carries.</summary>
    public const int MaxShortData = 255;

    /// <summary>The largest data field one extended command carries.</summary>
    public const int MaxExtendedData = 65535;

    public CommandApdu(byte cla, byte ins, byte p1, byte p2, ReadOnlyMemory<byte> data = default, int ne = 0, bool sensitive = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(ne);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(ne, 65536);
        Cla = cla;
        Ins = ins;
        P1 = p1;
        P2 = p2;
        Data = data;
        Ne = ne;
        Sensitive = sensitive;
    }

    public byte Cla { get; }

    public byte Ins { get; }

    public byte P1 { get; }

    public byte P2 { get; }

    public ReadOnlyMemory<byte> Data { get; }

    /// <summary>The most response data expected: 0 for none (no Le field), up to 256 short or 65536 extended.</summary>
    public int Ne { get; }

    /// <summary>The data field is a secret.</summary>
    public bool Sensitive { get; }

    /// <summary>The same command with another class byte (command chaining sets bit 0x10) and a slice of the data.</summary>
    public CommandApdu WithChunk(byte cla, ReadOnlyMemory<byte> data, int ne) => new(cla, Ins, P1, P2, data, ne, Sensitive);

    /// <summary>
    /// The encoded command. Short form needs data of at most 255 bytes and asks for at most 256 (a longer answer then
    /// comes in parts, 61 xx); extended form takes up to 65535 bytes and Ne up to 65536. The caller wipes the result
    /// when <see cref="Sensitive"/> is set.
    /// </summary>
    public byte[] Encode(bool extended)
    {
        var lc = Data.Length;
        if (!extended && lc > MaxShortData)
        {
            throw new ArgumentException($"a short APDU carries at most {MaxShortData} data bytes, not {lc} (chain it)");
        }

        var ne = extended ? Ne : Math.Min(Ne, 256);

        if (lc > MaxExtendedData)
        {
            throw new ArgumentException($"an APDU carries at most {MaxExtendedData} data bytes, not {lc}");
        }

        var size = 4;
        if (extended)
        {
            size += (lc > 0 ? 3 + lc : 0) + (ne > 0 ? (lc > 0 ? 2 : 3) : 0);
        }
        else
        {
            size += (lc > 0 ? 1 + lc : 0) + (ne > 0 ? 1 : 0);
        }

        var buffer = new byte[size];
        buffer[0] = Cla;
        buffer[1] = Ins;
        buffer[2] = P1;
        buffer[3] = P2;
        var at = 4;
        if (extended)
        {
            if (lc > 0)
            {
                buffer[at++] = 0;
                buffer[at++] = (byte)(lc >> 8);
                buffer[at++] = (byte)lc;
                Data.Span.CopyTo(buffer.AsSpan(at));
                at += lc;
            }

            if (ne > 0)
            {
                if (lc == 0)
                {
                    buffer[at++] = 0;
                }

                // 65536 is written as 00 00.
                buffer[at++] = (byte)((ne >> 8) & 0xFF);
                buffer[at++] = (byte)(ne & 0xFF);
            }
        }
        else
        {
            if (lc > 0)
            {
                buffer[at++] = (byte)lc;
                Data.Span.CopyTo(buffer.AsSpan(at));
                at += lc;
            }

            if (ne > 0)
            {
                // 256 is written as 00.
                buffer[at++] = (byte)(ne & 0xFF);
            }
        }

        return buffer;
    }

    /// <summary>Wipes an encoding of this command if it carries a secret.</summary>
    public void Wipe(byte[] encoded)
    {
        if (Sensitive)
        {
            CryptographicOperations.ZeroMemory(encoded);
        }
    }
}
