// Yubico's ATTEST (F9): a certificate for a slot's key, signed by the device's attestation key in slot f9.
using OfflineSigner.YubiKey.Apdu;

namespace OfflineSigner.YubiKey.Piv.Commands;

/// <summary>ATTEST: the slot's attestation certificate (bare DER); 6A 80 when the slot is empty or its key imported.</summary>
internal sealed class AttestCommand(PivSlot slot)
{
    public CommandApdu CreateCommandApdu() => new(0x00, 0xF9, slot.Value, 0x00, ne: 65536);

    public byte[] Parse(ResponseApdu response)
    {
        if (response.StatusWord is StatusWords.IncorrectData or StatusWords.ReferenceNotFound)
        {
            throw new PivNotFoundException("ATTEST", response.StatusWord,
                $"slot {slot} cannot be attested ({response.Sw1:X2} {response.Sw2:X2}): it is empty or its key was imported, not generated on the device");
        }

        StatusWords.ThrowIfError(response, "ATTEST", what: $"slot {slot}");
        return response.Data.Length > 0 ? response.Data : throw new YubiKeyException("ATTEST returned no certificate");
    }
}
