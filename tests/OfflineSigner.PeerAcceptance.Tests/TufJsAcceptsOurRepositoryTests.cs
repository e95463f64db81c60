using System.Text;
using OfflineSigner.Signing;
using OfflineSigner.Interop.Tests.Fixtures;
using OfflineSigner.PeerAcceptance.Tests.Support;
using OfflineSigner.Tests.Shared;
using OfflineSigner.Tuf;
using Xunit;

namespace OfflineSigner.PeerAcceptance.Tests;

/// <summary>
/// A TUF specification repository written by our code and served on 127.0.0.1 to tuf-js (npm), an independent client:
/// it must refresh and download through root rotations and a delegation key rotation, continuing from its cache,
/// and must refuse tampered, rolled-back, cross-signature-less and under-signed metadata.
/// </summary>
public class TufJsAcceptsOurRepositoryTests
{
    [Fact]
    public void TufJs_refreshes_our_repository_and_downloads_the_top_level_and_the_delegated_target()
    {
        using var work = TestEnvironment.CreateTempDir("peer-tufjs");
        using var repo = new OurTufRepository(Path.Combine(work.Path, "repo"));
        repo.Initialize();

        var result = TufJs.Refresh(repo.Dir, repo.RootFile(1), [OurTufRepository.TopLevelTarget, OurTufRepository.DelegatedTarget]);

        Assert.True(result.Ok, result.ToString());
        Assert.Equal(1, result.RootVersion);
        Assert.Equal(1, result.TargetsVersion);
        AssertDownloaded(repo, result, OurTufRepository.TopLevelTarget, OurTufRepository.DelegatedTarget);

        // Consistent snapshots: versioned metadata names and hash-prefixed target names are what tuf-js asked for.
        Assert.Contains("200 /metadata/1.snapshot.json", result.Requests);
        Assert.Contains("200 /metadata/1.targets.json", result.Requests);
        Assert.Contains("200 /metadata/1.releases.json", result.Requests);
        Assert.Contains($"200 /targets/releases/{repo.TargetSha256(OurTufRepository.DelegatedTarget)}.app-1.0.tgz", result.Requests);
    }

    [Fact]
    public void TufJs_follows_two_root_rotations_and_a_delegation_key_rotation_from_its_cache()
    {
        using var work = TestEnvironment.CreateTempDir("peer-tufjs");
        using var repo = new OurTufRepository(Path.Combine(work.Path, "repo"));
        var cache = Path.Combine(work.Path, "client");
        repo.Initialize();
        var trusted = repo.RootFile(1);
        string[] both = [OurTufRepository.TopLevelTarget, OurTufRepository.DelegatedTarget];

        var first = TufJs.Refresh(repo.Dir, trusted, both, metadataDir: cache);
        Assert.True(first.Ok, first.ToString());
        Assert.Equal(1, first.RootVersion);

        // Root 2: the ECDSA root key replaced; signed by two of root 1's keys and two of root 2's (threshold 2 of 3 both).
        repo.Publish(repo.RotateRoot(replace: [1], oldSigners: [0, 1], newSigners: [1, 2]));
        var second = TufJs.Refresh(repo.Dir, "-", both, metadataDir: cache);
        Assert.True(second.Ok, second.ToString());
        Assert.Equal(2, second.RootVersion);
        Assert.Contains("200 /metadata/2.root.json", second.Requests);
        AssertDownloaded(repo, second, both);

        // Root 3: the Ed25519 root key replaced and the threshold raised to 3; two of root 2's keys, all three of root 3's.
        repo.Publish(repo.RotateRoot(replace: [0], threshold: 3, oldSigners: [1, 2]));
        var third = TufJs.Refresh(repo.Dir, "-", both, metadataDir: cache);
        Assert.True(third.Ok, third.ToString());
        Assert.Equal(3, third.RootVersion);
        Assert.Equal(3, Metadata<Root>.Parse(File.ReadAllBytes(Path.Combine(cache, "root.json"))).Signed.Roles["root"].Threshold);
        Assert.DoesNotContain("200 /metadata/2.root.json", third.Requests);

        // The delegation's key replaced: targets 2 lists the new key, releases 2 is signed by it and holds a new target.
        var oldDelegationKeyId = repo.DelegationKey.KeyId;
        const string newTarget = "releases/app-2.0.tgz";
        repo.RotateDelegationKey(newTarget, Encoding.UTF8.GetBytes("release 2.0 of an application\n"));
        var fourth = TufJs.Refresh(repo.Dir, "-", [.. both, newTarget], metadataDir: cache);
        Assert.True(fourth.Ok, fourth.ToString());
        Assert.Equal(3, fourth.RootVersion);
        Assert.Equal(2, fourth.TargetsVersion);
        Assert.Equal(2, fourth.TimestampVersion);
        Assert.Contains("200 /metadata/2.releases.json", fourth.Requests);
        AssertDownloaded(repo, fourth, [.. both, newTarget]);
        var cachedTargets = Metadata<Targets>.Parse(File.ReadAllBytes(Path.Combine(cache, "targets.json")));
        Assert.Equal([repo.DelegationKey.KeyId], cachedTargets.Signed.Delegations!.FindRole(OurTufRepository.DelegatedRole)!.KeyIds);
        Assert.NotEqual(oldDelegationKeyId, repo.DelegationKey.KeyId);

        // A fresh client trusting only root 1 walks the whole chain as well.
        var fresh = TufJs.Refresh(repo.Dir, trusted, [.. both, newTarget]);
        Assert.True(fresh.Ok, fresh.ToString());
        Assert.Equal(3, fresh.RootVersion);
    }

    [Fact]
    public void TufJs_refuses_a_targets_file_with_a_byte_flipped_in_a_signed_field()
    {
        using var work = TestEnvironment.CreateTempDir("peer-tufjs");
        using var repo = new OurTufRepository(Path.Combine(work.Path, "repo"));
        repo.Initialize();
        var intact = TufJs.Refresh(repo.Dir, repo.RootFile(1), [OurTufRepository.TopLevelTarget]);
        Assert.True(intact.Ok, intact.ToString());

        var file = Path.Combine(repo.MetadataDir, "1.targets.json");
        File.WriteAllBytes(file, Tamper.FlipInside(File.ReadAllBytes(file), "\"hello.txt\"", 5));
        var tampered = TufJs.Refresh(repo.Dir, repo.RootFile(1), [OurTufRepository.TopLevelTarget]);

        // tuf-js wraps the signature failure of a targets role it fetches in a RuntimeError.
        Assert.False(tampered.Ok, tampered.ToString());
        Assert.Contains("targets was signed by 0/1 keys", tampered.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void TufJs_refuses_a_new_root_signed_only_by_its_own_keys_and_accepts_it_cross_signed()
    {
        using var work = TestEnvironment.CreateTempDir("peer-tufjs");
        using var repo = new OurTufRepository(Path.Combine(work.Path, "repo"));
        var cache = Path.Combine(work.Path, "client");
        repo.Initialize();
        Assert.True(TufJs.Refresh(repo.Dir, repo.RootFile(1), metadataDir: cache).Ok);
        var root1 = repo.State.Root;

        // Every root key replaced; root 2 signed by all three new keys and none of root 1's.
        var unsigned = repo.RotateRoot(replace: [0, 1, 2], oldSigners: []);
        File.WriteAllBytes(repo.RootFile(2), unsigned.ToBytes());
        var refused = TufJs.Refresh(repo.Dir, "-", metadataDir: cache);

        Assert.False(refused.Ok, refused.ToString());
        Assert.StartsWith("UnsignedMetadataError", refused.Error, StringComparison.Ordinal);
        Assert.Equal(1, Metadata<Root>.Parse(File.ReadAllBytes(Path.Combine(cache, "root.json"))).Signed.Version);

        // The same root 2 with two signatures by root 1's keys added is accepted by the same client.
        var crossSigned = Metadata<Root>.Parse(unsigned.ToBytes());
        crossSigned.AddSignature(SignatureBy(root1, crossSigned, repo, 0));
        crossSigned.AddSignature(SignatureBy(root1, crossSigned, repo, 2));
        File.WriteAllBytes(repo.RootFile(2), crossSigned.ToBytes());
        var accepted = TufJs.Refresh(repo.Dir, "-", metadataDir: cache);
        Assert.True(accepted.Ok, accepted.ToString());
        Assert.Equal(2, accepted.RootVersion);
    }

    [Fact]
    public void TufJs_refuses_a_root_rotation_signed_by_one_of_the_two_old_keys_it_needs()
    {
        using var work = TestEnvironment.CreateTempDir("peer-tufjs");
        using var repo = new OurTufRepository(Path.Combine(work.Path, "repo"));
        var cache = Path.Combine(work.Path, "client");
        repo.Initialize();
        Assert.True(TufJs.Refresh(repo.Dir, repo.RootFile(1), metadataDir: cache).Ok);

        // Root 2 replaces the RSA key. Root 1's key 0 and the new key 2 sign: 2 of root 2's keys, 1 of root 1's.
        var underSigned = repo.RotateRoot(replace: [2], oldSigners: [0], newSigners: [0, 2]);
        Assert.Equal(2, underSigned.Signatures.Count);
        repo.Publish(underSigned);
        var result = TufJs.Refresh(repo.Dir, "-", metadataDir: cache);

        Assert.False(result.Ok, result.ToString());
        Assert.StartsWith("UnsignedMetadataError", result.Error, StringComparison.Ordinal);
        Assert.Contains("1/2", result.Error, StringComparison.Ordinal);
        Assert.Equal(1, Metadata<Root>.Parse(File.ReadAllBytes(Path.Combine(cache, "root.json"))).Signed.Version);
    }

    [Fact]
    public void TufJs_refuses_a_first_root_signed_by_one_of_its_two_required_keys()
    {
        using var work = TestEnvironment.CreateTempDir("peer-tufjs");
        using var repo = new OurTufRepository(Path.Combine(work.Path, "repo"));
        repo.Initialize(rootSigners: [1]);

        var result = TufJs.Refresh(repo.Dir, repo.RootFile(1), [OurTufRepository.TopLevelTarget]);

        Assert.False(result.Ok, result.ToString());
        Assert.StartsWith("UnsignedMetadataError", result.Error, StringComparison.Ordinal);
        Assert.Contains("1/2", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void TufJs_refuses_a_timestamp_rolled_back_below_the_version_it_cached()
    {
        using var work = TestEnvironment.CreateTempDir("peer-tufjs");
        using var repo = new OurTufRepository(Path.Combine(work.Path, "repo"));
        var cache = Path.Combine(work.Path, "client");
        repo.Initialize();
        var timestamp1 = File.ReadAllBytes(Path.Combine(repo.MetadataDir, "timestamp.json"));
        repo.AddTopLevelTarget("news.txt", Encoding.UTF8.GetBytes("version 2 of the repository\n"));
        var current = TufJs.Refresh(repo.Dir, repo.RootFile(1), ["news.txt"], metadataDir: cache);
        Assert.True(current.Ok, current.ToString());
        Assert.Equal(2, current.TimestampVersion);

        // The old, correctly signed timestamp 1 served again.
        File.WriteAllBytes(Path.Combine(repo.MetadataDir, "timestamp.json"), timestamp1);
        var rolledBack = TufJs.Refresh(repo.Dir, "-", metadataDir: cache);

        Assert.False(rolledBack.Ok, rolledBack.ToString());
        Assert.StartsWith("BadVersionError", rolledBack.Error, StringComparison.Ordinal);
        Assert.Equal(2, Metadata<Timestamp>.Parse(File.ReadAllBytes(Path.Combine(cache, "timestamp.json"))).Signed.Version);

        // The same bytes are a valid timestamp for a client that never saw version 2: the refusal is the rollback.
        var fresh = TufJs.Refresh(repo.Dir, repo.RootFile(1), [OurTufRepository.TopLevelTarget]);
        Assert.True(fresh.Ok, fresh.ToString());
        Assert.Equal(1, fresh.TimestampVersion);
    }

    private static Signature SignatureBy(Metadata<Root> previousRoot, Metadata<Root> document, OurTufRepository repo, int index)
    {
        // The previous root's key at index, re-created from the repository's history of signers.
        var key = previousRoot.Signed.RoleKeys("root").ElementAt(index);
        var signer = repo.SignerFor(key);
        var copy = Metadata<Root>.Parse(document.ToBytes());
        copy.ClearSignatures();
        copy.SignWith(signer, key);
        return copy.Signatures.Single();
    }

    private static void AssertDownloaded(OurTufRepository repo, TufJsResult result, params string[] targets)
    {
        Assert.Equal(targets.Order(StringComparer.Ordinal), result.Targets.Select(t => t.Path).Order(StringComparer.Ordinal));
        foreach (var t in result.Targets)
        {
            Assert.Equal(repo.TargetSha256(t.Path), t.Sha256);
            Assert.Equal(repo.State.TargetContents[t.Path].Length, t.Length);
        }
    }
}
