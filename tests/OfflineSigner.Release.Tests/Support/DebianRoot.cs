using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Release.Tests.Support;

/// <summary>
/// A clean Debian 12 root in a temporary folder, made by mmdebstrap from Debian's archive with exactly the packages
/// the release's .deb declares (Depends and Recommends, first alternative each) and nothing else: no .NET, no NuGet,
/// no build tools. Commands run in it through chroot, in a private mount namespace that has /proc mounted for them,
/// so nothing outside the folder changes and nothing stays mounted. The base root is built once per run and
/// unpacked afresh for each test.
/// </summary>
internal sealed partial class DebianRoot : IDisposable
{
    private static readonly object BaseLock = new();
    private static readonly Dictionary<string, string> Bases = new(StringComparer.Ordinal);

    private readonly TempDir _dir;

    private DebianRoot(TempDir dir)
    {
        _dir = dir;
        Path = System.IO.Path.Combine(dir.Path, "root");
    }

    /// <summary>The root folder on the host.</summary>
    public string Path { get; }

    /// <summary>A path inside the root, seen from the host.</summary>
    public string Host(string inside) => Path + inside;

    /// <summary>
    /// A fresh root with the packages <paramref name="deb"/> declares. Skips unless running as root with mmdebstrap;
    /// fails (in CI) or skips (elsewhere) when Debian's archive cannot be reached.
    /// </summary>
    public static DebianRoot Create(BuiltRelease built, string deb)
    {
        if (Environment.UserName != "root")
        {
            Assert.Skip("installing into a Debian root needs root (mmdebstrap, chroot, dpkg); CI runs as root");
        }

        var mmdebstrap = TestEnvironment.RequireTool("mmdebstrap", "Debian package mmdebstrap");
        TestEnvironment.RequireTool("unshare", "Debian package util-linux");
        var tarball = BaseTarball(built, deb, mmdebstrap);
        var root = new DebianRoot(TestEnvironment.CreateTempDir("offsig-debroot"));
        Directory.CreateDirectory(root.Path);
        var unpack = ProcessRunner.Run("tar", ["-xpf", tarball, "-C", root.Path, "--numeric-owner"], TimeSpan.FromMinutes(5));
        if (unpack.ExitCode != 0)
        {
            root.Dispose();
            Assert.Fail("cannot unpack the Debian root: " + unpack);
        }

        return root;
    }

    /// <summary>The packages a .deb declares: the first alternative of each Depends and Recommends entry.</summary>
    public static IReadOnlyList<string> DeclaredPackages(string deb)
    {
        var fields = ProcessRunner.Run("dpkg-deb", ["-f", deb, "Depends", "Recommends"]);
        Assert.True(fields.ExitCode == 0, fields.ToString());
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var line in fields.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var value = line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..];
            foreach (var entry in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                names.Add(PackageName().Match(entry.Split('|')[0].Trim()).Value);
            }
        }

        return [.. names];
    }

    /// <summary>Runs a command inside the root (minimal environment, PATH of the root's own system folders).</summary>
    public ProcessResult Run(string[] command, TimeSpan? timeout = null, byte[]? stdin = null) =>
        ProcessRunner.Run("unshare", [.. Prefix(), .. command], timeout ?? TimeSpan.FromMinutes(5), stdin: stdin);

    /// <summary>A shell command line inside the root.</summary>
    public ProcessResult Shell(string script, TimeSpan? timeout = null) => Run(["/bin/sh", "-c", script], timeout);

    /// <summary>Starts a long-running program inside the root; its output is collected.</summary>
    public RootProcess Start(string[] command, string readyMarker) => RootProcess.Start("unshare", [.. Prefix(), .. command], readyMarker);

    public void Dispose() => _dir.Dispose();

    /// <summary>unshare ... chroot ROOT env -i PATH=... : the same PID runs the command (every step execs).</summary>
    private string[] Prefix() =>
    [
        "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
        "mount -t proc proc \"$0/proc\" && exec chroot \"$0\" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 HOME=/root \"$@\"",
        Path,
    ];

    private static string BaseTarball(BuiltRelease built, string deb, string mmdebstrap)
    {
        var packages = DeclaredPackages(deb);
        var key = string.Join(',', packages);
        lock (BaseLock)
        {
            if (Bases.TryGetValue(key, out var existing))
            {
                return existing;
            }

            var tarball = System.IO.Path.Combine(built.WorkDir, $"debian-root-{Bases.Count}.tar");
            var result = ProcessRunner.Run(
                mmdebstrap,
                ["--quiet", "--mode=root", "--variant=apt", "--include=" + key, "bookworm", tarball],
                TimeSpan.FromMinutes(20));
            if (result.ExitCode != 0)
            {
                var message = $"mmdebstrap could not build a Debian 12 root with {key} (is Debian's archive reachable?):\n{result}";
                if (Environment.GetEnvironmentVariable("CI") == "true")
                {
                    Assert.Fail(message);
                }

                Assert.Skip(message);
            }

            Bases[key] = tarball;
            return tarball;
        }
    }

    [GeneratedRegex(@"^[a-z0-9][a-z0-9+.-]*")]
    private static partial Regex PackageName();
}

/// <summary>A program running inside a <see cref="DebianRoot"/>, stopped by its PID.</summary>
internal sealed class RootProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private RootProcess(Process process)
    {
        _process = process;
    }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public int Pid => _process.Id;

    public static RootProcess Start(string file, string[] args, string readyMarker)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        var process = new Process { StartInfo = psi };
        var started = new RootProcess(process);
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) => started.Record(e.Data, readyMarker, ready);
        process.ErrorDataReceived += (_, e) => started.Record(e.Data, readyMarker, ready);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var first = Task.WhenAny(ready.Task, process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(90))).GetAwaiter().GetResult();
        if (first != ready.Task)
        {
            var state = process.HasExited ? $"exited with {process.ExitCode}" : "did not get ready within 90 s";
            started.Dispose();
            Assert.Fail($"{string.Join(' ', args.Skip(8))} {state}\n{started.Output}");
        }

        return started;
    }

    /// <summary>SIGTERM, then the exit code (SIGKILL after 30 s).</summary>
    public int Stop()
    {
        if (!_process.HasExited)
        {
            ProcessRunner.Run("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            if (!_process.WaitForExit(TimeSpan.FromSeconds(30)))
            {
                _process.Kill();
                Assert.Fail("did not stop within 30 s of SIGTERM\n" + Output);
            }
        }

        _process.WaitForExit();
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }

        _process.Dispose();
    }

    private void Record(string? line, string marker, TaskCompletionSource ready)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }

        if (line.Contains(marker, StringComparison.Ordinal))
        {
            ready.TrySetResult();
        }
    }
}
