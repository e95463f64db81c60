using OfflineSigner.Tuf.Crypto;
using OfflineSigner.Tuf.Json;

namespace OfflineSigner.Tuf;

/// <summary>
/// A public key as a metadata document lists it (TUF specification §4.2 "KEYS"; notary's key objects).
/// The key object's JSON is kept exactly as read, since its canonical bytes define the key id.
/// </summary>
public sealed class Key
{
    private Key(string keyId, JsonObject json, Dialect dialect, PublicKey? publicKey, string? unsupportedReason)
    {
        KeyId = keyId;
        Json = json;
        Dialect = dialect;
        PublicKey = publicKey;
        UnsupportedReason = unsupportedReason;
        KeyType = json.TryGetValue("keytype", out var kt) && kt is JsonString kts ? kts.Value : string.Empty;
        Scheme = json.TryGetValue("scheme", out var sc) && sc is JsonString scs ? scs.Value : null;
        ComputedKeyId = KeyFormats.ComputeKeyId(json);
    }

    /// <summary>The key id under which the metadata lists this key.</summary>
    public string KeyId { get; }

    /// <summary>The key id computed from the key object as the dialect defines it (hex SHA-256 of its canonical JSON).</summary>
    public string ComputedKeyId { get; }

    /// <summary>Whether the listed key id is the one the key object defines. A mismatch is a warning: python-tuf and go-tuf do not recompute ids.</summary>
    public bool KeyIdMatches => string.Equals(KeyId, ComputedKeyId, StringComparison.Ordinal);

    /// <summary>The key object exactly as the metadata carries it.</summary>
    public JsonObject Json { get; }

    /// <summary>The dialect of the metadata the key came from.</summary>
    public Dialect Dialect { get; }

    /// <summary>The <c>keytype</c> field as written.</summary>
    public string KeyType { get; }

    /// <summary>The <c>scheme</c> field (TUF specification), or null (notary has none).</summary>
    public string? Scheme { get; }

    /// <summary>The decoded public key, or null when the key type is not supported (see <see cref="UnsupportedReason"/>).</summary>
    public PublicKey? PublicKey { get; }

    /// <summary>Why the key could not be used, or null.</summary>
    public string? UnsupportedReason { get; }

    /// <summary>A stable identity of the physical key: the SHA-256 of its SubjectPublicKeyInfo, or of the key object when unsupported.</summary>
    public string Fingerprint => PublicKey?.Fingerprint ?? "unsupported:" + ComputedKeyId;

    /// <summary>Notary's canonical key id (the id of the plain ecdsa/rsa form of an x509 key), or null outside notary's dialect.</summary>
    public string? NotaryCanonicalKeyId =>
        Dialect == Dialect.Notary && PublicKey is not null ? KeyFormats.NotaryCanonicalKeyId(PublicKey) : null;

    /// <summary>Reads a key object. Unsupported key types are kept (with a reason) unless <paramref name="strict"/> is set.</summary>
    public static Key Parse(string keyId, JsonObject json, Dialect dialect, string path, bool strict)
    {
        // Structure first: these fields are required whatever the key type.
        Fields.String(json, "keytype", path);
        if (dialect == Dialect.TufSpecification)
        {
            Fields.String(json, "scheme", path);
        }

        Fields.Object(json, "keyval", path);
        try
        {
            return new Key(keyId, json, dialect, KeyFormats.Decode(json, dialect, path), null);
        }
        catch (MetadataFormatException e) when (!strict)
        {
            return new Key(keyId, json, dialect, null, e.Message);
        }
    }

    /// <summary>A key object for a public key, written in a dialect, under the key id the dialect defines.</summary>
    public static Key FromPublicKey(PublicKey publicKey, Dialect dialect)
    {
        ArgumentNullException.ThrowIfNull(publicKey);
        var json = KeyFormats.Encode(publicKey, dialect);
        return new Key(KeyFormats.ComputeKeyId(json), json, dialect, publicKey, null);
    }

    /// <summary>A key object as written by the caller (for example a notary x509 key), under its computed key id.</summary>
    public static Key FromJson(JsonObject json, Dialect dialect) =>
        Parse(KeyFormats.ComputeKeyId(json), json, dialect, "$", strict: true);

    /// <summary>A short human description: type, scheme, fingerprint.</summary>
    public override string ToString() =>
        $"{KeyType}{(Scheme is null ? string.Empty : "/" + Scheme)} {KeyId[..Math.Min(16, KeyId.Length)]}";
}
