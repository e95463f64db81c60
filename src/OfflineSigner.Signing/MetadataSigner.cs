using System.Security.Cryptography;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Crypto;
using OfflineSigner.Tuf.Json;

namespace OfflineSigner.Signing;

/// <summary>
/// Turns what an <see cref="IKeySigner"/> produces into a TUF signature value of a dialect: picks the hash
/// (specification: SHA-384 for ecdsa-sha2-nistp384, SHA-256 otherwise; notary: SHA-256 always), the encoding
/// (specification ECDSA: DER; notary ECDSA: raw r || s) and notary's method name (ecdsa, rsapss, eddsa).
/// Every signature is verified with <see cref="SignatureVerifier"/> against the listed key before it is returned.
/// </summary>
public static class MetadataSigner
{
    /// <summary>
    /// Signs <paramref name="message"/> (the canonical bytes of <c>signed</c>) for the key object <paramref name="keyObject"/>.
    /// The signer's public key must be the key the object describes.
    /// </summary>
    /// <returns>The signature bytes (to be written as hex or base64 by the dialect) and notary's method, or null in the specification dialect.</returns>
    /// <exception cref="MetadataFormatException">the key object does not decode.</exception>
    /// <exception cref="SigningException">the signer holds another key, cannot make this kind of signature, or made one that does not verify.</exception>
    public static (byte[] Signature, string? Method) Sign(IKeySigner signer, Dialect dialect, JsonObject keyObject, ReadOnlySpan<byte> message)
    {
        ArgumentNullException.ThrowIfNull(signer);
        ArgumentNullException.ThrowIfNull(keyObject);
        var listed = KeyFormats.Decode(keyObject, dialect, "$");
        if (!listed.SubjectPublicKeyInfo.Span.SequenceEqual(signer.SubjectPublicKeyInfo.Span))
        {
            throw new SigningException($"{signer.KeyReference} does not hold the key {KeyFormats.ComputeKeyId(keyObject)} describes");
        }

        var keyType = ((JsonString)keyObject["keytype"]).Value;
        var scheme = keyObject.TryGetValue("scheme", out var s) && s is JsonString ss ? ss.Value : null;
        return SignAndVerify(signer, listed, dialect, keyType, scheme, message);
    }

    /// <summary>Signs <paramref name="message"/> for a key of type <paramref name="keyType"/> and <paramref name="scheme"/> (specification dialect; null for notary).</summary>
    /// <exception cref="SigningException">the signer's key does not fit the key type or scheme, or the signature does not verify.</exception>
    public static (byte[] Signature, string? Method) Sign(IKeySigner signer, Dialect dialect, string keyType, string? scheme, ReadOnlySpan<byte> message)
    {
        ArgumentNullException.ThrowIfNull(signer);
        ArgumentNullException.ThrowIfNull(keyType);
        PublicKey key;
        try
        {
            key = PublicKey.FromSubjectPublicKeyInfo(signer.SubjectPublicKeyInfo.Span);
        }
        catch (CryptographicException e)
        {
            throw new SigningException($"the public key of {signer.KeyReference} is not usable: {e.Message}", e);
        }

        return SignAndVerify(signer, key, dialect, keyType, scheme, message);
    }

    /// <summary>The hash a signature of this dialect and scheme is made over (ignored for Ed25519).</summary>
    /// <exception cref="SigningException">the scheme cannot be produced by an <see cref="IKeySigner"/>.</exception>
    public static HashAlgorithmName HashFor(Dialect dialect, KeyFamily family, string? scheme)
    {
        if (dialect == Dialect.Notary || family == KeyFamily.Ed25519)
        {
            return HashAlgorithmName.SHA256;
        }

        return scheme switch
        {
            "ecdsa-sha2-nistp256" or "rsassa-pss-sha256" => HashAlgorithmName.SHA256,
            "ecdsa-sha2-nistp384" or "rsassa-pss-sha384" => HashAlgorithmName.SHA384,
            "rsassa-pss-sha512" => HashAlgorithmName.SHA512,
            _ => throw new SigningException($"scheme \"{scheme}\" cannot be signed by a key backend (ECDSA, RSA-PSS and Ed25519 schemes can)"),
        };
    }

    /// <summary>Notary's method name for a key family.</summary>
    public static string NotaryMethod(KeyFamily family) => family switch
    {
        KeyFamily.Ecdsa => "ecdsa",
        KeyFamily.Rsa => "rsapss",
        _ => "eddsa",
    };

    private static (byte[] Signature, string? Method) SignAndVerify(IKeySigner signer, PublicKey key, Dialect dialect, string keyType, string? scheme, ReadOnlySpan<byte> message)
    {
        if (KeyFamilyOf(signer.Algorithm) != key.Family)
        {
            throw new SigningException($"{signer.KeyReference} is {signer.Algorithm}, which cannot sign for a {key.Family} key");
        }

        var hash = HashFor(dialect, key.Family, scheme);
        var raw = signer.Sign(message, hash);
        byte[] signature;
        string? method = null;
        if (dialect == Dialect.Notary)
        {
            signature = raw;
            method = NotaryMethod(key.Family);
        }
        else
        {
            signature = key.Family == KeyFamily.Ecdsa ? SignatureVerifier.P1363ToDer(raw) : raw;
        }

        bool valid;
        try
        {
            valid = SignatureVerifier.Verify(key, dialect, keyType, scheme, method, message, signature);
        }
        catch (MetadataException e)
        {
            throw new SigningException($"cannot sign for key type \"{keyType}\" / scheme \"{scheme}\": {e.Message}", e);
        }

        return valid
            ? (signature, method)
            : throw new SigningException($"the signature made by {signer.KeyReference} does not verify as a {keyType}/{scheme ?? method} signature");
    }

    private static KeyFamily KeyFamilyOf(KeyAlgorithm algorithm) => algorithm switch
    {
        KeyAlgorithm.EcdsaP256 or KeyAlgorithm.EcdsaP384 => KeyFamily.Ecdsa,
        KeyAlgorithm.Ed25519 => KeyFamily.Ed25519,
        _ => KeyFamily.Rsa,
    };
}
