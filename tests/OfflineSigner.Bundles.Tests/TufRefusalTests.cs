using OfflineSigner.Bundles.Tests.Support;
using OfflineSigner.Daemon.Tests.Support;
using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Bundles.Tests;

/// <summary>
/// Every refusal at import leaves the repository byte-identical: tampered items, manifests and signatures, too few
/// signatures, rollbacks and replays, bundles of other repositories, and what a hostile stick can hold (links,
/// FIFOs, names not in the manifest, oversized files, unknown format versions).
/// </summary>
public sealed class TufRefusalTests(SoftHsm hsm)
{
    [Fact]
    public void A_role_file_that_holds_another_version_than_the_snapshot_lists_is_refused_and_the_repository_is_untouched()
    {
        using var w = new Workflow(hsm);
        var repo = w.Path("repo");
        w.CreateTufRepository(repo, ["root-a"], 1, "targets-1");
        w.Generate("rel");
        var create = w.Path("create-rel");
        w.Ok("export", "--repo", repo, "--role", "targets", "--add-key", w.PublicKeyFile("rel"), "--delegation", "rel", "--out", create);
        w.Sign(create, "targets-1");
        w.Sign(create, "rel");
        w.Ok("import", "--bundle", create, "--repo", repo, "--online-key", w.OnlineKey);
        var second = w.Path("rel-v2");
        w.Ok("export", "--repo", repo, "--role", "rel", "--out", second);
        w.Sign(second, "rel");
        w.Ok("import", "--bundle", second, "--repo", repo, "--online-key", w.OnlineKey);

        // A bundle for rel v3, made while the repository was sound.
        var third = w.Path("rel-v3");
        w.Ok("export", "--repo", repo, "--role", "rel", "--out", third);
        w.Sign(third, "rel");

        // 2.rel.json replaced by the validly signed version 1: the signature holds, the version is not the snapshot's.
        var meta = Path.Combine(repo, "metadata");
        var sound = File.ReadAllBytes(Path.Combine(meta, "2.rel.json"));
        File.Copy(Path.Combine(meta, "1.rel.json"), Path.Combine(meta, "2.rel.json"), overwrite: true);
        var before = Workflow.TreeHash(repo);
        const string Expected = "holds rel version 1, but the snapshot lists version 2";

        var export = w.Cli("export", "--repo", repo, "--role", "rel", "--out", w.Path("after-tamper"));
        Assert.True(export.ExitCode != 0 && export.StdErr.Contains(Expected, StringComparison.Ordinal), export.ToString());

        // Import replaces rel, so its old signature is not checked again; its version still is.
        var import = w.Cli("import", "--bundle", third, "--repo", repo, "--online-key", w.OnlineKey);
        Assert.True(import.ExitCode != 0 && import.StdErr.Contains(Expected, StringComparison.Ordinal), import.ToString());
        Assert.Equal(before, Workflow.TreeHash(repo));

        // Put back, the same bundle imports.
        File.WriteAllBytes(Path.Combine(meta, "2.rel.json"), sound);
        w.Ok("import", "--bundle", third, "--repo", repo, "--online-key", w.OnlineKey);
    }

    [Fact]
    public void Tampered_rolled_back_under_signed_and_hostile_bundles_are_refused_and_the_repository_is_untouched()
    {
        using var w = new Workflow(hsm);
        var repo = w.Path("repo");
        w.CreateTufRepository(repo, ["root-a", "root-b", "root-c"], 2, "targets-1");

        // A good bundle (targets v2), fully signed, that each case copies and damages.
        var good = w.Path("good");
        w.Ok("export", "--repo", repo, "--role", "targets", "--out", good);
        w.Sign(good, "targets-1");
        var before = Workflow.TreeHash(repo);

        void Refused(string name, Action<string> damage, string expected, params string[] extra)
        {
            var copy = w.Path(name);
            Workflow.CopyTree(good, copy);
            damage(copy);
            var r = w.Cli(["import", "--bundle", copy, "--repo", repo, "--online-key", w.OnlineKey, .. extra]);
            Assert.True(r.ExitCode == 1, $"{name}: expected exit 1\n{r}");
            Assert.True(r.StdErr.Contains(expected, StringComparison.Ordinal), $"{name}: expected \"{expected}\"\n{r}");
            Assert.Equal(before, Workflow.TreeHash(repo));
        }

        static void Edit(string file, Func<string, string> change) => File.WriteAllText(file, change(File.ReadAllText(file)));
        static string Item(string b) => Path.Combine(b, "items", "00001.json");
        static string Sig(string b) => Directory.EnumerateFiles(Path.Combine(b, "signatures"), "*", SearchOption.AllDirectories).Single();

        Refused("tampered-item", b => Edit(Item(b), t => t.Replace("\"version\":2", "\"version\":3", StringComparison.Ordinal)), "changed after export");
        Refused("tampered-signature", b => Edit(Sig(b), t => System.Text.RegularExpressions.Regex.Replace(t, "(\"sig\": \"[0-9a-f]+)([0-9a-f])\"", m => m.Groups[1].Value + (m.Groups[2].Value == "0" ? "1" : "0") + "\"")), "0 of 1");
        Refused("signature-over-other-bytes", b => Edit(Sig(b), t => System.Text.RegularExpressions.Regex.Replace(t, "\"signed_sha256\": \"[0-9a-f]{64}\"", "\"signed_sha256\": \"" + new string('a', 64) + "\"")), "signature over other bytes");
        Refused("unsigned", b => File.Delete(Sig(b)), "not signed enough");
        Refused("format-version", b => Edit(Path.Combine(b, "manifest.json"), t => t.Replace("\"format_version\": 1", "\"format_version\": 2", StringComparison.Ordinal)), "format_version 2 is not known");
        Refused("dot-dot", b => Edit(Path.Combine(b, "manifest.json"), t => t.Replace("\"items/00001.json\"", "\"items/../../x.json\"", StringComparison.Ordinal)), "'..'");
        Refused("absolute", b => Edit(Path.Combine(b, "manifest.json"), t => t.Replace("\"items/00001.json\"", "\"/etc/passwd\"", StringComparison.Ordinal)), "absolute");
        Refused("symlink", b =>
        {
            var target = w.Path("outside.json");
            File.Copy(Item(b), target, overwrite: true);
            File.Delete(Item(b));
            File.CreateSymbolicLink(Item(b), target);
        }, "symbolic link");
        Refused("hard-link", b => Assert.Equal(0, ProcessRunner.Run("ln", [Item(b), w.Path("linked-" + Path.GetFileName(b))]).ExitCode), "hard links");
        Refused("fifo", b => Assert.Equal(0, ProcessRunner.Run("mkfifo", [Path.Combine(b, "items", "00002.json")]).ExitCode), "a FIFO");
        Refused("unlisted-file", b => File.WriteAllText(Path.Combine(b, "context", "extra.json"), "{}"), "not named in the manifest");
        Refused("unknown-name", b => File.WriteAllText(Path.Combine(b, "autorun.inf"), "x"), "not a name a bundle uses");
        Refused("oversized", _ => { }, "more than the limit of 100 bytes", "--max-file-bytes", "100");

        // Another repository's bundle: built against another trusted root.
        var other = w.Path("other-repo");
        w.CreateTufRepository(other, ["o-root"], 1, "o-targets");
        var otherBundle = w.Path("other-bundle");
        w.Ok("export", "--repo", other, "--role", "targets", "--out", otherBundle);
        w.Sign(otherBundle, "o-targets");
        var foreign = w.Cli("import", "--bundle", otherBundle, "--repo", repo, "--online-key", w.OnlineKey);
        Assert.Equal(1, foreign.ExitCode);
        Assert.Contains("built against trusted root", foreign.StdErr, StringComparison.Ordinal);
        Assert.Equal(before, Workflow.TreeHash(repo));

        // A root rotation signed by one of two holders: under-signed, refused.
        var rotation = w.Path("rotation");
        w.Ok("export", "--repo", repo, "--role", "root", "--remove-key", w.KeyId("root-c"), "--out", rotation);
        w.Sign(rotation, "root-a");
        var underSigned = w.Cli("import", "--bundle", rotation, "--repo", repo, "--online-key", w.OnlineKey);
        Assert.Equal(1, underSigned.ExitCode);
        Assert.Contains("1 of 2 signatures", underSigned.StdErr, StringComparison.Ordinal);
        Assert.Equal(before, Workflow.TreeHash(repo));

        // The good bundle goes in; again it is a replay; an older bundle after a newer one is a rollback.
        var older = w.Path("older");
        Workflow.CopyTree(good, older);
        w.Ok("import", "--bundle", good, "--repo", repo, "--online-key", w.OnlineKey);
        var imported = Workflow.TreeHash(repo);
        var replay = w.Cli("import", "--bundle", older, "--repo", repo, "--online-key", w.OnlineKey);
        Assert.Equal(1, replay.ExitCode);
        Assert.Contains("already in the repository", replay.StdErr, StringComparison.Ordinal);
        var newer = w.Path("newer");
        w.Ok("export", "--repo", repo, "--role", "targets", "--out", newer);
        w.Sign(newer, "targets-1");
        w.Ok("import", "--bundle", newer, "--repo", repo, "--online-key", w.OnlineKey);
        var afterNewer = Workflow.TreeHash(repo);
        Assert.NotEqual(imported, afterNewer);
        var rollback = w.Cli("import", "--bundle", older, "--repo", repo, "--online-key", w.OnlineKey);
        Assert.Equal(1, rollback.ExitCode);
        Assert.Contains("older than the repository's version 3: refusing a rollback", rollback.StdErr, StringComparison.Ordinal);
        Assert.Equal(afterNewer, Workflow.TreeHash(repo));
    }
}
