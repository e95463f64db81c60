// EMSA-PSS-ENCODE (RFC 8017 §9.1.1) with MGF1 (appendix B.2.1) over the same hash, salt as long as the digest: a PIV
// card computes raw RSA (m^d mod n), so the padding is made on the host.
using System.Security.Cryptography;

namespace OfflineSigner.YubiKey.Piv;

internal static class RsaPss
{
    /// <summary>The encoded message of <paramref name="modulusBits"/> - 1 bits (as <paramref name="modulusBits"/>/8 bytes) for <paramref name="message"/>.</summary>
    public static byte[] Encode(ReadOnlySpan<byte> message, HashAlgorithmName hash, int modulusBits)
    {
        var messageHash = Hash(hash, message);
        var hashLength = messageHash.Length;
        var emBits = modulusBits - 1;
        var emLength = (emBits + 7) / 8;
        if (emLength < (2 * hashLength) + 2)
        {
            throw new ArgumentException($"an RSA key of {modulusBits} bits is too short for PSS with {hash.Name}");
        }

        var salt = RandomNumberGenerator.GetBytes(hashLength);
        var prefixed = new byte[8 + hashLength + hashLength];
        messageHash.CopyTo(prefixed, 8);
        salt.CopyTo(prefixed, 8 + hashLength);
        var h = Hash(hash, prefixed);

        var dbLength = emLength - hashLength - 1;
        var db = new byte[dbLength];
        db[dbLength - hashLength - 1] = 0x01;
        salt.CopyTo(db, dbLength - hashLength);
        var mask = Mgf1(hash, h, dbLength);
        for (var i = 0; i < dbLength; i++)
        {
            db[i] ^= mask[i];
        }

        db[0] &= (byte)(0xFF >> ((8 * emLength) - emBits));
        var encoded = new byte[modulusBits / 8];
        var offset = encoded.Length - emLength;
        db.CopyTo(encoded, offset);
        h.CopyTo(encoded, offset + dbLength);
        encoded[^1] = 0xBC;
        return encoded;
    }

    private static byte[] Mgf1(HashAlgorithmName hash, byte[] seed, int length)
    {
        var output = new byte[length];
        var input = new byte[seed.Length + 4];
        seed.CopyTo(input, 0);
        var at = 0;
        for (uint counter = 0; at < length; counter++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(input.AsSpan(seed.Length), counter);
            var block = Hash(hash, input);
            var take = Math.Min(block.Length, length - at);
            block.AsSpan(0, take).CopyTo(output.AsSpan(at));
            at += take;
        }

        return output;
    }

    internal static byte[] Hash(HashAlgorithmName hash, ReadOnlySpan<byte> data)
    {
        if (hash == HashAlgorithmName.SHA256)
        {
            return SHA256.HashData(data);
        }

        if (hash == HashAlgorithmName.SHA384)
        {
            return SHA384.HashData(data);
        }

        if (hash == HashAlgorithmName.SHA512)
        {
            return SHA512.HashData(data);
        }

        throw new ArgumentException($"hash {hash.Name} is not supported; use SHA-256, SHA-384 or SHA-512", nameof(hash));
    }
}
