using System.Globalization;
using System.Text.RegularExpressions;
using OfflineSigner.Daemon.Check;
using OfflineSigner.Daemon.Configuration;
using OfflineSigner.Daemon.Hosting;
using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Systemd.Tests;

/// <summary>
/// systemd's own tools check the files in systemd/: the units load without a complaint, the service's exposure is
/// 1.0 or lower, sysusers.d and tmpfiles.d create what the units expect, and the default configuration is valid.
/// </summary>
public sealed partial class UnitFileTests
{
    private const string Installed = "ExecStart=/usr/bin/offline-signerd serve --config /etc/offline-signerd/config.json";

    private static string Units => Path.Combine(TestEnvironment.RepoRoot, "systemd");

    public static TheoryData<string, string, string> Breakages => new()
    {
        { "offline-signerd.service", "ProtectSystem=strict", "ProtectSystem=very" },
        { "offline-signerd.service", "RestrictAddressFamilies=AF_UNIX", "RestrictAddressFamilies=AF_UNIX\nRestrictAdressFamilies=AF_UNIX" },
        { "offline-signerd.service", "WatchdogSec=30s", "WatchdogSec=thirty" },
        { "offline-signerd.service", "ExecStart=/bin/true", "ExecStart=/nonexistent/offline-signerd" },
        { "offline-signerd.service", "SystemCallFilter=@system-service", "SystemCallFilter=@system-servic" },
        { "offline-signerd.socket", "SocketMode=0660", "SocketMode=rw-rw----" },
        { "offline-signerd.socket", "ListenStream=/run/offline-signerd/offline-signerd.sock", "ListenStream=run/offline-signerd.sock" },
    };

    [Fact]
    public void The_units_pass_systemd_analyze_verify_without_a_complaint()
    {
        var analyze = TestEnvironment.RequireTool("systemd-analyze", "Debian package systemd");
        using var dir = TestEnvironment.CreateTempDir("units");
        CopyForVerify(dir.Path);
        var result = Verify(analyze, dir.Path);
        Assert.True(Clean(result), "systemd-analyze verify complains:\n" + result);
    }

    /// <summary>The check above would notice a real mistake: each of these copies, broken in one line, fails it.</summary>
    [Theory]
    [MemberData(nameof(Breakages))]
    public void A_unit_broken_in_one_line_fails_the_same_check(string unit, string line, string broken)
    {
        var analyze = TestEnvironment.RequireTool("systemd-analyze", "Debian package systemd");
        using var dir = TestEnvironment.CreateTempDir("units");
        CopyForVerify(dir.Path);
        var path = Path.Combine(dir.Path, unit);
        var text = File.ReadAllText(path);
        Assert.Contains("\n" + line + "\n", text, StringComparison.Ordinal);
        File.WriteAllText(path, text.Replace("\n" + line + "\n", "\n" + broken + "\n", StringComparison.Ordinal));
        var result = Verify(analyze, dir.Path);
        Assert.False(Clean(result), $"systemd-analyze verify accepted '{broken}' in {unit}:\n{result}");
    }

    [Fact]
    public void The_service_is_rated_1_0_or_lower_by_systemd_analyze_security()
    {
        var analyze = TestEnvironment.RequireTool("systemd-analyze", "Debian package systemd");
        var service = Path.Combine(Units, "offline-signerd.service");

        // --threshold counts tenths: 10 is an exposure of 1.0.
        var result = ProcessRunner.Run(analyze, ["security", "--offline=true", "--threshold=10", "--no-pager", service]);
        var match = Exposure().Match(result.StdOut + result.StdErr);
        Assert.True(match.Success, "no exposure level in the output:\n" + result);
        var exposure = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        TestContext.Current.SendDiagnosticMessage($"systemd-analyze security: exposure {exposure}");
        Assert.True(exposure <= 1.0, $"exposure {exposure} is above 1.0:\n{result.StdOut}");
        Assert.True(result.ExitCode == 0, "systemd-analyze security --threshold=10 failed:\n" + result);

        // The same measure fails a weakened copy, so the pass above means something.
        using var dir = TestEnvironment.CreateTempDir("units");
        var weakened = Path.Combine(dir.Path, "offline-signerd.service");
        File.WriteAllText(weakened, string.Join('\n', File.ReadAllLines(service).Where(l => !l.StartsWith("PrivateNetwork=", StringComparison.Ordinal)
            && !l.StartsWith("RestrictAddressFamilies=", StringComparison.Ordinal) && !l.StartsWith("SystemCallFilter=", StringComparison.Ordinal)
            && !l.StartsWith("CapabilityBoundingSet=", StringComparison.Ordinal) && !l.StartsWith("PrivateUsers=", StringComparison.Ordinal))));
        var worse = ProcessRunner.Run(analyze, ["security", "--offline=true", "--threshold=10", "--no-pager", weakened]);
        Assert.NotEqual(0, worse.ExitCode);
        Assert.True(double.Parse(Exposure().Match(worse.StdOut + worse.StdErr).Groups[1].Value, CultureInfo.InvariantCulture) > 1.0);
    }

    [Fact]
    public void The_service_keeps_what_the_daemon_needs()
    {
        var service = File.ReadAllLines(Path.Combine(Units, "offline-signerd.service"));
        string[] required =
        [
            "Type=notify", "NotifyAccess=main", Installed, "User=offline-signerd", "UMask=0077",
            "Requires=offline-signerd.socket", "PrivateNetwork=yes", "RestrictAddressFamilies=AF_UNIX", "CapabilityBoundingSet=",
            "AmbientCapabilities=", "NoNewPrivileges=yes", "ProtectSystem=strict", "StateDirectory=offline-signerd",
            "StateDirectoryMode=0700", "ReadWritePaths=-/var/lib/softhsm/tokens", "StandardOutput=journal",
        ];
        Assert.All(required, line => Assert.Contains(line, service));
        Assert.Contains(service, l => l.StartsWith("WatchdogSec=", StringComparison.Ordinal));

        // Not the option that breaks the .NET JIT; and no RuntimeDirectory=, which would delete the activated socket.
        Assert.DoesNotContain(service, l => l.StartsWith("MemoryDenyWriteExecute=", StringComparison.Ordinal));
        Assert.DoesNotContain(service, l => l.StartsWith("RuntimeDirectory", StringComparison.Ordinal));
        Assert.Contains(service, l => l.StartsWith('#') && l.Contains("MemoryDenyWriteExecute", StringComparison.Ordinal));
    }

    [Fact]
    public void Sysusers_and_tmpfiles_create_the_users_and_directories_the_units_expect()
    {
        var sysusers = TestEnvironment.RequireTool("systemd-sysusers", "Debian package systemd");
        var tmpfiles = TestEnvironment.RequireTool("systemd-tmpfiles", "Debian package systemd");
        if (Environment.UserName != "root")
        {
            Assert.Skip("systemd-tmpfiles can only give the directories their owners when run as root");
        }

        using var root = TestEnvironment.CreateTempDir("sysroot");
        Directory.CreateDirectory(Path.Combine(root.Path, "etc"));
        var users = ProcessRunner.Run(sysusers, ["--root=" + root.Path, Path.Combine(Units, "sysusers.d", "offline-signerd.conf")]);
        Assert.True(users.ExitCode == 0, "systemd-sysusers failed:\n" + users);
        var files = ProcessRunner.Run(tmpfiles, ["--root=" + root.Path, "--create", Path.Combine(Units, "tmpfiles.d", "offline-signerd.conf")]);
        Assert.True(files.ExitCode == 0 && files.StdErr.Trim().Length == 0, "systemd-tmpfiles failed:\n" + files);

        var uid = Ids(Path.Combine(root.Path, "etc", "passwd"));
        var gid = Ids(Path.Combine(root.Path, "etc", "group"));
        var members = File.ReadAllLines(Path.Combine(root.Path, "etc", "group")).ToDictionary(l => l.Split(':')[0], l => l.Split(':')[3]);
        Assert.Equal("offline-signerd", members["softhsm"]);
        Assert.Equal(string.Empty, members["offline-signer-operators"]);

        AssertDirectory(root.Path, "/run/offline-signerd", "750", uid["offline-signerd"], gid["offline-signer-operators"]);
        AssertDirectory(root.Path, "/var/lib/offline-signerd", "700", uid["offline-signerd"], gid["offline-signerd"]);
        AssertDirectory(root.Path, "/etc/offline-signerd", "750", 0, gid["offline-signerd"]);

        // What the units name is what these files create.
        var socket = File.ReadAllLines(Path.Combine(Units, "offline-signerd.socket"));
        Assert.Contains("SocketUser=offline-signerd", socket);
        Assert.Contains("SocketGroup=offline-signer-operators", socket);
        Assert.Contains("SocketMode=0660", socket);
        Assert.Contains("DirectoryMode=0750", socket);
        Assert.Contains("ListenStream=/run/offline-signerd/offline-signerd.sock", socket);
    }

    [Fact]
    public void The_shipped_configuration_is_the_one_the_service_loads_and_it_is_valid()
    {
        var config = Path.Combine(Units, "config.json");
        Assert.Contains(Installed, File.ReadAllLines(Path.Combine(Units, "offline-signerd.service")));

        // What `offline-signerd check` and `serve` read first; a broken file would exit with InvalidConfiguration.
        var parsed = DaemonConfiguration.Load(config);
        var serve = ServeConfiguration.From(parsed.Daemon, config);
        Assert.Equal("/run/offline-signerd/offline-signerd.sock", serve.SocketPath);
        Assert.Contains("ListenStream=" + serve.SocketPath, File.ReadAllLines(Path.Combine(Units, "offline-signerd.socket")));
        Assert.StartsWith("/var/lib/offline-signerd/", serve.AuditLogPath, StringComparison.Ordinal);
        var backend = Assert.Single(parsed.Backends!);
        Assert.Equal("/usr/lib/softhsm/libsofthsm2.so", backend.Module);

        using var dir = TestEnvironment.CreateTempDir("config");
        var broken = Path.Combine(dir.Path, "config.json");
        File.WriteAllText(broken, File.ReadAllText(config).Replace("\"backends\"", "\"backend\"", StringComparison.Ordinal));
        Assert.Equal(CheckCommand.InvalidConfiguration, CheckCommand.Run(broken, false, new StringWriter(), new StringWriter()));
    }

    /// <summary>The shipped units in <paramref name="dir"/>, with ExecStart pointing at a program that exists here.</summary>
    private static void CopyForVerify(string dir)
    {
        var service = File.ReadAllText(Path.Combine(Units, "offline-signerd.service"));
        Assert.Contains("\n" + Installed + "\n", service, StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(dir, "offline-signerd.service"), service.Replace("\n" + Installed + "\n", "\nExecStart=/bin/true\n", StringComparison.Ordinal));
        File.Copy(Path.Combine(Units, "offline-signerd.socket"), Path.Combine(dir, "offline-signerd.socket"));
    }

    private static ProcessResult Verify(string analyze, string dir) =>
        ProcessRunner.Run(analyze, ["verify", "--man=no", "--generators=no", "offline-signerd.service", "offline-signerd.socket"], workingDirectory: dir);

    /// <summary>verify exits 0 on most mistakes ("…, ignoring"): a clean result also has nothing on stderr.</summary>
    private static bool Clean(ProcessResult result) => result.ExitCode == 0 && result.StdErr.Trim().Length == 0;

    private static Dictionary<string, int> Ids(string file) =>
        File.ReadAllLines(file).ToDictionary(l => l.Split(':')[0], l => int.Parse(l.Split(':')[2], CultureInfo.InvariantCulture));

    private static void AssertDirectory(string root, string path, string mode, int uid, int gid)
    {
        var full = root + path;
        Assert.True(Directory.Exists(full), path + " was not created");
        var stat = ProcessRunner.Run("stat", ["-c", "%a %u %g", full]);
        Assert.Equal($"{mode} {uid} {gid}", stat.StdOut.Trim());
    }

    [GeneratedRegex(@"Overall exposure level for [^:]+:\s*([0-9]+\.[0-9]+)")]
    private static partial Regex Exposure();
}
