using OfflineSigner.Signing;
using OfflineSigner.Tuf.Crypto;
using OfflineSigner.Tuf.Json;
using Xunit;

namespace OfflineSigner.Tuf.Tests;

/// <summary>Producing new metadata versions in both dialects, and thresholds that count keys, not ids.</summary>
public sealed class WritingTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly List<SoftwareKeySigner> signers = [];

    public void Dispose()
    {
        foreach (var s in signers)
        {
            s.Dispose();
        }
    }

    private (SoftwareKeySigner Signer, Key Key) NewKey(Dialect dialect, KeyAlgorithm algorithm = KeyAlgorithm.EcdsaP256)
    {
        var signer = SoftwareKeySigner.Generate(algorithm);
        signers.Add(signer);
        var pub = PublicKey.FromSubjectPublicKeyInfo(signer.SubjectPublicKeyInfo.Span);
        var key = dialect == Dialect.Notary && algorithm != KeyAlgorithm.Ed25519
            ? Key.FromJson(KeyFormats.EncodeNotaryCertificate(NotaryRootCertificateBuilder.Build(signer, "example.com/repo", Now.AddDays(-1))), dialect)
            : Key.FromPublicKey(pub, dialect);
        return (signer, key);
    }

    private static void Sign<T>(Metadata<T> md, SoftwareKeySigner signer, Key key)
        where T : Signed => md.SignWith(signer, key);

    private static Metadata<T> Reparse<T>(Metadata<T> md)
        where T : Signed => Metadata<T>.Parse(md.ToBytes());

    [Theory]
    [InlineData(Dialect.TufSpecification)]
    [InlineData(Dialect.Notary)]
    public void Root_rotation_written_in_each_dialect_verifies_and_its_diff_names_every_change(Dialect dialect)
    {
        var k1 = NewKey(dialect);
        var k2 = NewKey(dialect);
        var k3 = NewKey(dialect);
        var root = Root.Create(dialect, Now.AddDays(365));
        root.AddKey("root", k1.Key);
        root.AddKey("root", k2.Key);
        foreach (var role in new[] { "targets", "snapshot", "timestamp" })
        {
            root.AddKey(role, k1.Key);
        }

        var v1 = Metadata<Root>.Create(root);
        Sign(v1, k1.Signer, k1.Key);
        v1 = Reparse(v1);
        Assert.True(Verifier.Verify("root", v1.Signed.Roles["root"], v1.Signed.Keys, v1).Verified);

        var next = Reparse(v1).Signed;
        next.SetVersion(2);
        next.SetExpires(Now.AddDays(400));
        next.RemoveKey("root", k2.Key.KeyId);
        next.AddKey("root", k3.Key);
        next.SetThreshold("root", 2);
        next.SetThreshold("timestamp", 1);
        var v2 = Metadata<Root>.Create(next);

        // Only the new keys: the old root's threshold is not met.
        Sign(v2, k3.Signer, k3.Key);
        var partial = Verifier.VerifyRootUpdate(v1, Reparse(v2));
        Assert.False(partial.Verified);

        Sign(v2, k1.Signer, k1.Key);
        var update = Verifier.VerifyRootUpdate(v1, Reparse(v2));
        Assert.True(update.Verified, string.Join("; ", update.ByNew.Problems.Concat(update.ByTrusted.Problems)));

        var changes = MetadataSummary.Changes(v1.As<Signed>(), v2.As<Signed>());
        Assert.Contains("version 1 -> 2", changes);
        Assert.Contains(changes, c => c.StartsWith("expires ", StringComparison.Ordinal));
        Assert.Contains(changes, c => c.StartsWith("key added: " + k3.Key.KeyId, StringComparison.Ordinal));
        Assert.Contains(changes, c => c.StartsWith("key removed: " + k2.Key.KeyId, StringComparison.Ordinal));
        Assert.Contains("root threshold 1 -> 2", changes);
        Assert.Contains("root key added: " + k3.Key.KeyId, changes);
        Assert.Contains("root key removed: " + k2.Key.KeyId, changes);
        Assert.Equal(dialect, Reparse(v2).Dialect);
    }

    [Fact]
    public void A_snapshot_s_meta_replaced_at_once_holds_exactly_the_new_entries_and_reads_back()
    {
        var snapshot = Snapshot.Create(Dialect.TufSpecification, DateTimeOffset.UtcNow.AddDays(7));
        snapshot.SetMeta("gone.json", new JsonObject { { "version", 1L } });
        snapshot.ReplaceMeta(Enumerable.Range(0, 1000).Select(i => ($"bins-{i:x3}.json", new JsonObject { { "version", (long)i + 1 } })));
        Assert.Equal(1000, snapshot.Meta.Count);
        Assert.False(snapshot.Meta.ContainsKey("gone.json"));
        Assert.Equal(500, snapshot.Meta["bins-1f3.json"].Version);
        var back = Metadata<Snapshot>.Parse(Metadata<Snapshot>.Create(snapshot).ToBytes());
        Assert.Equal(1000, back.Signed.Meta.Count);
    }

    [Fact]
    public void A_second_key_id_for_the_same_key_does_not_count_twice()
    {
        var a = NewKey(Dialect.TufSpecification);
        var b = NewKey(Dialect.TufSpecification);

        // The same public key again, under another id (an extra field changes the key id, not the key).
        var alias = (JsonObject)a.Key.Json.DeepClone();
        alias.Add("x-alias", true);
        var aliasKey = Key.FromJson(alias, Dialect.TufSpecification);
        Assert.NotEqual(a.Key.KeyId, aliasKey.KeyId);
        Assert.Equal(a.Key.Fingerprint, aliasKey.Fingerprint);

        var root = Root.Create(Dialect.TufSpecification, Now.AddDays(365));
        root.AddKey("root", a.Key);
        root.AddKey("root", aliasKey);
        root.AddKey("root", b.Key);
        root.SetThreshold("root", 2);
        var md = Metadata<Root>.Create(root);
        Sign(md, a.Signer, a.Key);
        Sign(md, a.Signer, aliasKey);
        var result = Verifier.Verify("root", md.Signed.Roles["root"], md.Signed.Keys, Reparse(md));
        Assert.False(result.Verified);
        Assert.Single(result.Signers);
        Assert.Contains(result.Problems, p => p.Contains("same public key", StringComparison.Ordinal));

        Sign(md, b.Signer, b.Key);
        Assert.True(Verifier.Verify("root", md.Signed.Roles["root"], md.Signed.Keys, Reparse(md)).Verified);
    }

    [Theory]
    [InlineData(Dialect.TufSpecification)]
    [InlineData(Dialect.Notary)]
    public void Delegations_are_added_rotated_and_removed_and_verify(Dialect dialect)
    {
        var top = NewKey(dialect, KeyAlgorithm.EcdsaP256);
        var d1 = NewKey(dialect, KeyAlgorithm.Ed25519);
        var d2 = NewKey(dialect, KeyAlgorithm.EcdsaP384);
        var name = dialect == Dialect.Notary ? "targets/releases" : "releases";
        var targets = Targets.Create(dialect, Now.AddDays(90));
        targets.SetTarget("a.txt", 3, new Dictionary<string, string> { ["sha256"] = dialect == Dialect.Notary ? "AAAA" : "abcd" });
        targets.AddDelegation(name, [d1.Key], 1, [dialect == Dialect.Notary ? "releases/" : "releases/*"]);
        var v1 = Metadata<Targets>.Create(targets);
        Sign(v1, top.Signer, top.Key);

        var delegated = Metadata<Targets>.Create(Targets.Create(dialect, Now.AddDays(30)));
        Sign(delegated, d1.Signer, d1.Key);
        Assert.True(Verifier.VerifyDelegated(name, Reparse(v1).Signed, Reparse(delegated)).Verified);
        Assert.True(Reparse(v1).Signed.Delegations!.Roles![0].IsDelegatedPath("releases/app.tgz"));
        Assert.False(Reparse(v1).Signed.Delegations!.Roles![0].IsDelegatedPath("other/app.tgz"));

        // Rotate the delegation's key: the old key no longer counts, the new one does.
        var next = Reparse(v1).Signed;
        next.SetVersion(2);
        next.SetDelegationKeys(name, [d2.Key], 1);
        var v2 = Metadata<Targets>.Create(next);
        Sign(v2, top.Signer, top.Key);
        Assert.False(Verifier.VerifyDelegated(name, Reparse(v2).Signed, Reparse(delegated)).Verified);
        var delegated2 = Metadata<Targets>.Create(Targets.Create(dialect, Now.AddDays(30)));
        Sign(delegated2, d2.Signer, d2.Key);
        Assert.True(Verifier.VerifyDelegated(name, Reparse(v2).Signed, Reparse(delegated2)).Verified);
        Assert.DoesNotContain(d1.Key.KeyId, Reparse(v2).Signed.Delegations!.Keys.Keys);

        var changes = MetadataSummary.Changes(v1.As<Signed>(), v2.As<Signed>());
        Assert.Contains($"delegated role {name} key added: {d2.Key.KeyId}", changes);
        Assert.Contains($"delegated role {name} key removed: {d1.Key.KeyId}", changes);
        Assert.Contains(changes, c => c.StartsWith("delegation key added: " + d2.Key.KeyId, StringComparison.Ordinal));

        var v3 = Reparse(v2).Signed;
        v3.SetVersion(3);
        Assert.True(v3.RemoveDelegation(name));
        Assert.Contains($"delegated role removed: {name}", MetadataSummary.Changes(v2.As<Signed>(), Metadata<Targets>.Create(v3).As<Signed>()));
    }

    [Fact]
    public void Succinct_hash_bins_cover_every_target_and_name_bins_like_tap15()
    {
        var k = NewKey(Dialect.TufSpecification, KeyAlgorithm.Ed25519);
        var targets = Targets.Create(Dialect.TufSpecification, Now.AddDays(10));
        targets.SetSuccinctDelegations([k.Key], 1, 8, "bin");
        var md = Reparse(Metadata<Targets>.Create(targets));
        var sr = md.Signed.Delegations!.Succinct!;
        Assert.Equal(256, sr.BinCount);
        Assert.Equal("bin-00", sr.RoleName(0));
        Assert.Equal("bin-ff", sr.RoleName(255));
        Assert.True(sr.IsRole(sr.RoleForTarget("some/file.tgz")));
        Assert.False(sr.IsRole("bin-100"));
        Assert.NotNull(md.Signed.Delegations.FindRole("bin-7a"));
    }

    [Fact]
    public void Every_kind_of_change_is_reported_including_unknown_fields()
    {
        var t1 = Targets.Create(Dialect.TufSpecification, Now.AddDays(10));
        t1.SetTarget("keep.txt", 1, new Dictionary<string, string> { ["sha256"] = "aa" });
        t1.SetTarget("change.txt", 1, new Dictionary<string, string> { ["sha256"] = "bb" });
        t1.SetTarget("drop.txt", 1, new Dictionary<string, string> { ["sha256"] = "cc" });
        t1.Json.Add("x-custom", new JsonObject { { "period", 7 } });
        var v1 = Metadata<Targets>.Create(t1);
        var t2 = Reparse(v1).Signed;
        t2.SetVersion(2);
        t2.SetTarget("change.txt", 2, new Dictionary<string, string> { ["sha256"] = "dd" });
        t2.RemoveTarget("drop.txt");
        t2.SetTarget("new.txt", 5, new Dictionary<string, string> { ["sha256"] = "ee" });
        ((JsonObject)t2.Json["x-custom"]).Set("period", 8);
        t2.Json.Add("x-added", "yes");
        var changes = MetadataSummary.Changes(v1.As<Signed>(), Metadata<Targets>.Create(t2).As<Signed>());
        Assert.Contains(changes, c => c.StartsWith("target added: new.txt", StringComparison.Ordinal));
        Assert.Contains("target removed: drop.txt", changes);
        Assert.Contains(changes, c => c.StartsWith("target changed: change.txt", StringComparison.Ordinal));
        Assert.DoesNotContain(changes, c => c.Contains("keep.txt", StringComparison.Ordinal));
        Assert.Contains("other field x-custom.period changed: 7 -> 8", changes);
        Assert.Contains("other field x-added added: \"yes\"", changes);

        // A rollback is called out.
        var back = Reparse(v1).Signed;
        Assert.Contains(MetadataSummary.Changes(Metadata<Targets>.Create(t2).As<Signed>(), Metadata<Targets>.Create(back).As<Signed>()), c => c.Contains("ROLLBACK", StringComparison.Ordinal));
    }
}
