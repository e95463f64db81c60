// Management key authentication: GENERAL AUTHENTICATE (SP 800-73-4 part 2 §3.2.4) with key reference 9B, mutual form
// (witness 80, challenge 81, response 82 inside dynamic authentication template 7C).
using System.Security.Cryptography;
using OfflineSigner.YubiKey.Apdu;

namespace OfflineSigner.YubiKey.Piv.Commands;

/// <summary>Step 1: ask the device for a witness (its random number, encrypted under the management key).</summary>
internal sealed class InitializeManagementAuthenticationCommand(PivManagementKeyAlgorithm algorithm)
{
    public const byte ManagementKeyReference = 0x9B;

    public CommandApdu CreateCommandApdu() =>
        new(0x00, 0x87, (byte)algorithm, ManagementKeyReference, new byte[] { 0x7C, 0x02, 0x80, 0x00 }, ne: 256);

    /// <summary>The encrypted witness (one cipher block).</summary>
    public static byte[] ParseWitness(ResponseApdu response, PivManagementKeyAlgorithm algorithm)
    {
        StatusWords.ThrowIfError(response, "GENERAL AUTHENTICATE", what: "management key");
        var witness = BerTlv.Find(BerTlv.Unwrap(response.Data, 0x7C), 0x80)
            ?? throw new YubiKeyException("the management key witness (7C/80) is missing from the device's answer");
        var block = PivManagementKeys.BlockSize(algorithm);
        return witness.Length == block
            ? witness.ToArray()
            : throw new YubiKeyException($"the management key witness is {witness.Length} bytes, not one {block}-byte block");
    }
}

/// <summary>Step 2: return the decrypted witness and challenge the device; its answer proves it holds the same key.</summary>
internal sealed class CompleteManagementAuthenticationCommand : IDisposable
{
    private readonly PivManagementKeyAlgorithm _algorithm;
    private readonly byte[] _data;

    public CompleteManagementAuthenticationCommand(PivManagementKeyAlgorithm algorithm, ReadOnlySpan<byte> decryptedWitness, ReadOnlySpan<byte> challenge)
    {
        _algorithm = algorithm;
        _data = BerTlv.Encode(0x7C, BerTlv.Concat(BerTlv.Encode(0x80, decryptedWitness), BerTlv.Encode(0x81, challenge)));
    }

    public CommandApdu CreateCommandApdu() =>
        new(0x00, 0x87, (byte)_algorithm, InitializeManagementAuthenticationCommand.ManagementKeyReference, _data, ne: 256, sensitive: true);

    public void Dispose() => CryptographicOperations.ZeroMemory(_data);

    /// <summary>The device's encryption of our challenge.</summary>
    public static byte[] ParseResponse(ResponseApdu response)
    {
        if (response.StatusWord == StatusWords.SecurityStatusNotSatisfied)
        {
            throw new PivSecurityStatusException("GENERAL AUTHENTICATE", response.StatusWord, "the device rejected the management key (69 82): it is not the key configured for this device");
        }

        StatusWords.ThrowIfError(response, "GENERAL AUTHENTICATE", what: "management key");
        return (BerTlv.Find(BerTlv.Unwrap(response.Data, 0x7C), 0x82)
            ?? throw new YubiKeyException("the device's management key response (7C/82) is missing")).ToArray();
    }
}

/// <summary>The management key ciphers: one block, ECB (the protocol encrypts single random blocks).</summary>
internal static class PivManagementKeys
{
    public static int BlockSize(PivManagementKeyAlgorithm algorithm) => algorithm == PivManagementKeyAlgorithm.TripleDes ? 8 : 16;

    public static int KeySize(PivManagementKeyAlgorithm algorithm) => algorithm switch
    {
        PivManagementKeyAlgorithm.TripleDes => 24,
        PivManagementKeyAlgorithm.Aes128 => 16,
        PivManagementKeyAlgorithm.Aes192 => 24,
        PivManagementKeyAlgorithm.Aes256 => 32,
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "not a management key algorithm"),
    };

    /// <summary>Encrypts or decrypts one block under the management key.</summary>
    public static byte[] Transform(PivManagementKeyAlgorithm algorithm, ReadOnlySpan<byte> key, ReadOnlySpan<byte> block, bool encrypt)
    {
        if (key.Length != KeySize(algorithm))
        {
            throw new ArgumentException($"a {algorithm} management key is {KeySize(algorithm)} bytes, not {key.Length}");
        }

        if (block.Length != BlockSize(algorithm))
        {
            throw new ArgumentException($"a {algorithm} block is {BlockSize(algorithm)} bytes");
        }

        // SymmetricAlgorithm wipes its own copy of the key when it is disposed; the copies made here are wiped at once.
        using var cipher = algorithm == PivManagementKeyAlgorithm.TripleDes ? TripleDesOrSingle(key) : WithKey(Aes.Create(), key);
        return encrypt ? cipher.EncryptEcb(block, PaddingMode.None) : cipher.DecryptEcb(block, PaddingMode.None);
    }

    private static SymmetricAlgorithm WithKey(SymmetricAlgorithm cipher, ReadOnlySpan<byte> key)
    {
        var copy = key.ToArray();
        try
        {
            cipher.Key = copy;
            return cipher;
        }
        catch
        {
            cipher.Dispose();
            throw;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(copy);
        }
    }

    /// <summary>
    /// 3DES-EDE with K1 = K2 or K2 = K3 is single DES (E_K3 or E_K1), which .NET refuses as a "weak" 3DES key. YubiKeys'
    /// default key 010203..08 three times is such a key, so those keys run as the single DES they are.
    /// </summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA5350:Do Not Use Weak Cryptographic Algorithms", Justification = "PIV management keys are 3DES by protocol (SP 800-78-4); the device decides, not us.")]
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA5351:Do Not Use Broken Cryptographic Primitives", Justification = "A 3DES key with two equal halves is single DES; the device computes exactly that.")]
    private static SymmetricAlgorithm TripleDesOrSingle(ReadOnlySpan<byte> key)
    {
        var k1 = key[..8];
        var k2 = key[8..16];
        var k3 = key[16..24];
        return k1.SequenceEqual(k2) || k2.SequenceEqual(k3)
            ? WithKey(DES.Create(), k1.SequenceEqual(k2) ? k3 : k1)
            : WithKey(TripleDES.Create(), key);
    }
}
