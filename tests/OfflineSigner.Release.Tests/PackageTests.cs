using OfflineSigner.Release.Tests.Support;
using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Release.Tests;

/// <summary>The .deb's control data, and what Debian's own package checker, lintian, says about it.</summary>
public sealed class PackageTests(ReleaseBuild release)
{
    /// <summary>lintian findings the package has on purpose: the .NET runtime carries its own zlib (zlib-ng).</summary>
    private static readonly string[] Accepted = ["embedded-library zlib [usr/lib/offline-signer/libSystem.IO.Compression.Native.so]"];

    [Fact]
    public void The_package_declares_its_Debian_dependencies()
    {
        var built = release.Require();
        var fields = Fields(built.Deb, "Package", "Version", "Architecture", "Depends", "Recommends", "Suggests");
        Assert.Equal("offline-signer", fields["Package"]);
        Assert.Equal(built.Version, fields["Version"]);
        Assert.Equal("amd64", fields["Architecture"]);
        var depends = Split(fields["Depends"]);
        Assert.Contains("libssl3", depends);
        Assert.Contains("libc6 (>= 2.27)", depends);
        Assert.Contains("systemd | systemd-sysusers", depends);
        Assert.Contains("systemd | systemd-tmpfiles", depends);

        // SoftHSM2 (the default configuration's token) and pcscd (YubiKeys) are wanted, not required.
        var recommends = Split(fields["Recommends"]);
        Assert.Contains("softhsm2", recommends);
        Assert.Contains("pcscd", recommends);
        Assert.DoesNotContain(depends, d => d.StartsWith("softhsm2", StringComparison.Ordinal) || d.StartsWith("pcscd", StringComparison.Ordinal));
        Assert.Contains("ykcs11", Split(fields["Suggests"]));

        // Nothing of .NET is a dependency: the runtime is inside the package.
        Assert.DoesNotContain(depends.Concat(recommends), d => d.Contains("dotnet", StringComparison.Ordinal) || d.Contains("aspnetcore", StringComparison.Ordinal));
    }

    [Fact]
    public void Lintian_finds_nothing_but_the_bundled_runtime_zlib()
    {
        var built = release.Require();
        var lintian = TestEnvironment.RequireTool("lintian", "Debian package lintian");
        var result = ProcessRunner.Run(lintian, ["--fail-on", "none", "--suppress-tags", "no-manual-page", built.Deb], TimeSpan.FromMinutes(10));
        var findings = result.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => l.Length > 2 && l[1] == ':' && "EWI".Contains(l[0], StringComparison.Ordinal))
            .Select(l => l[(l.IndexOf(": ", 3, StringComparison.Ordinal) + 2)..])
            .ToList();
        var unexpected = findings.Except(Accepted, StringComparer.Ordinal).ToList();
        Assert.True(unexpected.Count == 0, "lintian:\n" + string.Join('\n', unexpected) + "\n" + result);
        Assert.True(result.ExitCode == 0, result.ToString());
    }

    private static Dictionary<string, string> Fields(string deb, params string[] names)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in names)
        {
            var result = ProcessRunner.Run("dpkg-deb", ["--field", deb, name]);
            Assert.True(result.ExitCode == 0, result.ToString());
            values[name] = result.StdOut.Trim();
        }

        return values;
    }

    private static List<string> Split(string field) =>
        [.. field.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
}
