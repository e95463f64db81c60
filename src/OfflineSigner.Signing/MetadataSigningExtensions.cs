using OfflineSigner.Tuf;

namespace OfflineSigner.Signing;

/// <summary>Signing a metadata document with any key backend: sign the canonical bytes, verify, attach.</summary>
public static class MetadataSigningExtensions
{
    /// <summary>
    /// Signs <paramref name="metadata"/> with <paramref name="signer"/> as <paramref name="key"/> is listed in the
    /// delegating metadata, and adds the signature (replacing an earlier one by the same key id).
    /// </summary>
    public static void SignWith<T>(this Metadata<T> metadata, IKeySigner signer, Key key)
        where T : Signed
    {
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentNullException.ThrowIfNull(key);
        var (signature, method) = MetadataSigner.Sign(signer, metadata.Dialect, key.Json, metadata.SignedBytes());
        metadata.AddSignature(Signature.Create(key.KeyId, signature, method, metadata.Dialect));
    }
}
