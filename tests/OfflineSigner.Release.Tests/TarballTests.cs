using System.Security.Cryptography;
using System.Text;
using OfflineSigner.Release.Tests.Support;
using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Release.Tests;

/// <summary>
/// The tarball, for systems without dpkg: unpacked anywhere, its programs run on this machine with the .NET SDK,
/// the shared runtimes and the NuGet cache hidden (empty file systems mounted over them in a private mount
/// namespace) and a PATH without them; and what it installs is the repository's own units and configuration.
/// </summary>
public sealed class TarballTests(ReleaseBuild release)
{
    [Fact]
    public void The_unpacked_tarball_runs_with_the_SDK_and_NuGet_hidden()
    {
        var built = release.Require();
        if (Environment.UserName != "root")
        {
            Assert.Skip("hiding the SDK with a private mount namespace needs root; CI runs as root");
        }

        TestEnvironment.RequireTool("unshare", "Debian package util-linux");
        using var dir = TestEnvironment.CreateTempDir("tarball");
        var unpack = ProcessRunner.Run("tar", ["-xzf", built.Tarball, "-C", dir.Path]);
        Assert.True(unpack.ExitCode == 0, unpack.ToString());
        var tree = Path.Combine(dir.Path, $"offline-signer-{built.Version}-linux-x64");
        var document = Path.Combine(dir.Path, "doc.json");
        File.WriteAllText(document, "{ \"b\": [1, 2, \"x\"], \"a\": { \"z\": null, \"y\": true } }");

        // Every folder a .NET SDK, runtime or NuGet cache could be found in, as this machine has them.
        var hidden = new[] { "/usr/share/dotnet", "/usr/lib/dotnet", "/opt/dotnet", "/opt/nuget", Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget"), Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".dotnet") }
            .Where(Directory.Exists).ToList();
        Assert.Contains(hidden, d => File.Exists(Path.Combine(d, "dotnet")) || Directory.Exists(Path.Combine(d, "packages")) || d.EndsWith(".nuget", StringComparison.Ordinal));
        var mounts = string.Concat(hidden.Select(d => $"mount -t tmpfs -o ro none '{d}' && "));
        var script = mounts
            + "! command -v dotnet >/dev/null && "
            + $"'{tree}/usr/bin/offline-signerd' --version && '{tree}/usr/bin/offline-signer' --version && '{tree}/usr/bin/offline-signer' canonical-json '{document}'";
        var result = ProcessRunner.Run(
            "unshare",
            ["--mount", "--propagation", "private", "--", "/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/nonexistent", "/bin/sh", "-c", script],
            TimeSpan.FromMinutes(2));
        Assert.True(result.ExitCode == 0, "the tarball's programs do not run without the SDK:\n" + result);

        var lines = result.StdOut.Split('\n');
        var digest = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(built.Manifest)));
        var manifest = Path.Combine(tree, "usr", "lib", "offline-signer", "release-manifest.json");
        Assert.Equal($"offline-signerd {built.Version}", lines[0]);
        Assert.Equal($"commit {built.Commit}", lines[1]);
        Assert.Equal($"release manifest sha256:{digest} {manifest}", lines[2]);
        Assert.Equal($"offline-signer {built.Version}", lines[3]);
        Assert.Equal($"release manifest sha256:{digest} {manifest}", lines[5]);
        Assert.Equal("{\"a\":{\"y\":true,\"z\":null},\"b\":[1,2,\"x\"]}", lines[6]);
    }

    [Fact]
    public void The_tree_installs_the_repositorys_units_sysusers_tmpfiles_configuration_and_profiles()
    {
        var built = release.Require();
        using var dir = TestEnvironment.CreateTempDir("tarball");
        Assert.Equal(0, ProcessRunner.Run("tar", ["-xzf", built.Tarball, "-C", dir.Path]).ExitCode);
        var tree = Path.Combine(dir.Path, $"offline-signer-{built.Version}-linux-x64");
        var source = built.CheckoutA;
        var expected = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["usr/lib/systemd/system/offline-signerd.service"] = "systemd/offline-signerd.service",
            ["usr/lib/systemd/system/offline-signerd.socket"] = "systemd/offline-signerd.socket",
            ["usr/lib/sysusers.d/offline-signerd.conf"] = "systemd/sysusers.d/offline-signerd.conf",
            ["usr/lib/tmpfiles.d/offline-signerd.conf"] = "systemd/tmpfiles.d/offline-signerd.conf",
            ["etc/offline-signerd/config.json"] = "systemd/config.json",
            ["usr/share/doc/offline-signer/install.md"] = "docs/install.md",
        };
        foreach (var profile in Directory.EnumerateFiles(Path.Combine(source, "hsm-config"), "*", SearchOption.AllDirectories))
        {
            var rel = Path.GetRelativePath(source, profile);
            expected["usr/share/offline-signer/" + rel] = rel;
        }

        foreach (var (installed, repository) in expected)
        {
            var path = Path.Combine(tree, installed);
            Assert.True(File.Exists(path), installed + " is not in the release");
            Assert.True(File.ReadAllBytes(Path.Combine(source, repository)).AsSpan().SequenceEqual(File.ReadAllBytes(path)), $"{installed} is not the repository's {repository}");
        }

        // The unit starts the program where the package puts it, with the configuration where the package puts it.
        var unit = File.ReadAllText(Path.Combine(tree, "usr/lib/systemd/system/offline-signerd.service"), Encoding.UTF8);
        Assert.Contains("\nExecStart=/usr/bin/offline-signerd serve --config /etc/offline-signerd/config.json\n", unit, StringComparison.Ordinal);
        Assert.Equal("../lib/offline-signer/offline-signerd", new FileInfo(Path.Combine(tree, "usr/bin/offline-signerd")).LinkTarget);
        Assert.True(File.GetUnixFileMode(Path.Combine(tree, "usr/share/offline-signer/hsm-config/softhsm2/create-token.sh")).HasFlag(UnixFileMode.UserExecute));
    }
}
