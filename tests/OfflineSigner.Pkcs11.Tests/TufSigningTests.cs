using OfflineSigner.Pkcs11.Tests.Support;
using OfflineSigner.Signing;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Crypto;
using Xunit;

namespace OfflineSigner.Pkcs11.Tests;

/// <summary>TUF metadata signed by keys on a real SoftHSM token verifies in the TUF core, in both dialects.</summary>
[Collection(SoftHsmSerialGroup.Name)]
public sealed class TufSigningTests
{
    private static readonly DateTimeOffset Expires = DateTimeOffset.UtcNow.AddDays(30);

    public static TheoryData<Dialect, KeyAlgorithm> Cases => new()
    {
        { Dialect.TufSpecification, KeyAlgorithm.EcdsaP256 },
        { Dialect.TufSpecification, KeyAlgorithm.EcdsaP384 },
        { Dialect.TufSpecification, KeyAlgorithm.Ed25519 },
        { Dialect.TufSpecification, KeyAlgorithm.Rsa3072 },
        { Dialect.Notary, KeyAlgorithm.EcdsaP256 },
        { Dialect.Notary, KeyAlgorithm.EcdsaP384 },
        { Dialect.Notary, KeyAlgorithm.Ed25519 },
        { Dialect.Notary, KeyAlgorithm.Rsa3072 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Targets_signed_on_the_token_verify_and_tampering_is_caught(Dialect dialect, KeyAlgorithm algorithm)
    {
        using var hsm = SoftHsmSandbox.Create("tuf");
        hsm.Activate();
        using var token = Pkcs11Token.Open(hsm.Options("tuf"));
        using var signer = Pkcs11KeyGenerator.Generate(token, algorithm, "targets-" + algorithm, [0x07]);
        var key = Key.FromPublicKey(PublicKey.FromSubjectPublicKeyInfo(signer.SubjectPublicKeyInfo.Span), dialect);

        var root = Root.Create(dialect, Expires);
        foreach (var role in Root.TopLevelRoles)
        {
            root.AddKey(role, key);
        }

        var targets = Targets.Create(dialect, Expires);
        targets.SetTarget("file.txt", 4, new Dictionary<string, string> { ["sha256"] = dialect == Dialect.Notary ? "AAAA" : "abcd" });
        var md = Metadata<Targets>.Create(targets);
        md.SignWith(signer, key);

        var written = md.ToBytes();
        var result = Verifier.VerifyTopLevel(root, Metadata<Targets>.Parse(written));
        Assert.True(result.Verified, string.Join("; ", result.Problems));
        Assert.Equal(key.KeyId, Assert.Single(result.Signers).KeyId);

        // One changed byte in the signed part: the signature no longer counts.
        var tampered = System.Text.Encoding.UTF8.GetString(written).Replace("file.txt", "file.tgz", StringComparison.Ordinal);
        var bad = Verifier.VerifyTopLevel(root, Metadata<Targets>.Parse(System.Text.Encoding.UTF8.GetBytes(tampered)));
        Assert.False(bad.Verified);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_batch_signed_on_the_token_without_the_signers_own_check_verifies_role_by_role(Dialect dialect, KeyAlgorithm algorithm)
    {
        using var hsm = SoftHsmSandbox.Create("batch");
        hsm.Activate();
        using var token = Pkcs11Token.Open(hsm.Options("batch"));
        using var signer = Pkcs11KeyGenerator.Generate(token, algorithm, "bins-" + algorithm, [0x08]);
        var key = Key.FromPublicKey(PublicKey.FromSubjectPublicKeyInfo(signer.SubjectPublicKeyInfo.Span), dialect);
        var delegator = Targets.Create(dialect, Expires);
        var names = Enumerable.Range(0, 70).Select(i => $"bin-{i:x2}").ToList();
        foreach (var name in names)
        {
            delegator.AddDelegation(name, [key], 1, [name + "/*"]);
        }

        var bins = names.Select(name =>
        {
            var bin = Targets.Create(dialect, Expires);
            bin.SetTarget(name + "/file.txt", 4, new Dictionary<string, string> { ["sha256"] = dialect == Dialect.Notary ? "AAAA" : "abcd" });
            return Metadata<Targets>.Create(bin);
        }).ToList();

        // The batch path (the token signs without its own check; SignAll checks each): every signature verifies as each bin's delegated role, and not as another bin.
        var made = MetadataSigner.SignAll(new Unchecked(signer), [.. bins.Select(b => new SigningItem(dialect, key.Json, b.SignedBytes()))], TestContext.Current.CancellationToken);
        for (var i = 0; i < bins.Count; i++)
        {
            bins[i].AddSignature(Signature.Create(key.KeyId, made[i].Signature, made[i].Method, dialect));
            var parsed = Metadata<Targets>.Parse(bins[i].ToBytes());
            var result = Verifier.VerifyDelegated(names[i], delegator, parsed);
            Assert.True(result.Verified, names[i] + ": " + string.Join("; ", result.Problems));
        }

        Assert.False(Verifier.VerifyDelegated(names[0], delegator, Metadata<Targets>.Parse(Swap(bins[0], bins[1]))).Verified, "bin 0 verifies with bin 1's signature");
    }

    /// <summary>bin 0's signed part with bin 1's signature.</summary>
    private static byte[] Swap(Metadata<Targets> first, Metadata<Targets> second)
    {
        var copy = Metadata<Targets>.Parse(first.ToBytes());
        var other = Metadata<Targets>.Parse(second.ToBytes());
        copy.ClearSignatures();
        copy.AddSignature(other.Signatures[0]);
        return copy.ToBytes();
    }

    /// <summary>The token's signer as the daemon lends it: with the unchecked path SignAll uses.</summary>
    private sealed class Unchecked(Pkcs11Signer inner) : IKeySigner, IUncheckedSigner
    {
        public KeyAlgorithm Algorithm => inner.Algorithm;

        public ReadOnlyMemory<byte> SubjectPublicKeyInfo => inner.SubjectPublicKeyInfo;

        public string KeyReference => inner.KeyReference;

        public byte[] Sign(ReadOnlySpan<byte> message, System.Security.Cryptography.HashAlgorithmName hash) => inner.Sign(message, hash);

        public byte[] SignUnchecked(ReadOnlySpan<byte> message, System.Security.Cryptography.HashAlgorithmName hash) => inner.SignUnchecked(message, hash, pin: null);

        public void Dispose()
        {
        }
    }

    [Fact]
    public void A_notary_root_certificate_made_with_a_token_key_passes_notarys_checks_and_signs_root()
    {
        const string gun = "example.com/hsm/repo";
        using var hsm = SoftHsmSandbox.Create("notary");
        hsm.Activate();
        using var token = Pkcs11Token.Open(hsm.Options("notary"));
        using var signer = Pkcs11KeyGenerator.Generate(token, KeyAlgorithm.EcdsaP256, "root", [0x01]);
        using var cert = NotaryRootCertificateBuilder.Build(signer, gun);
        Assert.Empty(NotaryRootCertificate.Check(cert, gun, DateTimeOffset.UtcNow));
        var rootKey = Key.FromJson(KeyFormats.EncodeNotaryCertificate(cert), Dialect.Notary);
        Assert.Equal(PublicKey.FromSubjectPublicKeyInfo(signer.SubjectPublicKeyInfo.Span).Fingerprint, rootKey.Fingerprint);

        var root = Root.Create(Dialect.Notary, Expires);
        foreach (var role in Root.TopLevelRoles)
        {
            root.AddKey(role, rootKey);
        }

        var md = Metadata<Root>.Create(root);
        md.SignWith(signer, rootKey);
        var parsed = Metadata<Root>.Parse(md.ToBytes());
        Assert.True(Verifier.Verify("root", parsed.Signed.Roles["root"], parsed.Signed.Keys, parsed).Verified);
        Assert.Empty(RepositoryVerifier.NotaryRootKeyProblems(parsed.Signed, gun, DateTimeOffset.UtcNow));
    }
}
