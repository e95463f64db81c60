using OfflineSigner.Pkcs11.Interop;
using OfflineSigner.Signing;

namespace OfflineSigner.Pkcs11.Keys;

/// <summary>The mechanisms and attribute templates for generating each key algorithm on a token.</summary>
internal static class KeyTemplates
{
    /// <summary>DER OID of NIST P-256 (1.2.840.10045.3.1.7).</summary>
    public static readonly byte[] P256Params = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];

    /// <summary>DER OID of NIST P-384 (1.3.132.0.34).</summary>
    public static readonly byte[] P384Params = [0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22];

    /// <summary>DER OID of Ed25519 (1.3.101.112), as RFC 8410 names the curve.</summary>
    public static readonly byte[] Ed25519Params = [0x06, 0x03, 0x2B, 0x65, 0x70];

    /// <summary>DER PrintableString "edwards25519", the form PKCS#11 3.0 also allows (and OpenSC writes).</summary>
    public static readonly byte[] Ed25519NameParams = [0x13, 0x0C, .. "edwards25519"u8];

    /// <summary>The RSA public exponent 65537.</summary>
    public static readonly byte[] RsaExponent = [0x01, 0x00, 0x01];

    public static Pkcs11Mechanism GenerationMechanism(KeyAlgorithm algorithm) => algorithm switch
    {
        KeyAlgorithm.EcdsaP256 or KeyAlgorithm.EcdsaP384 => new Pkcs11Mechanism(Ckm.EcKeyPairGen),
        KeyAlgorithm.Ed25519 => new Pkcs11Mechanism(Ckm.EcEdwardsKeyPairGen),
        KeyAlgorithm.Rsa2048 or KeyAlgorithm.Rsa3072 or KeyAlgorithm.Rsa4096 => new Pkcs11Mechanism(Ckm.RsaPkcsKeyPairGen),
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "no generation mechanism"),
    };

    /// <summary>
    /// The public key template: a token object that verifies, nothing else.
    /// </summary>
    public static List<ObjectAttribute> PublicKey(KeyAlgorithm algorithm, string label, ReadOnlySpan<byte> id)
    {
        var t = new List<ObjectAttribute>
        {
            ObjectAttribute.FromUlong(Cka.Class, Cko.PublicKey),
            ObjectAttribute.FromUlong(Cka.KeyType, KeyType(algorithm)),
            ObjectAttribute.FromBool(Cka.Token, true),
            ObjectAttribute.FromBool(Cka.Private, false),
            ObjectAttribute.FromBool(Cka.Verify, true),
            ObjectAttribute.FromBool(Cka.Encrypt, false),
            ObjectAttribute.FromBool(Cka.Wrap, false),
            ObjectAttribute.FromBytes(Cka.Id, id),
            ObjectAttribute.FromString(Cka.Label, label),
        };
        switch (algorithm)
        {
            case KeyAlgorithm.EcdsaP256:
                t.Add(ObjectAttribute.FromBytes(Cka.EcParams, P256Params));
                break;
            case KeyAlgorithm.EcdsaP384:
                t.Add(ObjectAttribute.FromBytes(Cka.EcParams, P384Params));
                break;
            case KeyAlgorithm.Ed25519:
                t.Add(ObjectAttribute.FromBytes(Cka.EcParams, Ed25519Params));
                break;
            default:
                t.Add(ObjectAttribute.FromUlong(Cka.ModulusBits, (ulong)RsaBits(algorithm)));
                t.Add(ObjectAttribute.FromBytes(Cka.PublicExponent, RsaExponent));
                break;
        }

        return t;
    }

    /// <summary>
    /// The private key template: a token object, private, sensitive, never extractable, that signs and does nothing else.
    /// </summary>
    public static List<ObjectAttribute> PrivateKey(KeyAlgorithm algorithm, string label, ReadOnlySpan<byte> id) =>
    [
        ObjectAttribute.FromUlong(Cka.Class, Cko.PrivateKey),
        ObjectAttribute.FromUlong(Cka.KeyType, KeyType(algorithm)),
        ObjectAttribute.FromBool(Cka.Token, true),
        ObjectAttribute.FromBool(Cka.Private, true),
        ObjectAttribute.FromBool(Cka.Sensitive, true),
        ObjectAttribute.FromBool(Cka.Extractable, false),
        ObjectAttribute.FromBool(Cka.Sign, true),
        ObjectAttribute.FromBool(Cka.Decrypt, false),
        ObjectAttribute.FromBool(Cka.Unwrap, false),
        ObjectAttribute.FromBool(Cka.Derive, false),
        ObjectAttribute.FromBytes(Cka.Id, id),
        ObjectAttribute.FromString(Cka.Label, label),
    ];

    public static CkUlong KeyType(KeyAlgorithm algorithm) => algorithm switch
    {
        KeyAlgorithm.EcdsaP256 or KeyAlgorithm.EcdsaP384 => Ckk.Ec,
        KeyAlgorithm.Ed25519 => Ckk.EcEdwards,
        _ => Ckk.Rsa,
    };

    public static int RsaBits(KeyAlgorithm algorithm) => algorithm switch
    {
        KeyAlgorithm.Rsa2048 => 2048,
        KeyAlgorithm.Rsa3072 => 3072,
        KeyAlgorithm.Rsa4096 => 4096,
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "not an RSA algorithm"),
    };

    /// <summary>The algorithm of a key from its CKA_KEY_TYPE and CKA_EC_PARAMS or modulus size; null when unsupported.</summary>
    public static KeyAlgorithm? Identify(ulong keyType, ReadOnlySpan<byte> ecParams, int modulusBits)
    {
        if (keyType == Ckk.Ec)
        {
            if (ecParams.SequenceEqual(P256Params))
            {
                return KeyAlgorithm.EcdsaP256;
            }

            if (ecParams.SequenceEqual(P384Params))
            {
                return KeyAlgorithm.EcdsaP384;
            }

            return null;
        }

        if (keyType == Ckk.EcEdwards)
        {
            return ecParams.SequenceEqual(Ed25519Params) || ecParams.SequenceEqual(Ed25519NameParams) ? KeyAlgorithm.Ed25519 : null;
        }

        if (keyType == Ckk.Rsa)
        {
            return modulusBits switch
            {
                2048 => KeyAlgorithm.Rsa2048,
                3072 => KeyAlgorithm.Rsa3072,
                4096 => KeyAlgorithm.Rsa4096,
                _ => null,
            };
        }

        return null;
    }

    /// <summary>The name of a key generation mechanism for reports.</summary>
    public static string MechanismName(ulong? mechanism) => mechanism switch
    {
        null => "unknown",
        Ckm.RsaPkcsKeyPairGen => "CKM_RSA_PKCS_KEY_PAIR_GEN",
        Ckm.EcKeyPairGen => "CKM_EC_KEY_PAIR_GEN",
        Ckm.EcEdwardsKeyPairGen => "CKM_EC_EDWARDS_KEY_PAIR_GEN",
        _ when mechanism == (ulong)Ckm.Unavailable => "none reported (CK_UNAVAILABLE_INFORMATION)",
        _ => $"CKM 0x{mechanism:X}",
    };
}
