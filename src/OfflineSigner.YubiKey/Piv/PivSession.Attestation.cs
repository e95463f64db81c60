using OfflineSigner.YubiKey.Piv.Commands;

namespace OfflineSigner.YubiKey.Piv;

internal sealed partial class PivSession
{
    /// <summary>
    /// The slot's attestation certificate and the device's attestation (f9) certificate that signed it, in that order.
    /// </summary>
    /// <exception cref="PivNotFoundException">the slot is empty or its key was imported.</exception>
    public (byte[] Slot, byte[] Intermediate) Attest(PivSlot slot)
    {
        Require(new FirmwareVersion(4, 3, 0), "attestation");
        using var transaction = BeginTransaction();
        var command = new AttestCommand(slot);
        var certificate = command.Parse(Send(command.CreateCommandApdu()));
        var intermediate = GetCertificate(PivSlot.Attestation)
            ?? throw new YubiKeyException("the device has no attestation certificate in slot f9 (object 5FFF01)");
        return (certificate, intermediate);
    }
}
