using System.Security.Cryptography;

namespace OfflineSigner.Signing;

/// <summary>
/// A signer that can also make a signature without checking it, for a caller that checks every signature itself
/// before any of them is used: a batch signs one document after another on the device, then checks all the signatures
/// on every core, instead of checking each one while the device waits. <see cref="MetadataSigner.SignAll"/> is that
/// caller; nothing else should be.
/// </summary>
public interface IUncheckedSigner
{
    /// <summary>As <see cref="IKeySigner.Sign"/>, but the signature is not verified: the caller must verify it.</summary>
    byte[] SignUnchecked(ReadOnlySpan<byte> message, HashAlgorithmName hash);
}
