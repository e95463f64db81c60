using System.Security.Cryptography;

namespace OfflineSigner.Signing;

/// <summary>
/// The seam every key backend implements: one private key, held wherever the backend keeps it,
/// that signs messages and never hands out its private part.
/// </summary>
/// <remarks>
/// Output formats are fixed so that callers never see a vendor format:
/// ECDSA signatures are IEEE P1363 (r || s, each the curve's field size, big-endian);
/// RSA signatures are RSASSA-PSS with MGF1 over the same hash and a salt as long as the digest;
/// Ed25519 signatures are the raw 64 bytes over the whole message (no pre-hash).
/// Converting r || s to DER for the TUF specification dialect is the caller's business.
/// </remarks>
public interface IKeySigner : IDisposable
{
    /// <summary>The algorithm of the key.</summary>
    KeyAlgorithm Algorithm { get; }

    /// <summary>The public key as DER SubjectPublicKeyInfo.</summary>
    ReadOnlyMemory<byte> SubjectPublicKeyInfo { get; }

    /// <summary>A reference that names the key for humans and configuration (for example an RFC 7512 URI).</summary>
    string KeyReference { get; }

    /// <summary>
    /// Signs <paramref name="message"/>. For ECDSA and RSA the message is hashed with <paramref name="hash"/>
    /// (on the host or in the device, as the backend prefers); for Ed25519 <paramref name="hash"/> is ignored.
    /// Implementations verify the signature against <see cref="SubjectPublicKeyInfo"/> before returning it.
    /// </summary>
    byte[] Sign(ReadOnlySpan<byte> message, HashAlgorithmName hash);
}
