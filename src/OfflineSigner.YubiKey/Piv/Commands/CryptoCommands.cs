// GENERAL AUTHENTICATE (SP 800-73-4 part 2 §3.2.4) for a private key operation: 7C { 82 (empty: response wanted),
// 81 challenge }; the answer is 7C { 82 signature }.
using OfflineSigner.YubiKey.Apdu;

namespace OfflineSigner.YubiKey.Piv.Commands;

/// <summary>Signs <c>input</c> with the key in a slot: a hash for ECDSA, the padded block for RSA, the message for Ed25519.</summary>
internal sealed class SignCommand(PivSlot slot, PivAlgorithm algorithm, ReadOnlyMemory<byte> input)
{
    public CommandApdu CreateCommandApdu()
    {
        var inner = BerTlv.Concat([0x82, 0x00], BerTlv.Encode(0x81, input.Span));
        return new CommandApdu(0x00, 0x87, (byte)algorithm, slot.Value, BerTlv.Encode(0x7C, inner), ne: 65536);
    }

    /// <summary>The device's output: DER for ECDSA, m^d for RSA, 64 bytes for Ed25519.</summary>
    public byte[] Parse(ResponseApdu response)
    {
        if (response.StatusWord == StatusWords.SecurityStatusNotSatisfied)
        {
            throw new PivSecurityStatusException("GENERAL AUTHENTICATE", response.StatusWord,
                $"the key in slot {slot} was not unlocked (69 82): its PIN was not verified for this signature, or the touch did not come in time");
        }

        if (response.StatusWord == StatusWords.IncorrectData || response.StatusWord == StatusWords.ReferenceNotFound)
        {
            throw new PivNotFoundException("GENERAL AUTHENTICATE", response.StatusWord,
                $"slot {slot} holds no {algorithm} key ({response.Sw1:X2} {response.Sw2:X2})");
        }

        StatusWords.ThrowIfError(response, "GENERAL AUTHENTICATE", what: $"slot {slot}");
        return (BerTlv.Find(BerTlv.Unwrap(response.Data, 0x7C), 0x82)
            ?? throw new YubiKeyException("the signature (7C/82) is missing from the device's answer")).ToArray();
    }
}
