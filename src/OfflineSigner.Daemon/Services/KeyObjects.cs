using Google.Protobuf;
using OfflineSigner.Protocol.V1;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Crypto;
using OfflineSigner.Tuf.Json;
using ProtoAlgorithm = OfflineSigner.Protocol.V1.KeyAlgorithm;
using ProtoDialect = OfflineSigner.Protocol.V1.Dialect;
using SigningAlgorithm = OfflineSigner.Signing.KeyAlgorithm;
using TufDialect = OfflineSigner.Tuf.Dialect;

namespace OfflineSigner.Daemon.Services;

/// <summary>Conversions between the contract's messages and the domain: key objects, dialects, algorithms.</summary>
public static class KeyObjects
{
    /// <summary>CK_UNAVAILABLE_INFORMATION: the token did not say.</summary>
    private const ulong Unavailable = ulong.MaxValue;

    /// <summary>The key object a dialect writes for <paramref name="spki"/>, as canonical JSON, and its key id.</summary>
    public static (string Json, string KeyId) KeyObject(ReadOnlySpan<byte> spki, TufDialect dialect)
    {
        var key = Key.FromPublicKey(PublicKey.FromSubjectPublicKeyInfo(spki), dialect);
        return (System.Text.Encoding.UTF8.GetString(CanonicalJson.Serialize(key.Json)), key.KeyId);
    }

    /// <summary>The contract's dialect as the TUF core names it.</summary>
    public static TufDialect ToDialect(ProtoDialect dialect) => dialect switch
    {
        ProtoDialect.Tuf => TufDialect.TufSpecification,
        ProtoDialect.Notary => TufDialect.Notary,
        _ => throw new ArgumentException("the request names no dialect (DIALECT_TUF or DIALECT_NOTARY)"),
    };

    /// <summary>The TUF core's dialect as the contract names it.</summary>
    public static ProtoDialect ToProto(TufDialect dialect) => dialect == TufDialect.Notary ? ProtoDialect.Notary : ProtoDialect.Tuf;

    /// <summary>The contract's algorithm as the signing seam names it.</summary>
    public static SigningAlgorithm ToAlgorithm(ProtoAlgorithm algorithm) => algorithm switch
    {
        ProtoAlgorithm.EcdsaP256 => SigningAlgorithm.EcdsaP256,
        ProtoAlgorithm.EcdsaP384 => SigningAlgorithm.EcdsaP384,
        ProtoAlgorithm.Ed25519 => SigningAlgorithm.Ed25519,
        ProtoAlgorithm.Rsa2048 => SigningAlgorithm.Rsa2048,
        ProtoAlgorithm.Rsa3072 => SigningAlgorithm.Rsa3072,
        ProtoAlgorithm.Rsa4096 => SigningAlgorithm.Rsa4096,
        _ => throw new ArgumentException("the request names no key algorithm"),
    };

    /// <summary>The signing seam's algorithm as the contract names it.</summary>
    public static ProtoAlgorithm ToProto(SigningAlgorithm algorithm) => algorithm switch
    {
        SigningAlgorithm.EcdsaP256 => ProtoAlgorithm.EcdsaP256,
        SigningAlgorithm.EcdsaP384 => ProtoAlgorithm.EcdsaP384,
        SigningAlgorithm.Ed25519 => ProtoAlgorithm.Ed25519,
        SigningAlgorithm.Rsa2048 => ProtoAlgorithm.Rsa2048,
        SigningAlgorithm.Rsa3072 => ProtoAlgorithm.Rsa3072,
        SigningAlgorithm.Rsa4096 => ProtoAlgorithm.Rsa4096,
        _ => ProtoAlgorithm.Unspecified,
    };

    /// <summary>The contract's description of a key: public parts in both dialects, and its protection evidence.</summary>
    public static KeyInfo ToProto(BackendKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var publicKey = PublicKey.FromSubjectPublicKeyInfo(key.SubjectPublicKeyInfo);
        var (tufJson, tufId) = KeyObject(key.SubjectPublicKeyInfo, TufDialect.TufSpecification);
        var (notaryJson, notaryId) = KeyObject(key.SubjectPublicKeyInfo, TufDialect.Notary);
        var info = new KeyInfo
        {
            Uri = key.Uri,
            Backend = key.Backend,
            Algorithm = ToProto(key.Algorithm),
            SubjectPublicKeyInfo = ByteString.CopyFrom(key.SubjectPublicKeyInfo),
            Fingerprint = publicKey.Fingerprint,
            TufKeyJson = tufJson,
            TufKeyId = tufId,
            NotaryKeyJson = notaryJson,
            NotaryKeyId = notaryId,
            DeviceSerial = key.DeviceSerial ?? string.Empty,
            Label = key.Label ?? string.Empty,
        };
        if (key.Protection is { } evidence)
        {
            info.Pkcs11Protection = new Pkcs11KeyProtection
            {
                Local = evidence.GeneratedOnDevice == true,
                Sensitive = evidence.Sensitive == true,
                AlwaysSensitive = evidence.AlwaysSensitive == true,
                Extractable = evidence.Extractable != false,
                NeverExtractable = evidence.NeverExtractable == true,
                KeyGenMechanism = MechanismCode(evidence.GenerationMechanism),
                Violations = { key.Violations },
            };
        }

        return info;
    }

    /// <summary>The CKM code of a generation mechanism the PKCS#11 backend named.</summary>
    private static ulong MechanismCode(string? name) => name switch
    {
        "CKM_RSA_PKCS_KEY_PAIR_GEN" => 0x0000,
        "CKM_EC_KEY_PAIR_GEN" => 0x1040,
        "CKM_EC_EDWARDS_KEY_PAIR_GEN" => 0x1055,
        _ => Unavailable,
    };
}
