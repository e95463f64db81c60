using System.Formats.Asn1;
using System.Security.Cryptography;
using OfflineSigner.Signing;

namespace OfflineSigner.Pkcs11.Keys;

/// <summary>Turns a token's public key attributes into DER SubjectPublicKeyInfo.</summary>
internal static class PublicKeyEncoding
{
    private static readonly byte[] Ed25519SpkiPrefix = [0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00];

    /// <summary>
    /// The raw point from CKA_EC_POINT, which PKCS#11 defines as a DER OCTET STRING but some modules give unwrapped.
    /// <paramref name="rawLength"/> is the length of the unwrapped point (65 for P-256, 97 for P-384, 32 for Ed25519).
    /// </summary>
    public static byte[] UnwrapEcPoint(ReadOnlySpan<byte> ecPoint, int rawLength)
    {
        if (ecPoint.Length == rawLength && (rawLength == 32 || ecPoint[0] == 0x04))
        {
            return ecPoint.ToArray();
        }

        try
        {
            var inner = AsnDecoder.ReadOctetString(ecPoint, AsnEncodingRules.DER, out var consumed);
            if (consumed == ecPoint.Length && inner.Length == rawLength)
            {
                return inner;
            }
        }
        catch (AsnContentException e)
        {
            throw new Pkcs11KeyException($"CKA_EC_POINT is neither a raw point nor a DER OCTET STRING: {e.Message}", e);
        }

        throw new Pkcs11KeyException($"CKA_EC_POINT has {ecPoint.Length} bytes; expected a {rawLength}-byte point");
    }

    public static byte[] RawPointLength(KeyAlgorithm algorithm, ReadOnlySpan<byte> ecPoint) => algorithm switch
    {
        KeyAlgorithm.EcdsaP256 => UnwrapEcPoint(ecPoint, 65),
        KeyAlgorithm.EcdsaP384 => UnwrapEcPoint(ecPoint, 97),
        KeyAlgorithm.Ed25519 => UnwrapEcPoint(ecPoint, 32),
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm)),
    };

    public static byte[] EcSubjectPublicKeyInfo(KeyAlgorithm algorithm, ReadOnlySpan<byte> ecPoint)
    {
        var raw = RawPointLength(algorithm, ecPoint);
        if (algorithm == KeyAlgorithm.Ed25519)
        {
            return [.. Ed25519SpkiPrefix, .. raw];
        }

        var size = (raw.Length - 1) / 2;
        var curve = algorithm == KeyAlgorithm.EcdsaP256 ? ECCurve.NamedCurves.nistP256 : ECCurve.NamedCurves.nistP384;
        using var ecdsa = ECDsa.Create(new ECParameters
        {
            Curve = curve,
            Q = new ECPoint { X = raw[1..(1 + size)], Y = raw[(1 + size)..] },
        });
        return ecdsa.ExportSubjectPublicKeyInfo();
    }

    public static byte[] RsaSubjectPublicKeyInfo(ReadOnlySpan<byte> modulus, ReadOnlySpan<byte> exponent)
    {
        while (modulus.Length > 1 && modulus[0] == 0)
        {
            modulus = modulus[1..];
        }

        using var rsa = RSA.Create(new RSAParameters { Modulus = modulus.ToArray(), Exponent = exponent.ToArray() });
        return rsa.ExportSubjectPublicKeyInfo();
    }
}
