using System.Security.Cryptography;
using System.Text;
using Xunit;

namespace OfflineSigner.Audit.Tests;

/// <summary>
/// What `--version` prints and the daemon records: version and commit from the assembly, the SHA-256 of the release
/// manifest beside the program, and a warning when that manifest names another build. The released programs are
/// checked end to end in tests/OfflineSigner.Release.Tests.
/// </summary>
public sealed class BuildIdentityTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("build-identity-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void Without_a_manifest_the_build_says_it_is_not_an_installed_release()
    {
        var identity = BuildIdentity.Of("offline-signer", typeof(BuildIdentity).Assembly, dir);
        Assert.Null(identity.ManifestSha256);
        var lines = identity.VersionText().TrimEnd('\n').Split('\n');
        Assert.Equal(3, lines.Length);
        Assert.Equal("offline-signer " + identity.Version, lines[0]);
        Assert.Equal("commit " + (identity.Commit ?? "unknown"), lines[1]);
        Assert.Equal($"release manifest {Path.Combine(dir, "release-manifest.json")}: absent (not an installed release)", lines[2]);
        Assert.Contains("release manifest absent", identity.AuditDetail(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_matching_manifest_is_named_by_its_sha256()
    {
        var assembly = typeof(BuildIdentity).Assembly;
        var bare = BuildIdentity.Of("offline-signerd", assembly, dir);
        var manifest = Encoding.UTF8.GetBytes($$"""{ "commit": "{{bare.Commit}}", "version": "{{bare.Version}}", "files": [] }""");
        File.WriteAllBytes(Path.Combine(dir, "release-manifest.json"), manifest);
        var identity = BuildIdentity.Of("offline-signerd", assembly, dir);
        var sha = Convert.ToHexStringLower(SHA256.HashData(manifest));
        Assert.Equal(sha, identity.ManifestSha256);
        Assert.Null(identity.ManifestProblem);
        Assert.Equal($"release manifest sha256:{sha} {Path.Combine(dir, "release-manifest.json")}", identity.VersionText().TrimEnd('\n').Split('\n')[2]);
        Assert.Equal($"version {identity.Version}; commit {identity.Commit}; release manifest sha256 {sha}", identity.AuditDetail());
    }

    [Theory]
    [InlineData("""{ "commit": "0000000000000000000000000000000000000000", "version": "@V@" }""", "names commit 0000000000000000000000000000000000000000")]
    [InlineData("""{ "commit": "@C@", "version": "9.9.9" }""", "names version 9.9.9")]
    [InlineData("""{ "commit": """, "is not valid JSON")]
    public void A_manifest_of_another_build_is_reported(string text, string problem)
    {
        var assembly = typeof(BuildIdentity).Assembly;
        var bare = BuildIdentity.Of("offline-signerd", assembly, dir);
        if (bare.Commit is null && problem.StartsWith("names commit", StringComparison.Ordinal))
        {
            Assert.Skip("this build has no commit in its informational version");
        }

        File.WriteAllText(Path.Combine(dir, "release-manifest.json"), text.Replace("@V@", bare.Version, StringComparison.Ordinal).Replace("@C@", bare.Commit, StringComparison.Ordinal));
        var identity = BuildIdentity.Of("offline-signerd", assembly, dir);
        Assert.NotNull(identity.ManifestSha256);
        Assert.StartsWith(problem, identity.ManifestProblem, StringComparison.Ordinal);
        Assert.Contains("warning: release manifest " + problem, identity.VersionText(), StringComparison.Ordinal);
        Assert.Contains(problem, identity.AuditDetail(), StringComparison.Ordinal);
    }
}
