using OfflineSigner.YubiKey.Piv.Commands;

namespace OfflineSigner.YubiKey.Piv;

internal sealed partial class PivSession
{
    /// <summary>
    /// One private key operation in <paramref name="slot"/>: <paramref name="input"/> is the hash (ECDSA, at most the
    /// field size), the padded block (RSA, the modulus size) or the message (Ed25519). Returns what the device returns.
    /// </summary>
    public byte[] Sign(PivSlot slot, PivAlgorithm algorithm, ReadOnlyMemory<byte> input)
    {
        var size = PivAlgorithms.InputSize(algorithm);
        if (PivAlgorithms.IsRsa(algorithm) && input.Length != size)
        {
            throw new ArgumentException($"an {algorithm} input is {size} bytes (the padded block), not {input.Length}");
        }

        if (PivAlgorithms.IsEcdsa(algorithm) && input.Length > size)
        {
            throw new ArgumentException($"an {algorithm} input is at most {size} bytes (a hash), not {input.Length}");
        }

        var command = new SignCommand(slot, algorithm, input);
        return command.Parse(Send(command.CreateCommandApdu()));
    }
}
