// GET DATA (SP 800-73-4 part 2 §3.1.2) and PUT DATA (§3.3.1) on PIV data objects; certificates are stored as
// 53 { 70 certificate, 71 CertInfo (00: not compressed), FE LRC (empty) } (part 1 appendix A).
using OfflineSigner.YubiKey.Apdu;

namespace OfflineSigner.YubiKey.Piv.Commands;

/// <summary>GET DATA for one object: its content (inside tag 53), or null when the object is absent (6A 82).</summary>
internal sealed class GetDataCommand(int objectId)
{
    public CommandApdu CreateCommandApdu() => new(0x00, 0xCB, 0x3F, 0xFF, BerTlv.Encode(0x5C, ObjectIdBytes(objectId)), ne: 65536);

    public byte[]? Parse(ResponseApdu response)
    {
        if (response.StatusWord == StatusWords.FileNotFound)
        {
            return null;
        }

        StatusWords.ThrowIfError(response, "GET DATA", what: $"object {objectId:X6}");
        try
        {
            return BerTlv.Unwrap(response.Data, 0x53).ToArray();
        }
        catch (FormatException e)
        {
            throw new YubiKeyException($"object {objectId:X6} is malformed: {e.Message}", e);
        }
    }

    internal static byte[] ObjectIdBytes(int objectId) => [(byte)(objectId >> 16), (byte)(objectId >> 8), (byte)objectId];
}

/// <summary>PUT DATA for one object; needs management key authentication.</summary>
internal sealed class PutDataCommand(int objectId, ReadOnlyMemory<byte> content)
{
    public CommandApdu CreateCommandApdu() =>
        new(0x00, 0xDB, 0x3F, 0xFF, BerTlv.Concat(BerTlv.Encode(0x5C, GetDataCommand.ObjectIdBytes(objectId)), BerTlv.Encode(0x53, content.Span)));

    public void Check(ResponseApdu response)
    {
        if (response.StatusWord == StatusWords.SecurityStatusNotSatisfied)
        {
            throw new PivSecurityStatusException("PUT DATA", response.StatusWord, "writing a data object needs the management key (69 82)");
        }

        StatusWords.ThrowIfError(response, "PUT DATA", what: $"object {objectId:X6}");
    }
}

/// <summary>The certificate object's content: certificate, CertInfo, LRC.</summary>
internal static class PivCertificateObject
{
    public static byte[] Wrap(ReadOnlySpan<byte> certificateDer) =>
        BerTlv.Concat(BerTlv.Encode(0x70, certificateDer), BerTlv.Encode(0x71, [0x00]), BerTlv.Encode(0xFE, []));

    /// <summary>The DER certificate in an object's content.</summary>
    public static byte[] Unwrap(ReadOnlyMemory<byte> content, int objectId)
    {
        try
        {
            var certificate = BerTlv.Find(content, 0x70) ?? throw new FormatException("no certificate (tag 70)");
            if (BerTlv.Find(content, 0x71) is { Length: > 0 } info && info.Span[0] != 0)
            {
                throw new FormatException("the certificate is compressed (CertInfo 71 is not 00), which is not supported");
            }

            return certificate.ToArray();
        }
        catch (FormatException e)
        {
            throw new YubiKeyException($"object {objectId:X6} is not a certificate object: {e.Message}", e);
        }
    }
}
