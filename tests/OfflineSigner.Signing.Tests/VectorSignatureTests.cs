using OfflineSigner.Tests.Shared;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Crypto;
using OfflineSigner.Tuf.Json;
using Xunit;

namespace OfflineSigner.Signing.Tests;

/// <summary>Real signatures made by other implementations verify with ours.</summary>
public sealed class VectorSignatureTests
{
    public static TheoryData<int> SigstoreRoots() => [.. Enumerable.Range(1, 15)];

    [Theory]
    [MemberData(nameof(SigstoreRoots))]
    public void Every_signature_of_a_sigstore_root_verifies_with_its_own_or_the_previous_roots_keys(int version)
    {
        var root = VectorData.Load(VectorData.SigstoreRoot(version));
        var message = VectorData.SignedBytes(root);
        var keys = VectorData.RootKeys(root);
        var previous = version > 1 ? VectorData.RootKeys(VectorData.Load(VectorData.SigstoreRoot(version - 1))) : [];
        var checkedSignatures = 0;
        foreach (var (keyId, method, sig) in VectorData.Signatures(root, Dialect.TufSpecification))
        {
            Assert.Null(method);
            var keyObject = keys.GetValueOrDefault(keyId) ?? previous.GetValueOrDefault(keyId);
            Assert.True(keyObject is not null, $"root {version}: signature by {keyId} has no key in this or the previous root");
            var valid = VectorData.Verify(keyObject!, Dialect.TufSpecification, null, message, sig);
            if (sig.Length == 0)
            {
                // tuf-on-ci leaves an empty "sig" for a signer who has not signed yet: it must not verify, nor throw.
                Assert.False(valid);
                continue;
            }

            Assert.True(valid, $"root {version}: signature by {keyId} does not verify");
            checkedSignatures++;
        }

        // sigstore's threshold is 3 of 5: every root carries at least that many good signatures.
        Assert.True(checkedSignatures >= 3, $"root {version} has {checkedSignatures} signatures");
    }

    [Fact]
    public void Sigstore_roots_1_to_4_carry_legacy_hex_points_that_decode_to_the_same_keys_root_5_lists_as_pem()
    {
        var root4 = VectorData.RootKeys(VectorData.Load(VectorData.SigstoreRoot(4)));
        var root5 = VectorData.RootKeys(VectorData.Load(VectorData.SigstoreRoot(5)));
        var legacy = root4.Values.Where(k => ((JsonString)k["keytype"]).Value == "ecdsa-sha2-nistp256").ToList();
        Assert.NotEmpty(legacy);
        var pemFingerprints = root5.Values
            .Where(k => ((JsonString)((JsonObject)k["keyval"])["public"]).Value.StartsWith("-----BEGIN", StringComparison.Ordinal))
            .Select(k => KeyFormats.Decode(k, Dialect.TufSpecification, "$").Fingerprint)
            .ToHashSet();
        var shared = 0;
        foreach (var keyObject in legacy)
        {
            var hex = ((JsonString)((JsonObject)keyObject["keyval"])["public"]).Value;
            Assert.StartsWith("04", hex, StringComparison.Ordinal);
            var key = KeyFormats.Decode(keyObject, Dialect.TufSpecification, "$");
            Assert.Equal(KeyFamily.Ecdsa, key.Family);
            Assert.Equal("P-256", key.Curve);
            if (pemFingerprints.Contains(key.Fingerprint))
            {
                shared++;
            }
        }

        // Root 5 re-lists the physical keys of root 4 in PEM: the same keys must get the same fingerprints.
        Assert.True(shared >= 3, $"only {shared} of root 4's hex keys reappear in root 5's PEM keys");
    }

    [Fact]
    public void Key_ids_of_the_sigstore_chain_are_compliant_except_the_one_in_root_11()
    {
        var mismatches = new List<(int Version, string Listed, string Computed)>();
        for (var version = 1; version <= VectorData.SigstoreRootCount(); version++)
        {
            foreach (var (listed, keyObject) in VectorData.RootKeys(VectorData.Load(VectorData.SigstoreRoot(version))))
            {
                var computed = KeyFormats.ComputeKeyId(keyObject);
                if (computed != listed)
                {
                    mismatches.Add((version, listed, computed));
                }
            }
        }

        var mismatch = Assert.Single(mismatches);
        Assert.Equal(11, mismatch.Version);
        Assert.Matches("^[0-9a-f]{64}$", mismatch.Computed);
    }

    [Fact]
    public void Sigstore_targets_snapshot_timestamp_and_the_npm_delegation_verify_with_the_newest_root()
    {
        var dir = TestEnvironment.RequireVectors("sigstore-root-chain");
        var root = VectorData.Load(VectorData.SigstoreRoot(VectorData.SigstoreRootCount()));
        var keys = VectorData.RootKeys(root);
        var roles = (JsonObject)VectorData.Signed(root)["roles"];
        foreach (var role in new[] { "targets", "snapshot", "timestamp" })
        {
            var doc = VectorData.Load(Path.Combine(dir, role + ".json"));
            var allowed = ((JsonArray)((JsonObject)roles[role])["keyids"]).Select(n => ((JsonString)n).Value).ToHashSet();
            var valid = CountValid(doc, Dialect.TufSpecification, keys, allowed);
            var threshold = (int)((JsonInteger)((JsonObject)roles[role])["threshold"]).Int64Value;
            Assert.True(valid >= threshold, $"{role}: {valid} valid signatures, threshold {threshold}");
        }

        var targets = VectorData.Load(Path.Combine(dir, "targets.json"));
        var npm = VectorData.Load(Path.Combine(dir, "registry.npmjs.org.json"));
        var delegationKeys = VectorData.DelegationKeys(targets);
        Assert.True(CountValid(npm, Dialect.TufSpecification, delegationKeys, delegationKeys.Keys.ToHashSet()) >= 1);
    }

    [Fact]
    public void Python_tuf_generated_ed25519_metadata_verifies()
    {
        var dir = Path.Combine(TestEnvironment.RequireVectors("python-tuf-testdata/generated_data/ed25519_metadata"));
        var root = VectorData.Load(Path.Combine(dir, "root_with_ed25519.json"));
        var keys = VectorData.RootKeys(root);
        Assert.All(keys.Values, k => Assert.Equal(KeyFamily.Ed25519, KeyFormats.Decode(k, Dialect.TufSpecification, "$").Family));
        foreach (var file in new[] { "root", "targets", "snapshot", "timestamp" })
        {
            var doc = VectorData.Load(Path.Combine(dir, file + "_with_ed25519.json"));
            var count = VectorData.Signatures(doc, Dialect.TufSpecification).Count();
            Assert.True(count > 0);
            Assert.Equal(count, CountValid(doc, Dialect.TufSpecification, keys, keys.Keys.ToHashSet()));
        }
    }

    [Fact]
    public void Python_tuf_repository_rsa_root_and_ed25519_roles_verify()
    {
        var dir = TestEnvironment.RequireVectors("python-tuf-testdata/repository_data/repository/metadata");
        var root = VectorData.Load(Path.Combine(dir, "root.json"));
        var keys = VectorData.RootKeys(root);
        Assert.Contains(keys.Values, k => KeyFormats.Decode(k, Dialect.TufSpecification, "$").Family == KeyFamily.Rsa);
        foreach (var file in new[] { "root", "targets", "snapshot", "timestamp" })
        {
            var doc = VectorData.Load(Path.Combine(dir, file + ".json"));
            var count = VectorData.Signatures(doc, Dialect.TufSpecification).Count();
            Assert.Equal(count, CountValid(doc, Dialect.TufSpecification, keys, keys.Keys.ToHashSet()));
        }

        var targets = VectorData.Load(Path.Combine(dir, "targets.json"));
        var delegationKeys = VectorData.DelegationKeys(targets);
        foreach (var file in new[] { "role1", "role2" })
        {
            var doc = VectorData.Load(Path.Combine(dir, file + ".json"));
            Assert.Equal(VectorData.Signatures(doc, Dialect.TufSpecification).Count(), CountValid(doc, Dialect.TufSpecification, delegationKeys, delegationKeys.Keys.ToHashSet()));
        }
    }

    [Theory]
    [InlineData("0.1")]
    [InlineData("0.3")]
    public void Notary_fixtures_verify_in_notarys_dialect(string version)
    {
        var root = VectorData.Load(VectorData.NotaryMetadata(version, "root.json"));
        var keys = VectorData.RootKeys(root);
        foreach (var file in new[] { "root.json", "targets.json", "snapshot.json", "timestamp.json" })
        {
            var doc = VectorData.Load(VectorData.NotaryMetadata(version, file));
            var count = VectorData.Signatures(doc, Dialect.Notary).Count();
            Assert.True(count > 0);
            Assert.Equal(count, CountValid(doc, Dialect.Notary, keys, keys.Keys.ToHashSet()));
        }

        // The root key is an x509 certificate whose CN is the GUN.
        var rootKeyId = ((JsonString)((JsonArray)((JsonObject)((JsonObject)VectorData.Signed(root)["roles"])["root"])["keyids"])[0]).Value;
        var rootKey = KeyFormats.Decode(keys[rootKeyId], Dialect.Notary, "$");
        var leaf = Assert.Single(rootKey.CertificateChain);
        var gun = version == "0.1" ? "docker.com/notary0.1/samplerepo" : "docker.com/notary0.3/tst";
        Assert.Equal(gun, leaf.GetNameInfo(System.Security.Cryptography.X509Certificates.X509NameType.SimpleName, false));
        Assert.Equal(rootKeyId, KeyFormats.ComputeKeyId(keys[rootKeyId]));
    }

    [Fact]
    public void Notary_rsa_x509_delegation_signs_with_rsapss()
    {
        var targets = VectorData.Load(VectorData.NotaryMetadata("0.3", "targets.json"));
        var releases = VectorData.Load(VectorData.NotaryMetadata("0.3", "targets/releases.json"));
        var keys = VectorData.DelegationKeys(targets);
        var (keyId, method, _) = Assert.Single(VectorData.Signatures(releases, Dialect.Notary));
        Assert.Equal("rsapss", method);
        var key = KeyFormats.Decode(keys[keyId], Dialect.Notary, "$");
        Assert.Equal(KeyFamily.Rsa, key.Family);
        Assert.NotEmpty(key.CertificateChain);
        Assert.Equal(1, CountValid(releases, Dialect.Notary, keys, keys.Keys.ToHashSet()));
    }

    internal static int CountValid(JsonObject doc, Dialect dialect, Dictionary<string, JsonObject> keys, HashSet<string> allowed)
    {
        var message = VectorData.SignedBytes(doc);
        var valid = 0;
        foreach (var (keyId, method, sig) in VectorData.Signatures(doc, dialect))
        {
            if (allowed.Contains(keyId) && keys.TryGetValue(keyId, out var keyObject) && VectorData.Verify(keyObject, dialect, method, message, sig))
            {
                valid++;
            }
        }

        return valid;
    }
}
