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

    /// <summary>
    /// Signs many documents with one signer, as <see cref="Sign(IKeySigner, Dialect, JsonObject, ReadOnlySpan{byte})"/>
    /// signs one: the device makes the signatures one after another and every signature is then verified against the
    /// key listed for its document, on every core, before any is returned. A signer that can sign without checking
    /// (<see cref="IUncheckedSigner"/>) leaves that one check to this method; a signature that does not verify is made
    /// again through the signer's checked path, and the batch fails if that one does not verify either.
    /// </summary>
    /// <returns>One signature per item, in the order of the items.</returns>
    /// <exception cref="SigningException">as for one document, naming the item.</exception>
    public static (byte[] Signature, string? Method)[] SignAll(IKeySigner signer, IReadOnlyList<SigningItem> items, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(signer);
        ArgumentNullException.ThrowIfNull(items);
        var plans = Parallelism.Map(items.Count, i =>
        {
            var item = items[i];
            ArgumentNullException.ThrowIfNull(item.KeyObject);
            var listed = KeyFormats.Decode(item.KeyObject, item.Dialect, "$");
            if (!listed.SubjectPublicKeyInfo.Span.SequenceEqual(signer.SubjectPublicKeyInfo.Span))
            {
                throw new SigningException($"item {i}: {signer.KeyReference} does not hold the key {KeyFormats.ComputeKeyId(item.KeyObject)} describes");
            }

            if (KeyFamilyOf(signer.Algorithm) != listed.Family)
            {
                throw new SigningException($"item {i}: {signer.KeyReference} is {signer.Algorithm}, which cannot sign for a {listed.Family} key");
            }

            var keyType = ((JsonString)item.KeyObject["keytype"]).Value;
            var scheme = item.KeyObject.TryGetValue("scheme", out var s) && s is JsonString ss ? ss.Value : null;
            return new Plan(listed, keyType, scheme, HashFor(item.Dialect, listed.Family, scheme));
        });

        // The device: one signature after another.
        var quick = signer as IUncheckedSigner;
        var raw = new byte[items.Count][];
        for (var i = 0; i < items.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            raw[i] = quick is not null
                ? quick.SignUnchecked(items[i].Message.Span, plans[i].Hash)
                : signer.Sign(items[i].Message.Span, plans[i].Hash);
        }

        // Every core: encode and verify each against its listed key.
        var made = Parallelism.Map(items.Count, i =>
        {
            var plan = plans[i];
            var (signature, method) = Encode(items[i].Dialect, plan.Key.Family, raw[i]);
            bool valid;
            try
            {
                valid = SignatureVerifier.Verify(plan.Key, items[i].Dialect, plan.KeyType, plan.Scheme, method, items[i].Message.Span, signature);
            }
            catch (MetadataException e)
            {
                throw new SigningException($"item {i}: cannot sign for key type \"{plan.KeyType}\" / scheme \"{plan.Scheme}\": {e.Message}", e);
            }

            return valid ? (signature, method) : ((byte[] Signature, string? Method)?)null;
        });

        var result = new (byte[] Signature, string? Method)[items.Count];
        for (var i = 0; i < items.Count; i++)
        {
            if (made[i] is { } good)
            {
                result[i] = good;
                continue;
            }

            // Invalid (SoftHSM's rare bad CKM_ECDSA result, or a device fault): once more through the checked path.
            try
            {
                result[i] = SignAndVerify(signer, plans[i].Key, items[i].Dialect, plans[i].KeyType, plans[i].Scheme, items[i].Message.Span);
            }
            catch (SigningException e)
            {
                throw new SigningException($"item {i}: {e.Message}", e);
            }
        }

        return result;
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
        var (signature, method) = Encode(dialect, key.Family, signer.Sign(message, hash));

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

    /// <summary>A signature as the dialect writes it: raw r || s for notary (with its method), DER for the specification's ECDSA.</summary>
    private static (byte[] Signature, string? Method) Encode(Dialect dialect, KeyFamily family, byte[] raw) =>
        dialect == Dialect.Notary
            ? (raw, NotaryMethod(family))
            : (family == KeyFamily.Ecdsa ? SignatureVerifier.P1363ToDer(raw) : raw, null);

    private sealed record Plan(PublicKey Key, string KeyType, string? Scheme, HashAlgorithmName Hash);

    private static KeyFamily KeyFamilyOf(KeyAlgorithm algorithm) => algorithm switch
    {
        KeyAlgorithm.EcdsaP256 or KeyAlgorithm.EcdsaP384 => KeyFamily.Ecdsa,
        KeyAlgorithm.Ed25519 => KeyFamily.Ed25519,
        _ => KeyFamily.Rsa,
    };
}

/// <summary>One document of <see cref="MetadataSigner.SignAll"/>: its dialect, the key object listed for the signing key, and the canonical bytes of its <c>signed</c>.</summary>
public sealed record SigningItem(Dialect Dialect, JsonObject KeyObject, ReadOnlyMemory<byte> Message);
