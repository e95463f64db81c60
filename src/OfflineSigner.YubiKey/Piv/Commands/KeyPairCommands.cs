// GENERATE ASYMMETRIC KEY PAIR (SP 800-73-4 part 2 §3.3.2) with Yubico's PIN (AA) and touch (AB) policy tags.
using OfflineSigner.YubiKey.Apdu;

namespace OfflineSigner.YubiKey.Piv.Commands;

/// <summary>Generates a key in a slot; needs management key authentication.</summary>
internal sealed class GenerateKeyPairCommand(PivSlot slot, PivAlgorithm algorithm, PivPinPolicy pinPolicy, PivTouchPolicy touchPolicy)
{
    public CommandApdu CreateCommandApdu()
    {
        var template = new List<byte[]> { BerTlv.Encode(0x80, [(byte)algorithm]) };
        if (pinPolicy != PivPinPolicy.Default)
        {
            template.Add(BerTlv.Encode(0xAA, [(byte)pinPolicy]));
        }

        if (touchPolicy != PivTouchPolicy.Default)
        {
            template.Add(BerTlv.Encode(0xAB, [(byte)touchPolicy]));
        }

        return new CommandApdu(0x00, 0x47, 0x00, slot.Value, BerTlv.Encode(0xAC, BerTlv.Concat([.. template])), ne: 65536);
    }

    /// <summary>The new public key as DER SubjectPublicKeyInfo.</summary>
    public byte[] Parse(ResponseApdu response)
    {
        if (response.StatusWord == StatusWords.SecurityStatusNotSatisfied)
        {
            throw new PivSecurityStatusException("GENERATE ASYMMETRIC KEY PAIR", response.StatusWord, "generating a key needs the management key (69 82)");
        }

        StatusWords.ThrowIfError(response, "GENERATE ASYMMETRIC KEY PAIR", what: $"slot {slot}, {algorithm}");
        return PivPublicKey.ToSubjectPublicKeyInfo(algorithm, BerTlv.Unwrap(response.Data, 0x7F49));
    }
}
