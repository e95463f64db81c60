using OfflineSigner.Bundles.Tests.Support;
using OfflineSigner.Daemon.Tests.Support;
using OfflineSigner.Interop.Tests.Fixtures;
using OfflineSigner.Tuf;
using Xunit;

namespace OfflineSigner.Bundles.Tests;

/// <summary>
/// A TUF specification repository created, rotated and delegated only through bundles signed by a real daemon on
/// SoftHSM2, followed at every step by tuf-js (an independent client, over HTTP on loopback) that keeps its cache.
/// </summary>
public sealed class TufWorkflowTests(SoftHsm hsm)
{
    [Fact]
    public void A_repository_created_and_rotated_through_bundles_is_followed_by_tuf_js_at_every_step()
    {
        using var w = new Workflow(hsm);
        var repo = w.Path("repo");
        w.CreateTufRepository(repo, ["root-a", "root-b", "root-c"], 2, "targets-1");
        var trusted = w.Path("trusted-root.json");
        File.Copy(System.IO.Path.Combine(repo, "metadata", "1.root.json"), trusted);
        var cache = w.Path("tufjs-cache");
        Directory.CreateDirectory(cache);
        var first = TufJs.Refresh(repo, trusted, metadataDir: cache);
        Assert.True(first.Ok, first.ToString());
        Assert.Equal(1, first.RootVersion);

        var root1 = Metadata<Root>.Parse(File.ReadAllBytes(System.IO.Path.Combine(repo, "metadata", "1.root.json")));
        Assert.Equal(2, root1.Signed.Roles["root"].Threshold);
        Assert.Equal(3, root1.Signed.Roles["root"].KeyIds.Count);

        // Root rotation 1: root-c replaced by root-d; the old keys a and b cross-sign, and meet the new threshold too.
        w.Generate("root-d");
        var b2 = w.Path("b2");
        w.Ok("export", "--repo", repo, "--role", "root", "--remove-key", w.KeyId("root-c"), "--add-key", w.PublicKeyFile("root-d"), "--out", b2);
        w.Sign(b2, "root-a");
        w.Sign(b2, "root-b");
        w.Ok("import", "--bundle", b2, "--repo", repo, "--online-key", w.OnlineKey);
        var second = TufJs.Refresh(repo, trusted, metadataDir: cache);
        Assert.True(second.Ok, second.ToString());
        Assert.Equal(2, second.RootVersion);

        // Root rotation 2: root-b replaced by root-e, threshold kept: a and d sign (d is a key of root 2 only).
        w.Generate("root-e");
        var b3 = w.Path("b3");
        w.Ok("export", "--repo", repo, "--role", "root", "--remove-key", w.KeyId("root-b"), "--add-key", w.PublicKeyFile("root-e"), "--out", b3);
        w.Sign(b3, "root-a");
        w.Sign(b3, "root-d");
        w.Ok("import", "--bundle", b3, "--repo", repo, "--online-key", w.OnlineKey);
        var third = TufJs.Refresh(repo, trusted, metadataDir: cache);
        Assert.True(third.Ok, third.ToString());
        Assert.Equal(3, third.RootVersion);

        // A fresh tuf-js that trusts only root 1 walks the whole chain.
        var fresh = TufJs.Refresh(repo, trusted);
        Assert.True(fresh.Ok, fresh.ToString());
        Assert.Equal(3, fresh.RootVersion);
        Assert.Contains("200 /metadata/2.root.json", fresh.Requests);
        Assert.Contains("200 /metadata/3.root.json", fresh.Requests);

        // A delegation created, then its key rotated; tuf-js walks to the delegated role for a target under it.
        w.Generate("rel-1", "rel-2");
        var b4 = w.Path("b4");
        w.Ok("export", "--repo", repo, "--role", "targets", "--delegation", "releases", "--add-key", w.PublicKeyFile("rel-1"), "--out", b4);
        w.Sign(b4, "targets-1");
        w.Sign(b4, "rel-1");
        w.Ok("import", "--bundle", b4, "--repo", repo, "--online-key", w.OnlineKey);
        var b5 = w.Path("b5");
        w.Ok("export", "--repo", repo, "--role", "targets", "--delegation", "releases", "--remove-key", w.KeyId("rel-1"), "--add-key", w.PublicKeyFile("rel-2"), "--out", b5);
        var status = w.Cli("status", "--bundle", b5);
        Assert.Equal(1, status.ExitCode);
        w.Sign(b5, "targets-1");
        w.Sign(b5, "rel-2");
        w.Ok("status", "--bundle", b5);
        w.Ok("import", "--bundle", b5, "--repo", repo, "--online-key", w.OnlineKey);

        var targets = Metadata<Targets>.Parse(File.ReadAllBytes(System.IO.Path.Combine(repo, "metadata", "3.targets.json")));
        var releases = targets.Signed.Delegations!.FindRole("releases")!;
        Assert.Equal([w.KeyId("rel-2")], releases.KeyIds);
        var releases2 = Metadata<Targets>.Parse(File.ReadAllBytes(System.IO.Path.Combine(repo, "metadata", "2.releases.json")));
        Assert.True(Verifier.VerifyDelegated("releases", targets.Signed, releases2).Verified);

        // No target is published yet: tuf-js must verify releases (signed by the rotated key) to say it is not found.
        var last = TufJs.Refresh(repo, trusted, ["releases/app-1.0.tgz"], metadataDir: cache, infoOnly: true);
        Assert.Contains("200 /metadata/2.releases.json", last.Requests);
        Assert.False(last.Ok);
        Assert.StartsWith("TargetNotFoundError", last.Error, StringComparison.Ordinal);
        var refreshed = TufJs.Refresh(repo, trusted, metadataDir: cache);
        Assert.True(refreshed.Ok, refreshed.ToString());
        Assert.Equal(3, refreshed.RootVersion);
        Assert.Equal(3, refreshed.TargetsVersion);

        var chain = w.Ok("verify-chain", System.IO.Path.Combine(repo, "metadata"), "--json");
        Assert.Contains("\"verified\": true", chain.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public void Two_holders_sign_in_turn_in_separate_processes_and_a_third_signature_beyond_the_threshold_is_kept()
    {
        using var w = new Workflow(hsm);
        var repo = w.Path("repo");
        w.CreateTufRepository(repo, ["root-a", "root-b", "root-c"], 2, "targets-1");
        var bundle = w.Path("resign-root");
        w.Ok("export", "--repo", repo, "--role", "root", "--out", bundle);

        // Day 1: one holder. The bundle is not importable yet, and says who is missing.
        w.Sign(bundle, "root-b");
        var status = w.Cli("status", "--bundle", bundle, "--json");
        Assert.Equal(1, status.ExitCode);
        Assert.Contains("\"signatures\": 1", status.StdOut, StringComparison.Ordinal);
        var before = Workflow.TreeHash(repo);
        var early = w.Cli("import", "--bundle", bundle, "--repo", repo, "--online-key", w.OnlineKey);
        Assert.Equal(1, early.ExitCode);
        Assert.Contains("1 of 2 signatures", early.StdErr, StringComparison.Ordinal);
        Assert.Equal(before, Workflow.TreeHash(repo));

        // The same holder again is refused: a key signs an item once.
        var again = w.CliWithPin("sign", "--bundle", bundle, "--key", w.KeyUri("root-b"), "--yes");
        Assert.NotEqual(0, again.ExitCode);
        Assert.Contains("already signed", again.StdErr, StringComparison.Ordinal);

        // Day 2 and 3: the other holders, in another order than the keys are listed.
        w.Sign(bundle, "root-c");
        w.Sign(bundle, "root-a");
        w.Ok("status", "--bundle", bundle);
        w.Ok("import", "--bundle", bundle, "--repo", repo, "--online-key", w.OnlineKey);
        var root2 = Metadata<Root>.Parse(File.ReadAllBytes(System.IO.Path.Combine(repo, "metadata", "2.root.json")));
        Assert.Equal(3, root2.Signatures.Count);
        Assert.Equal(3, Verifier.VerifyTopLevel(root2.Signed, root2).Signers.Count);

        var transcript = File.ReadAllLines(System.IO.Path.Combine(bundle, "transcript.jsonl"));
        Assert.Equal(["export", "sign", "sign", "sign", "import"], transcript.Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("event").GetString()));
    }

    [Fact]
    public void Without_the_online_key_import_writes_the_signed_roles_and_leaves_snapshot_and_timestamp_to_the_repository_s_service()
    {
        using var w = new Workflow(hsm);
        var repo = w.Path("repo");
        w.CreateTufRepository(repo, ["root-a"], 1, "targets-1");
        var metadata = Path.Combine(repo, "metadata");
        var timestamp = File.ReadAllBytes(Path.Combine(metadata, "timestamp.json"));
        var bundle = w.Path("targets-2");
        w.Ok("export", "--repo", repo, "--role", "targets", "--out", bundle);
        w.Sign(bundle, "targets-1");
        var r = w.Ok("import", "--bundle", bundle, "--repo", repo);
        Assert.Contains("left to the repository's own service", r.StdOut, StringComparison.Ordinal);

        // The signed targets is there, verified; snapshot and timestamp are untouched, so clients still see version 1.
        var targets2 = Metadata<Targets>.Parse(File.ReadAllBytes(Path.Combine(metadata, "2.targets.json")));
        var root = Metadata<Root>.Parse(File.ReadAllBytes(Path.Combine(metadata, "1.root.json")));
        Assert.True(Verifier.VerifyTopLevel(root.Signed, targets2).Verified);
        Assert.Equal(timestamp, File.ReadAllBytes(Path.Combine(metadata, "timestamp.json")));
        Assert.False(File.Exists(Path.Combine(metadata, "2.snapshot.json")));
        var tufjs = TufJs.Refresh(repo, Path.Combine(metadata, "1.root.json"));
        Assert.True(tufjs.Ok, tufjs.ToString());
        Assert.Equal(1, tufjs.TargetsVersion);
    }
}
