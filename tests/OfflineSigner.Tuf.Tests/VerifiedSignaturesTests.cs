using System.Security.Cryptography;
using OfflineSigner.Tuf.Crypto;
using Xunit;

namespace OfflineSigner.Tuf.Tests;

/// <summary>
/// The per-process memory of valid signatures (turned on by the CLI): a remembered signature only ever repeats a
/// check that succeeded on exactly the same inputs, and every other input is checked in full.
/// </summary>
public sealed class VerifiedSignaturesTests
{
    private const string Scheme = "ecdsa-sha2-nistp256";

    [Fact]
    public void A_valid_signature_is_remembered_and_nothing_else_passes_because_of_it()
    {
        VerifiedSignatures.Enable();
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var key = PublicKey.FromSubjectPublicKeyInfo(ecdsa.ExportSubjectPublicKeyInfo());
        var otherKey = PublicKey.FromSubjectPublicKeyInfo(other.ExportSubjectPublicKeyInfo());
        var message = RandomNumberGenerator.GetBytes(300);
        var signature = ecdsa.SignData(message, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);

        var id = VerifiedSignatures.Id(key, Dialect.TufSpecification, "ecdsa", Scheme, null, SHA256.HashData(message), signature);
        Assert.False(VerifiedSignatures.Active!.Contains(id), "remembered before it was checked");
        Assert.True(SignatureVerifier.Verify(key, Dialect.TufSpecification, "ecdsa", Scheme, null, message, signature));
        Assert.True(VerifiedSignatures.Active.Contains(id), "a valid signature was not remembered");

        // The same check again answers from the memory; any change of input is checked in full, and fails.
        Assert.True(SignatureVerifier.Verify(key, Dialect.TufSpecification, "ecdsa", Scheme, null, message, signature));
        var tamperedMessage = (byte[])message.Clone();
        tamperedMessage[^1] ^= 1;
        Assert.False(SignatureVerifier.Verify(key, Dialect.TufSpecification, "ecdsa", Scheme, null, tamperedMessage, signature));
        var tamperedSignature = (byte[])signature.Clone();
        tamperedSignature[^1] ^= 1;
        Assert.False(SignatureVerifier.Verify(key, Dialect.TufSpecification, "ecdsa", Scheme, null, message, tamperedSignature));
        Assert.False(SignatureVerifier.Verify(otherKey, Dialect.TufSpecification, "ecdsa", Scheme, null, message, signature));

        // Invalid signatures are never remembered: they are checked every time.
        Assert.False(VerifiedSignatures.Active.Contains(VerifiedSignatures.Id(key, Dialect.TufSpecification, "ecdsa", Scheme, null, SHA256.HashData(message), tamperedSignature)));
        Assert.False(VerifiedSignatures.Active.Contains(VerifiedSignatures.Id(otherKey, Dialect.TufSpecification, "ecdsa", Scheme, null, SHA256.HashData(message), signature)));
    }

    [Fact]
    public void The_identity_covers_every_input_of_the_outcome()
    {
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var key = PublicKey.FromSubjectPublicKeyInfo(ecdsa.ExportSubjectPublicKeyInfo());
        var digest = SHA256.HashData("m"u8);
        byte[] signature = [1, 2, 3];
        var ids = new HashSet<(UInt128, UInt128)>
        {
            VerifiedSignatures.Id(key, Dialect.TufSpecification, "ecdsa", Scheme, null, digest, signature),
            VerifiedSignatures.Id(key, Dialect.Notary, "ecdsa", Scheme, null, digest, signature),
            VerifiedSignatures.Id(key, Dialect.TufSpecification, "ecdsa-sha2-nistp256", Scheme, null, digest, signature),
            VerifiedSignatures.Id(key, Dialect.TufSpecification, "ecdsa", "ecdsa-sha2-nistp384", null, digest, signature),
            VerifiedSignatures.Id(key, Dialect.TufSpecification, "ecdsa", null, null, digest, signature),
            VerifiedSignatures.Id(key, Dialect.TufSpecification, "ecdsa", Scheme, "ecdsa", digest, signature),
            VerifiedSignatures.Id(key, Dialect.TufSpecification, "ecdsa", Scheme, null, SHA256.HashData("n"u8), signature),
            VerifiedSignatures.Id(key, Dialect.TufSpecification, "ecdsa", Scheme, null, digest, [1, 2, 4]),
            // Field boundaries are length-prefixed: moving a byte from one field to the next changes the identity.
            VerifiedSignatures.Id(key, Dialect.TufSpecification, "ecdsa", Scheme + "x", null, digest, signature),
            VerifiedSignatures.Id(key, Dialect.TufSpecification, "ecdsa", Scheme, "x", digest, signature),
        };
        Assert.Equal(10, ids.Count);
    }
}
