using System.Security.Cryptography;
using System.Text;
using OfflineSigner.Release.Tests.Support;
using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Release.Tests;

/// <summary>
/// Two builds of one commit by scripts/release.sh, from two clean checkouts in different directories, one after
/// the other, with different umask, time zone and locale, write byte-identical packages, tarballs, manifests and
/// SBOMs. When they differ, the test names the files inside the archives that differ.
/// </summary>
public sealed class ReproducibilityTests(ReleaseBuild release)
{
    [Fact]
    public void Two_clean_builds_of_one_commit_are_byte_identical()
    {
        var built = release.Require();
        Assert.NotEqual(built.CheckoutA, built.CheckoutB);
        var report = new StringBuilder();
        foreach (var name in built.Outputs)
        {
            var a = Path.Combine(built.OutA, name);
            var b = Path.Combine(built.OutB, name);
            Assert.True(File.Exists(a), $"the first build wrote no {name}");
            Assert.True(File.Exists(b), $"the second build wrote no {name}");
            var ha = Sha256(a);
            var hb = Sha256(b);
            if (ha != hb)
            {
                report.Append(name).Append(": ").Append(ha).Append(" vs ").AppendLine(hb);
                report.Append(Explain(name, a, b));
            }
        }

        Assert.True(report.Length == 0, "the two builds differ:\n" + report);
        TestContext.Current.SendDiagnosticMessage(
            $"commit {built.Commit}{(built.FromUncommittedWorkTree ? " (a snapshot of the uncommitted work tree)" : string.Empty)}: "
            + string.Join(", ", built.Outputs.Select(n => $"{n} {Sha256(Path.Combine(built.OutA, n))[..16]}")));
    }

    [Fact]
    public void The_archives_carry_the_commit_time_fixed_owners_and_sorted_entries()
    {
        var built = release.Require();

        // The package's data: every entry root-owned, dated SOURCE_DATE_EPOCH, in sorted order.
        var utc = new Dictionary<string, string?> { ["TZ"] = "UTC" };
        var data = ProcessRunner.Run("/bin/sh", ["-c", "dpkg-deb --fsys-tarfile \"$0\" | tar -tv --numeric-owner --full-time -f -", built.Deb], environment: utc);
        Assert.True(data.ExitCode == 0, data.ToString());
        var when = DateTimeOffset.FromUnixTimeSeconds(built.SourceDateEpoch).UtcDateTime;
        AssertEntries(data.StdOut, "0/0", when);

        var tarball = ProcessRunner.Run("tar", ["-tvz", "--numeric-owner", "--full-time", "-f", built.Tarball], environment: utc);
        Assert.True(tarball.ExitCode == 0, tarball.ToString());
        AssertEntries(tarball.StdOut, "0/0", when);

        // The ar members of the .deb are dated too (dpkg-deb takes SOURCE_DATE_EPOCH).
        if (TestEnvironment.FindTool("ar") is { } arTool)
        {
            var ar = ProcessRunner.Run(arTool, ["tv", built.Deb], environment: utc);
            Assert.True(ar.ExitCode == 0, ar.ToString());
            var stamp = when.ToString("MMM d HH:mm yyyy", System.Globalization.CultureInfo.InvariantCulture);
            Assert.All(ar.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => Assert.Contains(stamp, l.Replace("  ", " ", StringComparison.Ordinal), StringComparison.Ordinal));
        }
    }

    private static void AssertEntries(string listing, string owner, DateTime when)
    {
        var lines = listing.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length > 100, "too few entries:\n" + listing);
        var names = new List<string>();
        foreach (var line in lines)
        {
            // drwxr-xr-x 0/0 0 2026-12-04 02:54:18 ./usr/
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            Assert.True(f[1] == owner, "not root-owned: " + line);
            var stamp = DateTime.Parse(f[3] + "T" + f[4], System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AdjustToUniversal | System.Globalization.DateTimeStyles.AssumeUniversal);
            Assert.True(stamp == when, $"not dated at the commit ({when:O}): {line}");
            names.Add(f[5]);
        }

        // dpkg-deb and tar --sort=name both list a folder's entries in byte order of their names.
        foreach (var group in names.GroupBy(n => Parent(n)))
        {
            var siblings = group.ToList();
            var sorted = siblings.Order(StringComparer.Ordinal).ToList();
            Assert.True(siblings.SequenceEqual(sorted), $"entries of {group.Key} are not sorted: {string.Join(", ", siblings.Take(10))}");
        }
    }

    private static string Parent(string entry)
    {
        var trimmed = entry.TrimEnd('/');
        var slash = trimmed.LastIndexOf('/');
        return slash < 0 ? string.Empty : trimmed[..slash];
    }

    /// <summary>Which files inside two differing archives differ (extracted with dpkg-deb or tar).</summary>
    private static string Explain(string name, string a, string b)
    {
        if (!name.EndsWith(".deb", StringComparison.Ordinal) && !name.EndsWith(".tar.gz", StringComparison.Ordinal))
        {
            return string.Empty;
        }

        using var dir = TestEnvironment.CreateTempDir("repro-diff");
        var trees = new[] { Path.Combine(dir.Path, "a"), Path.Combine(dir.Path, "b") };
        var archives = new[] { a, b };
        for (var i = 0; i < 2; i++)
        {
            Directory.CreateDirectory(trees[i]);
            var result = name.EndsWith(".deb", StringComparison.Ordinal)
                ? ProcessRunner.Run("dpkg-deb", ["-R", archives[i], trees[i]])
                : ProcessRunner.Run("tar", ["-xzf", archives[i], "-C", trees[i]]);
            if (result.ExitCode != 0)
            {
                return "  cannot extract: " + result + "\n";
            }
        }

        var files = trees.SelectMany(t => Directory.EnumerateFiles(t, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(t, f)))
            .Distinct().Order(StringComparer.Ordinal);
        var text = new StringBuilder();
        foreach (var rel in files)
        {
            var fa = Path.Combine(trees[0], rel);
            var fb = Path.Combine(trees[1], rel);
            if (!File.Exists(fa) || !File.Exists(fb))
            {
                text.Append("  only in one build: ").AppendLine(rel);
            }
            else if (Sha256(fa) != Sha256(fb))
            {
                text.Append("  differs: ").AppendLine(rel);
            }
        }

        return text.Length == 0 ? "  same files, same contents: the archive metadata differs (times, owners, order, compression)\n" : text.ToString();
    }

    private static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
