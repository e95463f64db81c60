using System.Security.Cryptography;
using System.Text;
using OfflineSigner.Interop.Tests.Fixtures;
using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Interop.Tests;

/// <summary>The tuf-js harness (tests/peers/tufjs-refresh.mjs), proven on real repositories and on tampered copies.</summary>
public class TufJsHarnessTests
{
    [Fact]
    public void Refreshes_python_tuf_test_repository_and_finds_delegated_targets()
    {
        using var repo = CopyPythonTufRepository();
        var result = TufJs.Refresh(repo.Path, Path.Combine(repo.Path, "metadata", "1.root.json"), ["file1.txt", "file3.txt"], infoOnly: true);

        Assert.True(result.Ok, result.ToString());
        Assert.Equal(1, result.RootVersion);
        Assert.Equal(["file1.txt", "file3.txt"], result.Targets.Select(t => t.Path));
        Assert.Equal(31, result.Targets[0].Length);
        // file3.txt lives in the delegated role role1: tuf-js fetched it.
        Assert.Contains("200 /metadata/role1.json", result.Requests);
    }

    [Fact]
    public void Reports_a_target_that_no_role_lists()
    {
        using var repo = CopyPythonTufRepository();
        var result = TufJs.Refresh(repo.Path, Path.Combine(repo.Path, "metadata", "1.root.json"), ["no-such-file.txt"], infoOnly: true);

        Assert.False(result.Ok);
        Assert.StartsWith("TargetNotFoundError:", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_targets_metadata_changed_after_signing()
    {
        using var repo = CopyPythonTufRepository();
        var targets = Path.Combine(repo.Path, "metadata", "targets.json");
        Replace(targets, "\"length\": 31", "\"length\": 32");

        var result = TufJs.Refresh(repo.Path, Path.Combine(repo.Path, "metadata", "1.root.json"), ["file1.txt"], infoOnly: true);

        Assert.False(result.Ok, result.ToString());
        Assert.Contains("200 /metadata/targets.json", result.Requests);
    }

    [Fact]
    public void Walks_the_sigstore_root_chain_to_15_and_reports_it_expired()
    {
        using var repo = CopySigstoreRoots();
        var result = TufJs.Refresh(repo.Path, Path.Combine(repo.Path, "metadata", "1.root.json"));

        // Root 15 expired on 2026-11-20; before that date tuf-js would go on to check the (long expired) timestamp.
        Assert.False(result.Ok);
        Assert.Contains("200 /metadata/15.root.json", result.Requests);
        Assert.Contains("404 /metadata/16.root.json", result.Requests);
        if (DateTimeOffset.UtcNow > new DateTimeOffset(2026, 11, 20, 0, 0, 0, TimeSpan.Zero))
        {
            Assert.Equal("ExpiredMetadataError: Final root.json is expired", result.Error);
        }
    }

    [Fact]
    public void Stops_the_sigstore_chain_walk_at_a_root_with_a_broken_signature()
    {
        using var repo = CopySigstoreRoots();
        var root8 = Path.Combine(repo.Path, "metadata", "8.root.json");
        var text = File.ReadAllText(root8);
        var at = text.IndexOf("\"sig\": \"", StringComparison.Ordinal);
        Assert.True(at > 0, "8.root.json has no signature to break");
        // Break every signature of root 8 (flip one hex digit in each).
        var sb = new StringBuilder(text);
        for (var i = at; i >= 0; i = text.IndexOf("\"sig\": \"", i + 1, StringComparison.Ordinal))
        {
            var p = i + 20;
            sb[p] = sb[p] == '0' ? '1' : '0';
        }

        File.WriteAllText(root8, sb.ToString());
        var result = TufJs.Refresh(repo.Path, Path.Combine(repo.Path, "metadata", "1.root.json"));

        Assert.False(result.Ok);
        Assert.Contains("200 /metadata/8.root.json", result.Requests);
        Assert.DoesNotContain("200 /metadata/9.root.json", result.Requests);
        Assert.DoesNotContain("Expired", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Downloads_a_target_then_follows_a_root_rotation_with_cached_state_and_refuses_a_rollback()
    {
        using var work = TestEnvironment.CreateTempDir("tufjs");
        using var repo = new SpecTestRepository(Path.Combine(work.Path, "repo"));
        var content = Encoding.UTF8.GetBytes("hello from the test repository\n");
        repo.AddTarget("hello.txt", content);
        repo.Initialize();
        var client = Path.Combine(work.Path, "client");

        var first = TufJs.Refresh(repo.Dir, repo.RootFile(1), ["hello.txt"], metadataDir: client);
        Assert.True(first.Ok, first.ToString());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(content)), Assert.Single(first.Targets).Sha256);
        Assert.Equal((1, 1), (first.RootVersion, first.TimestampVersion));

        var oldTimestamp = File.ReadAllBytes(repo.TimestampFile);
        repo.RotateRoot();
        repo.AddTarget("second.txt", [1, 2, 3]);
        repo.PublishTargets();
        var second = TufJs.Refresh(repo.Dir, "-", ["second.txt"], metadataDir: client);
        Assert.True(second.Ok, second.ToString());
        Assert.Equal((2, 2), (second.RootVersion, second.TimestampVersion));

        // The repository serves the old timestamp again: a client that saw version 2 must refuse version 1.
        File.WriteAllBytes(repo.TimestampFile, oldTimestamp);
        var rolledBack = TufJs.Refresh(repo.Dir, "-", metadataDir: client);
        Assert.False(rolledBack.Ok, rolledBack.ToString());
        Assert.StartsWith("BadVersionError:", rolledBack.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_a_root_rotation_without_the_previous_roots_signature()
    {
        using var work = TestEnvironment.CreateTempDir("tufjs");
        using var repo = new SpecTestRepository(Path.Combine(work.Path, "repo"));
        repo.Initialize();
        repo.RotateRoot(crossSign: false);

        var result = TufJs.Refresh(repo.Dir, repo.RootFile(1));

        Assert.False(result.Ok, result.ToString());
        Assert.Contains("200 /metadata/2.root.json", result.Requests);
        Assert.Contains("root", result.Error, StringComparison.OrdinalIgnoreCase);
    }

    private static TempDir CopyPythonTufRepository()
    {
        var source = TestEnvironment.RequireVectors("python-tuf-testdata/repository_data/repository/metadata");
        var dir = TestEnvironment.CreateTempDir("tufjs-repo");
        var metadata = Directory.CreateDirectory(Path.Combine(dir.Path, "metadata")).FullName;
        Directory.CreateDirectory(Path.Combine(dir.Path, "targets"));
        foreach (var f in Directory.GetFiles(source, "*.json"))
        {
            File.Copy(f, Path.Combine(metadata, Path.GetFileName(f)));
        }

        return dir;
    }

    private static TempDir CopySigstoreRoots()
    {
        var source = TestEnvironment.RequireVectors("sigstore-root-chain");
        var dir = TestEnvironment.CreateTempDir("tufjs-sigstore");
        var metadata = Directory.CreateDirectory(Path.Combine(dir.Path, "metadata")).FullName;
        // Roots, and the timestamp tuf-js fetches after the walk (it checks the final root's expiry there).
        foreach (var f in Directory.GetFiles(source, "*.json"))
        {
            File.Copy(f, Path.Combine(metadata, Path.GetFileName(f)));
        }

        return dir;
    }

    private static void Replace(string file, string from, string to)
    {
        var text = File.ReadAllText(file);
        Assert.Contains(from, text, StringComparison.Ordinal);
        File.WriteAllText(file, text.Replace(from, to, StringComparison.Ordinal));
    }
}
