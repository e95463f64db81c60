using System.Text.Json.Nodes;
using OfflineSigner.Interop.Tests.Fixtures;
using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Interop.Tests;

/// <summary>
/// Metadata OfflineSigner writes in the TUF specification dialect (the CLI's demo repository: a root chain with a
/// rotation, mixed Ed25519, ECDSA and RSA keys, targets with a delegation) judged by independent clients: tuf-js
/// refreshes from it over HTTP and downloads its targets, securesystemslib checks every signature; tampered or
/// under-signed copies are refused.
/// </summary>
public class WrittenMetadataInteropTests(DemoRepositoryFixture demo) : IClassFixture<DemoRepositoryFixture>
{
    [Fact]
    public void Tuf_js_accepts_our_repository_its_root_rotation_and_delegated_targets()
    {
        using var work = TestEnvironment.CreateTempDir("written");
        var repo = demo.CopyTo(work.Path);
        var targets = TargetPaths(repo);
        Assert.True(targets.Count >= 2, "the demo repository has fewer targets than expected");

        var result = TufJs.Refresh(repo, Path.Combine(repo, "metadata", "1.root.json"), targets);

        Assert.True(result.Ok, result.ToString());
        Assert.Equal(NewestRootVersion(repo), result.RootVersion);
        Assert.True(result.RootVersion >= 2, "the demo repository has no root rotation");
        Assert.Equal(targets.Order(StringComparer.Ordinal), result.Targets.Select(t => t.Path).Order(StringComparer.Ordinal));
        Assert.All(result.Targets, t => Assert.Equal(t.Hashes["sha256"], t.Sha256));
    }

    [Fact]
    public void Securesystemslib_verifies_every_role_we_signed()
    {
        using var work = TestEnvironment.CreateTempDir("written");
        var metadata = Path.Combine(demo.CopyTo(work.Path), "metadata");
        var newestRoot = Path.Combine(metadata, $"{NewestRootVersion(Path.GetDirectoryName(metadata)!)}.root.json");

        for (var v = 2; File.Exists(Path.Combine(metadata, $"{v}.root.json")); v++)
        {
            var byOld = Securesystemslib.VerifyWithRoot(Path.Combine(metadata, $"{v - 1}.root.json"), "root", Path.Combine(metadata, $"{v}.root.json"));
            Assert.True(byOld.Ok, $"root {v} by root {v - 1}: {byOld.Process}");
        }

        foreach (var (role, pattern) in new[] { ("root", "*.root.json"), ("targets", "*.targets.json"), ("snapshot", "*.snapshot.json"), ("timestamp", "timestamp.json") })
        {
            var file = Directory.GetFiles(metadata, pattern).Order(StringComparer.Ordinal).Last();
            var result = Securesystemslib.VerifyWithRoot(newestRoot, role, file);
            Assert.True(result.Ok, $"{role} ({Path.GetFileName(file)}): {result.Process}");
        }
    }

    [Fact]
    public void Tuf_js_refuses_our_repository_with_a_delegated_role_changed_after_signing()
    {
        using var work = TestEnvironment.CreateTempDir("written");
        var repo = demo.CopyTo(work.Path);
        var targets = TargetPaths(repo);
        var delegated = DelegatedRoleFiles(repo);
        Assert.NotEmpty(delegated);
        foreach (var file in delegated)
        {
            var doc = JsonNode.Parse(File.ReadAllText(file))!.AsObject();
            var entries = doc["signed"]!["targets"]!.AsObject();
            foreach (var (_, entry) in entries)
            {
                entry!["length"] = entry["length"]!.GetValue<long>() + 1;
            }

            File.WriteAllText(file, doc.ToJsonString());
        }

        var result = TufJs.Refresh(repo, Path.Combine(repo, "metadata", "1.root.json"), targets);

        Assert.False(result.Ok, result.ToString());
    }

    [Fact]
    public void Tuf_js_refuses_our_rotated_root_with_only_one_signature()
    {
        using var work = TestEnvironment.CreateTempDir("written");
        var repo = demo.CopyTo(work.Path);
        var root2 = Path.Combine(repo, "metadata", "2.root.json");
        var doc = JsonNode.Parse(File.ReadAllText(root2))!.AsObject();
        var signatures = doc["signatures"]!.AsArray();
        while (signatures.Count > 1)
        {
            signatures.RemoveAt(signatures.Count - 1);
        }

        File.WriteAllText(root2, doc.ToJsonString());
        var result = TufJs.Refresh(repo, Path.Combine(repo, "metadata", "1.root.json"));

        Assert.False(result.Ok, result.ToString());
        Assert.Contains("200 /metadata/2.root.json", result.Requests);
    }

    private static int NewestRootVersion(string repo)
    {
        var v = 1;
        while (File.Exists(Path.Combine(repo, "metadata", $"{v + 1}.root.json")))
        {
            v++;
        }

        return v;
    }

    // Consistent snapshots: targets/DIR/HASH.NAME is the target DIR/NAME.
    private static List<string> TargetPaths(string repo)
    {
        var targetsDir = Path.Combine(repo, "targets");
        return [.. Directory.GetFiles(targetsDir, "*", SearchOption.AllDirectories).Select(f =>
        {
            var relative = Path.GetRelativePath(targetsDir, f).Replace(Path.DirectorySeparatorChar, '/');
            var slash = relative.LastIndexOf('/');
            var name = relative[(slash + 1)..];
            return relative[..(slash + 1)] + name[(name.IndexOf('.', StringComparison.Ordinal) + 1)..];
        })];
    }

    private static List<string> DelegatedRoleFiles(string repo) =>
        [.. Directory.GetFiles(Path.Combine(repo, "metadata"), "*.json")
            .Where(f => JsonNode.Parse(File.ReadAllText(f))!["signed"]!["_type"]!.GetValue<string>() == "targets")
            .Where(f => !Path.GetFileName(f).EndsWith(".targets.json", StringComparison.Ordinal) && Path.GetFileName(f) != "targets.json")];
}

/// <summary>
/// The CLI's demo output, made once per test class (the demo takes seconds); each test works on its own copy.
/// The demo writes a spec-dialect repository (metadata/ and targets/ as python-tuf lays them out) somewhere under
/// --out: it is found by its first root.
/// </summary>
public sealed class DemoRepositoryFixture : IDisposable
{
    private readonly string output = Directory.CreateTempSubdirectory("offsig-demo-").FullName;
    private readonly Lazy<string> repository;

    public DemoRepositoryFixture() => repository = new(Build);

    /// <summary>Copies the demo's spec-dialect repository into a new folder under <paramref name="parent"/> and returns it.</summary>
    public string CopyTo(string parent)
    {
        // Peers are checked first so a machine without them skips without running the demo.
        Peers.RequireSecuresystemslib();
        Peers.RequireTufJs();
        var source = repository.Value;
        var destination = Path.Combine(parent, "repo");
        foreach (var file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(destination, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }

        return destination;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(output, recursive: true);
        }
        catch (IOException)
        {
            // Left to the OS temp cleaner.
        }
    }

    private string Build()
    {
        var dir = Path.Combine(output, "demo");
        OfflineSignerCli.RunChecked("demo", "--out", dir);
        var roots = Directory.GetFiles(dir, "1.root.json", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(Path.GetDirectoryName(f)) == "metadata")
            .ToList();
        return roots.Count == 1
            ? Path.GetDirectoryName(Path.GetDirectoryName(roots[0]))!
            : throw new PeerToolException($"expected one metadata/1.root.json under the demo output {dir}, found {roots.Count}");
    }
}
