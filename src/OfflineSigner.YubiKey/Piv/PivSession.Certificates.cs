using OfflineSigner.YubiKey.Piv.Commands;

namespace OfflineSigner.YubiKey.Piv;

internal sealed partial class PivSession
{
    /// <summary>The content of a data object, or null when it is absent.</summary>
    public byte[]? GetObject(int objectId)
    {
        var command = new GetDataCommand(objectId);
        return command.Parse(Send(command.CreateCommandApdu()));
    }

    /// <summary>Writes a data object; needs management key authentication.</summary>
    public void PutObject(int objectId, ReadOnlyMemory<byte> content) =>
        new PutDataCommand(objectId, content).Check(Send(new PutDataCommand(objectId, content).CreateCommandApdu()));

    /// <summary>The DER certificate stored for <paramref name="slot"/>, or null.</summary>
    public byte[]? GetCertificate(PivSlot slot) =>
        GetObject(slot.CertificateObjectId) is { } content ? PivCertificateObject.Unwrap(content, slot.CertificateObjectId) : null;

    /// <summary>Stores a DER certificate for <paramref name="slot"/>; needs management key authentication.</summary>
    public void PutCertificate(PivSlot slot, ReadOnlySpan<byte> certificateDer) =>
        PutObject(slot.CertificateObjectId, PivCertificateObject.Wrap(certificateDer));
}
