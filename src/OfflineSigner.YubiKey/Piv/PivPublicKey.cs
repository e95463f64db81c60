// Public keys as PIV returns them (SP 800-73-4 part 2 §3.3.2 table 10, and Yubico's Ed25519 form): inside 7F 49, RSA as
// 81 modulus 82 exponent, EC as 86 uncompressed point, Ed25519 as 86 with the 32 raw bytes.
using System.Security.Cryptography;
using OfflineSigner.Tuf.Crypto;
using OfflineSigner.YubiKey.Apdu;

namespace OfflineSigner.YubiKey.Piv;

/// <summary>Converts the device's public key encoding into a DER SubjectPublicKeyInfo, checking it on the way.</summary>
internal static class PivPublicKey
{
    /// <summary>The SubjectPublicKeyInfo of the key whose PIV data objects (the content of 7F 49) are <paramref name="objects"/>.</summary>
    /// <exception cref="YubiKeyException">the encoding is not a valid key of <paramref name="algorithm"/>.</exception>
    public static byte[] ToSubjectPublicKeyInfo(PivAlgorithm algorithm, ReadOnlyMemory<byte> objects)
    {
        try
        {
            switch (algorithm)
            {
                case PivAlgorithm.EccP256 or PivAlgorithm.EccP384:
                {
                    var point = BerTlv.Find(objects, 0x86) ?? throw new FormatException("no EC point (tag 86)");
                    var expected = algorithm == PivAlgorithm.EccP256 ? 65 : 97;
                    if (point.Length != expected || point.Span[0] != 0x04)
                    {
                        throw new FormatException($"an uncompressed {(algorithm == PivAlgorithm.EccP256 ? "P-256" : "P-384")} point is {expected} bytes starting 04");
                    }

                    return PublicKey.FromUncompressedEcPoint(point.Span).SubjectPublicKeyInfo.ToArray();
                }

                case PivAlgorithm.Ed25519:
                {
                    var raw = BerTlv.Find(objects, 0x86) ?? throw new FormatException("no Ed25519 key (tag 86)");
                    return PublicKey.FromEd25519(raw.Span).SubjectPublicKeyInfo.ToArray();
                }

                case PivAlgorithm.Rsa1024 or PivAlgorithm.Rsa2048 or PivAlgorithm.Rsa3072 or PivAlgorithm.Rsa4096:
                {
                    var modulus = BerTlv.Find(objects, 0x81) ?? throw new FormatException("no RSA modulus (tag 81)");
                    var exponent = BerTlv.Find(objects, 0x82) ?? throw new FormatException("no RSA public exponent (tag 82)");
                    var bits = PivAlgorithms.InputSize(algorithm) * 8;
                    var n = modulus.Span.TrimStart((byte)0);
                    if (n.Length * 8 != bits || (n[0] & 0x80) == 0)
                    {
                        throw new FormatException($"the modulus is not {bits} bits");
                    }

                    using var rsa = RSA.Create();
                    rsa.ImportParameters(new RSAParameters { Modulus = n.ToArray(), Exponent = exponent.Span.TrimStart((byte)0).ToArray() });
                    return rsa.ExportSubjectPublicKeyInfo();
                }

                default:
                    throw new FormatException($"algorithm {(byte)algorithm:X2} does not sign");
            }
        }
        catch (Exception e) when (e is FormatException or CryptographicException)
        {
            throw new YubiKeyException($"the device returned a public key that is not a valid {algorithm} key: {e.Message}", e);
        }
    }
}
