using OfflineSigner.YubiKey.Piv.Commands;

namespace OfflineSigner.YubiKey.Piv;

internal sealed partial class PivSession
{
    /// <summary>
    /// Generates a key in <paramref name="slot"/> (overwriting what is there: callers check first) and returns its
    /// SubjectPublicKeyInfo. Needs management key authentication in this session.
    /// </summary>
    public byte[] GenerateKeyPair(PivSlot slot, PivAlgorithm algorithm, PivPinPolicy pinPolicy, PivTouchPolicy touchPolicy)
    {
        if (slot == PivSlot.Attestation)
        {
            throw new ArgumentException("slot f9 holds the device's attestation key; signing keys go in 9a, 9c, 9d, 9e or 82..95");
        }

        if (algorithm is PivAlgorithm.Ed25519 or PivAlgorithm.Rsa3072 or PivAlgorithm.Rsa4096)
        {
            Require(FirmwareVersion.EucleakFixed, algorithm + " keys");
        }

        if (pinPolicy != PivPinPolicy.Default || touchPolicy != PivTouchPolicy.Default)
        {
            Require(new FirmwareVersion(4, 0, 0), "PIN and touch policies");
        }

        if (touchPolicy == PivTouchPolicy.Cached)
        {
            Require(new FirmwareVersion(4, 3, 0), "the cached touch policy");
        }

        var command = new GenerateKeyPairCommand(slot, algorithm, pinPolicy, touchPolicy);
        return command.Parse(Send(command.CreateCommandApdu()));
    }
}
