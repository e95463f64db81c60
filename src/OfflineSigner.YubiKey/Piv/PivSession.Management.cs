using System.Security.Cryptography;
using OfflineSigner.YubiKey.Piv.Commands;

namespace OfflineSigner.YubiKey.Piv;

internal sealed partial class PivSession
{
    /// <summary>
    /// The management key's algorithm: from GET METADATA on firmware 5.3 and later, else 3DES (the only one older devices have).
    /// </summary>
    public PivManagementKeyAlgorithm ManagementKeyAlgorithm()
    {
        if (Version < new FirmwareVersion(5, 3, 0))
        {
            return PivManagementKeyAlgorithm.TripleDes;
        }

        var metadata = new GetMetadataCommand(InitializeManagementAuthenticationCommand.ManagementKeyReference).Parse(Send(
            new GetMetadataCommand(InitializeManagementAuthenticationCommand.ManagementKeyReference).CreateCommandApdu()));
        return metadata?.Algorithm is { } algorithm ? (PivManagementKeyAlgorithm)(byte)algorithm : PivManagementKeyAlgorithm.TripleDes;
    }

    /// <summary>
    /// Mutual authentication with the management key: decrypts the device's witness, then checks the device's answer to
    /// our own challenge, so that a device without the key cannot pretend it accepted it. The caller wipes <paramref name="key"/>.
    /// </summary>
    /// <exception cref="PivSecurityStatusException">the device rejected the key.</exception>
    public void AuthenticateManagementKey(PivManagementKeyAlgorithm algorithm, ReadOnlySpan<byte> key)
    {
        if (key.Length != PivManagementKeys.KeySize(algorithm))
        {
            throw new ArgumentException($"a {algorithm} management key is {PivManagementKeys.KeySize(algorithm)} bytes, not {key.Length}");
        }

        using var transaction = BeginTransaction();
        var witness = InitializeManagementAuthenticationCommand.ParseWitness(Send(new InitializeManagementAuthenticationCommand(algorithm).CreateCommandApdu()), algorithm);
        var decrypted = PivManagementKeys.Transform(algorithm, key, witness, encrypt: false);
        var challenge = RandomNumberGenerator.GetBytes(PivManagementKeys.BlockSize(algorithm));
        byte[]? expected = null;
        try
        {
            byte[] answer;
            using (var complete = new CompleteManagementAuthenticationCommand(algorithm, decrypted, challenge))
            {
                answer = CompleteManagementAuthenticationCommand.ParseResponse(Send(complete.CreateCommandApdu()));
            }

            expected = PivManagementKeys.Transform(algorithm, key, challenge, encrypt: true);
            if (!CryptographicOperations.FixedTimeEquals(answer, expected))
            {
                throw new YubiKeyException("the device accepted the management key but did not prove it holds it (wrong answer to our challenge)");
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(decrypted);
            if (expected is not null)
            {
                CryptographicOperations.ZeroMemory(expected);
            }
        }
    }
}
