using OfflineSigner.Bundles.Tests.Support;
using OfflineSigner.Daemon.Tests.Support;
using OfflineSigner.Interop.Tests.Fixtures;
using OfflineSigner.Tuf;
using Xunit;

namespace OfflineSigner.Bundles.Tests;

/// <summary>
/// `rotate root` and `rotate delegation`: a rotation prepared and signed in one step on the air-gapped side by the
/// daemon's RotationService, carried back as a bundle, imported, and followed by tuf-js.
/// </summary>
public sealed class RotateCommandTests(SoftHsm hsm)
{
    [Fact]
    public void Root_and_delegation_rotations_made_in_one_step_are_imported_and_followed_by_tuf_js()
    {
        using var w = new Workflow(hsm);
        var repo = w.Path("repo");
        w.CreateTufRepository(repo, ["root-a", "root-b", "root-c"], 2, "targets-1");
        var trusted = w.Path("trusted.json");
        File.Copy(Path.Combine(repo, "metadata", "1.root.json"), trusted);
        w.Generate("root-d", "rel-1", "rel-2");

        // Root: root-c out, root-d in, signed by a and b in one call; the bundle comes back ready.
        var export = w.Path("export-root");
        w.Ok("export", "--repo", repo, "--role", "root", "--out", export);
        var rotated = w.Path("rotated-root");
        w.OkWithPin("rotate", "root", "--bundle", export, "--remove-key", w.KeyId("root-c"), "--add-key", w.KeyUri("root-d"), "--key", w.KeyUri("root-a"), "--key", w.KeyUri("root-b"), "--out", rotated, "--yes");
        w.Ok("status", "--bundle", rotated);
        w.Ok("import", "--bundle", rotated, "--repo", repo, "--online-key", w.OnlineKey);
        var root2 = Metadata<Root>.Parse(File.ReadAllBytes(Path.Combine(repo, "metadata", "2.root.json")));
        Assert.Contains(w.KeyId("root-d"), root2.Signed.Roles["root"].KeyIds);
        Assert.DoesNotContain(w.KeyId("root-c"), root2.Signed.Roles["root"].KeyIds);

        // A delegation through a bundle, then its key rotated in one step; the delegated role is signed by the new key.
        var create = w.Path("create");
        w.Ok("export", "--repo", repo, "--role", "targets", "--delegation", "releases", "--add-key", w.PublicKeyFile("rel-1"), "--out", create);
        w.Sign(create, "targets-1");
        w.Sign(create, "rel-1");
        w.Ok("import", "--bundle", create, "--repo", repo, "--online-key", w.OnlineKey);

        var export2 = w.Path("export-delegation");
        w.Ok("export", "--repo", repo, "--role", "targets", "--role", "releases", "--out", export2);
        var rotated2 = w.Path("rotated-delegation");
        w.OkWithPin("rotate", "delegation", "--bundle", export2, "--delegation", "releases", "--remove-key", w.KeyId("rel-1"), "--add-key", w.KeyUri("rel-2"), "--key", w.KeyUri("targets-1"), "--out", rotated2, "--yes");
        Assert.Equal(1, w.Cli("status", "--bundle", rotated2).ExitCode);
        w.Sign(rotated2, "rel-2");
        w.Ok("import", "--bundle", rotated2, "--repo", repo, "--online-key", w.OnlineKey);

        var tufjs = TufJs.Refresh(repo, trusted);
        Assert.True(tufjs.Ok, tufjs.ToString());
        Assert.Equal(2, tufjs.RootVersion);
        Assert.Equal(3, tufjs.TargetsVersion);
        var lookup = TufJs.Refresh(repo, trusted, ["releases/x.tgz"], infoOnly: true);
        Assert.Contains("200 /metadata/2.releases.json", lookup.Requests);
        Assert.StartsWith("TargetNotFoundError", lookup.Error, StringComparison.Ordinal);
    }
}
