using System.Globalization;
using System.Text;
using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Release.Tests.Support;

/// <summary>
/// The release, built by scripts/release.sh twice from one commit: from two fresh clones in different directories
/// (different depths and names), one after the other, the second with another umask, time zone and locale. Built
/// once per test run, on first use, and shared by every test.
/// <para>
/// The commit is the repository's HEAD. When the work tree has uncommitted changes (a developer's run), they are
/// committed in a staging clone first, so that what is tested is what is in the tree; CI's clone is clean.
/// </para>
/// </summary>
public sealed class ReleaseBuild : IDisposable
{
    private readonly Lazy<BuiltRelease> _built;
    private TempDir? _dir;

    public ReleaseBuild()
    {
        _built = new Lazy<BuiltRelease>(Build, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The release; skips the test when a tool the release command needs is missing.</summary>
    public BuiltRelease Require()
    {
        foreach (var (tool, hint) in new[] { ("git", "Debian package git"), ("dpkg-deb", "Debian package dpkg"), ("xz", "Debian package xz-utils"), ("tar", "Debian package tar") })
        {
            TestEnvironment.RequireTool(tool, hint);
        }

        if (!File.Exists("/usr/bin/python3"))
        {
            Assert.Skip("/usr/bin/python3 is not installed (the release command writes its manifest with it)");
        }

        if (!Directory.Exists(Path.Combine(TestEnvironment.RepoRoot, ".git")) && !File.Exists(Path.Combine(TestEnvironment.RepoRoot, ".git")))
        {
            Assert.Skip("the repository is not a git checkout: the release command builds a commit");
        }

        return _built.Value;
    }

    public void Dispose()
    {
        _dir?.Dispose();
    }

    private BuiltRelease Build()
    {
        _dir = TestEnvironment.CreateTempDir("offsig-release");
        var top = _dir.Path;
        var log = new StringBuilder();

        var staging = Path.Combine(top, "staging");
        Git(log, top, "clone", "--quiet", "--no-hardlinks", TestEnvironment.RepoRoot, staging);
        var head = Git(log, TestEnvironment.RepoRoot, "rev-parse", "HEAD").Trim();
        Git(log, staging, "checkout", "--quiet", "--detach", head);
        var snapshot = Git(log, TestEnvironment.RepoRoot, "status", "--porcelain", "--untracked-files=normal").Trim().Length > 0;
        if (snapshot)
        {
            CopyWorkTree(log, TestEnvironment.RepoRoot, staging);
            Git(log, staging, "add", "--all");
            Git(log, staging, "-c", "user.name=OfflineSigner tests", "-c", "user.email=tests@offline-signer.invalid",
                "commit", "--quiet", "--no-verify", "-m", "Work tree of " + head + " with its uncommitted changes");
        }

        var commit = Git(log, staging, "rev-parse", "HEAD").Trim();
        var epoch = long.Parse(Git(log, staging, "log", "-1", "--format=%ct", "HEAD").Trim(), CultureInfo.InvariantCulture);

        // First checkout and build.
        var checkoutA = Path.Combine(top, "a", "src");
        var outA = Path.Combine(top, "out-a");
        Clone(log, staging, checkoutA, commit);
        Release(log, checkoutA, outA, "0022", null);

        // Second: another directory at another depth, later, with another umask, time zone, locale and a stray
        // SOURCE_DATE_EPOCH that the release command must ignore in favour of the commit's date.
        var checkoutB = Path.Combine(top, "second-checkout", "somewhere", "deeper", "offline-signer");
        var outB = Path.Combine(top, "out-b");
        Clone(log, staging, checkoutB, commit);
        Release(log, checkoutB, outB, "0027", new Dictionary<string, string?>
        {
            ["TZ"] = "Pacific/Chatham",
            ["LANG"] = "C.UTF-8",
            ["LC_ALL"] = "C.UTF-8",
            ["SOURCE_DATE_EPOCH"] = "86400",
        });

        var version = File.ReadAllLines(Path.Combine(checkoutA, "Directory.Build.props"))
            .Select(l => l.Trim())
            .First(l => l.StartsWith("<Version>", StringComparison.Ordinal))
            .Replace("<Version>", string.Empty, StringComparison.Ordinal)
            .Replace("</Version>", string.Empty, StringComparison.Ordinal);
        return new BuiltRelease(commit, epoch, version, checkoutA, outA, checkoutB, outB, snapshot, log.ToString(), top);
    }

    private static void Clone(StringBuilder log, string from, string to, string commit)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(to)!);
        Git(log, Path.GetDirectoryName(to)!, "clone", "--quiet", "--no-hardlinks", from, to);
        Git(log, to, "checkout", "--quiet", "--detach", commit);
    }

    /// <summary>Copies the tracked and untracked (not ignored) files of the work tree over the staging clone.</summary>
    private static void CopyWorkTree(StringBuilder log, string from, string to)
    {
        foreach (var rel in Git(log, from, "ls-files", "-z", "--deleted").Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            File.Delete(Path.Combine(to, rel));
        }

        foreach (var rel in Git(log, from, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            var source = Path.Combine(from, rel);
            if (!File.Exists(source))
            {
                continue;
            }

            var target = Path.Combine(to, rel);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(source, target, overwrite: true);
            File.SetUnixFileMode(target, File.GetUnixFileMode(source));
        }
    }

    private static void Release(StringBuilder log, string checkout, string output, string umask, IDictionary<string, string?>? extra)
    {
        var environment = BuildEnvironment();
        foreach (var (k, v) in extra ?? new Dictionary<string, string?>())
        {
            environment[k] = v;
        }

        var script = Path.Combine(checkout, "scripts", "release.sh");
        var result = ProcessRunner.Run(
            "/bin/sh",
            ["-c", $"umask {umask} && exec \"$0\" --out \"$1\"", script, output],
            TimeSpan.FromMinutes(30),
            environment,
            checkout);
        log.Append("$ scripts/release.sh in ").AppendLine(checkout).AppendLine(result.ToString());
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"scripts/release.sh failed in {checkout}:\n{result}");
        }
    }

    /// <summary>
    /// The test host's environment without what `dotnet test` sets for itself (MSBuild's and the test platform's
    /// variables would steer the nested build), so the release command sees what an operator's shell has.
    /// </summary>
    private static Dictionary<string, string?> BuildEnvironment()
    {
        var environment = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
        {
            var key = (string)e.Key;
            if (key.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase) || key.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)
                || key.StartsWith("TESTINGPLATFORM", StringComparison.OrdinalIgnoreCase) || key is "DOTNET_HOST_PATH" or "SOURCE_DATE_EPOCH")
            {
                environment[key] = null;
            }
        }

        return environment;
    }

    private static string Git(StringBuilder log, string directory, params string[] args)
    {
        var result = ProcessRunner.Run("git", args, TimeSpan.FromMinutes(5), workingDirectory: directory);
        if (result.ExitCode != 0)
        {
            log.AppendLine($"$ git {string.Join(' ', args)}").AppendLine(result.ToString());
            throw new InvalidOperationException($"git {string.Join(' ', args)} failed in {directory}:\n{result}");
        }

        return result.StdOut;
    }
}

/// <summary>Two builds of one commit: their checkouts and output folders.</summary>
public sealed record BuiltRelease(
    string Commit,
    long SourceDateEpoch,
    string Version,
    string CheckoutA,
    string OutA,
    string CheckoutB,
    string OutB,
    bool FromUncommittedWorkTree,
    string Log,
    string WorkDir)
{
    public string DebName => $"offline-signer_{Version}_amd64.deb";

    public string TarballName => $"offline-signer-{Version}-linux-x64.tar.gz";

    public string SbomName => $"offline-signer-{Version}.cdx.json";

    public string Deb => Path.Combine(OutA, DebName);

    public string Tarball => Path.Combine(OutA, TarballName);

    public string Manifest => Path.Combine(OutA, "release-manifest.json");

    public string Sbom => Path.Combine(OutA, SbomName);

    public string Sums => Path.Combine(OutA, "SHA256SUMS");

    /// <summary>The files the release command writes, by name.</summary>
    public IReadOnlyList<string> Outputs => [DebName, TarballName, "release-manifest.json", SbomName, "SHA256SUMS"];
}
