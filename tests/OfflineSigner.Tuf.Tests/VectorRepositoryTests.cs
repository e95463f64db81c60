using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Tuf.Tests;

/// <summary>Real repositories written by python-tuf, notary 0.1 and notary 0.3, and sigstore's current top-level metadata.</summary>
public class VectorRepositoryTests
{
    private static readonly DateTimeOffset In2025 = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static List<(string, byte[])> Files(string dir, params string[] names) =>
        names.Select(n => (n, File.ReadAllBytes(Path.Combine(dir, n)))).ToList();

    [Fact]
    public void Python_tuf_test_repository_verifies_with_its_delegations()
    {
        var dir = Path.Combine(TestEnvironment.RequireVectors("python-tuf-testdata/repository_data/repository"), "metadata");
        var root = Metadata<Root>.Parse(File.ReadAllBytes(Path.Combine(dir, "1.root.json")));
        var results = RepositoryVerifier.Verify(root, Files(dir, "root.json", "targets.json", "role1.json", "role2.json", "snapshot.json", "timestamp.json"), In2025);
        Assert.All(results, r => Assert.True(r.Verified, $"{r.File}: {string.Join("; ", r.Errors)}"));
        Assert.Contains(results, r => r.Role == "role1" && r.Result!.Signers.Count == 1);
        Assert.Contains(results, r => r.Role == "role2");
    }

    [Fact]
    public void Sigstore_top_level_and_npm_delegation_verify_against_root_15()
    {
        var dir = TestEnvironment.RequireVectors("sigstore-root-chain");
        var root = Metadata<Root>.Parse(File.ReadAllBytes(Path.Combine(dir, "15.root.json")));
        var at = new DateTimeOffset(2026, 8, 1, 0, 0, 0, TimeSpan.Zero);
        var results = RepositoryVerifier.Verify(root, Files(dir, "targets.json", "registry.npmjs.org.json", "snapshot.json", "timestamp.json"), at);
        Assert.All(results, r => Assert.True(r.Verified, $"{r.File}: {string.Join("; ", r.Errors)}"));
        Assert.Contains(results, r => r.Role == "registry.npmjs.org");
    }

    [Theory]
    [InlineData("notary0.3/tuf/docker.com/notary0.3/tst/metadata", "docker.com/notary0.3/tst")]
    [InlineData("notary0.1/tuf/docker.com/notary0.1/samplerepo/metadata", "docker.com/notary0.1/samplerepo")]
    public void Notary_fixtures_verify_in_notarys_dialect(string relative, string gun)
    {
        var dir = TestEnvironment.RequireVectors("notary-fixtures/" + relative);
        var rootBytes = File.ReadAllBytes(Path.Combine(dir, "root.json"));
        var root = Metadata<Root>.Parse(rootBytes);
        Assert.Equal(Dialect.Notary, root.Dialect);
        var names = new List<string> { "root.json", "targets.json", "snapshot.json", "timestamp.json" };
        if (File.Exists(Path.Combine(dir, "targets", "releases.json")))
        {
            names.Add("targets/releases.json");
        }

        var at = new DateTimeOffset(2017, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var results = RepositoryVerifier.Verify(root, Files(dir, [.. names]), at, gun: gun);
        Assert.All(results, r => Assert.True(r.Verified, $"{r.File}: {string.Join("; ", r.Errors)}"));
        if (names.Count == 5)
        {
            Assert.Contains(results, r => r.Role == "targets/releases" && r.Verified);
        }

        // The root certificate must name the GUN.
        var wrongGun = RepositoryVerifier.Verify(root, Files(dir, "root.json"), at, gun: "docker.com/someone/else");
        Assert.Contains(wrongGun, r => r.Errors.Any(e => e.Contains("docker.com/someone/else", StringComparison.Ordinal) || e.Contains("CN", StringComparison.Ordinal)));
    }

    [Fact]
    public void Tampered_delegated_role_fails_while_the_rest_verifies()
    {
        var dir = Path.Combine(TestEnvironment.RequireVectors("python-tuf-testdata/repository_data/repository"), "metadata");
        var root = Metadata<Root>.Parse(File.ReadAllBytes(Path.Combine(dir, "1.root.json")));
        var files = Files(dir, "targets.json", "role1.json");
        var role1 = System.Text.Encoding.UTF8.GetString(files[1].Item2).Replace("\"version\": 1", "\"version\": 2", StringComparison.Ordinal);
        files[1] = ("role1.json", System.Text.Encoding.UTF8.GetBytes(role1));
        var results = RepositoryVerifier.Verify(root, files, In2025);
        Assert.True(results.Single(r => r.Role == "targets").Verified);
        Assert.False(results.Single(r => r.Role == "role1").Verified);
    }
}
