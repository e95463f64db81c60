using System.Globalization;
using System.Text.RegularExpressions;
using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Systemd.Tests;

/// <summary>systemd's own analyzer checks the units in systemd/: they load, and the service's exposure is 1.0 or lower.</summary>
public sealed partial class UnitFileTests
{
    private static string Units => Path.Combine(TestEnvironment.RepoRoot, "systemd");

    [Fact]
    public void The_units_pass_systemd_analyze_verify_and_a_broken_copy_does_not()
    {
        var analyze = TestEnvironment.RequireTool("systemd-analyze", "Debian package systemd");
        using var dir = TestEnvironment.CreateTempDir("units");

        // The program is not installed on the test machine: point ExecStart at one that exists; everything else as shipped.
        var service = File.ReadAllText(Path.Combine(Units, "offline-signerd.service"));
        Assert.Contains("ExecStart=/usr/bin/offline-signerd serve", service, StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(dir.Path, "offline-signerd.service"), service.Replace("ExecStart=/usr/bin/offline-signerd", "ExecStart=/bin/true", StringComparison.Ordinal));
        File.Copy(Path.Combine(Units, "offline-signerd.socket"), Path.Combine(dir.Path, "offline-signerd.socket"));
        var ok = ProcessRunner.Run(analyze, ["verify", "--man=no", "offline-signerd.service", "offline-signerd.socket"], workingDirectory: dir.Path);
        Assert.True(ok.ExitCode == 0 && ok.StdErr.Trim().Length == 0, "systemd-analyze verify complains:\n" + ok);

        // The same check fails on a real error, so a pass above means something.
        File.WriteAllText(Path.Combine(dir.Path, "offline-signerd.service"), service.Replace("ExecStart=/usr/bin/offline-signerd", "ExecStart=/nonexistent/offline-signerd", StringComparison.Ordinal));
        var broken = ProcessRunner.Run(analyze, ["verify", "--man=no", "offline-signerd.service", "offline-signerd.socket"], workingDirectory: dir.Path);
        Assert.NotEqual(0, broken.ExitCode);
    }

    [Fact]
    public void The_service_is_rated_1_0_or_lower_by_systemd_analyze_security()
    {
        var analyze = TestEnvironment.RequireTool("systemd-analyze", "Debian package systemd");
        var result = ProcessRunner.Run(analyze, ["security", "--offline=true", "--no-pager", Path.Combine(Units, "offline-signerd.service")]);
        var match = Exposure().Match(result.StdOut + result.StdErr);
        Assert.True(match.Success, "no exposure level in the output:\n" + result);
        var exposure = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        TestContext.Current.SendDiagnosticMessage($"systemd-analyze security: exposure {exposure}");
        Assert.True(exposure <= 1.0, $"exposure {exposure} is above 1.0:\n{result.StdOut}");

        // Not the JIT-breaking option, and none of the network.
        var service = File.ReadAllText(Path.Combine(Units, "offline-signerd.service"));
        Assert.DoesNotContain("\nMemoryDenyWriteExecute=yes", service, StringComparison.Ordinal);
        Assert.Contains("\nRestrictAddressFamilies=AF_UNIX\n", service, StringComparison.Ordinal);
        Assert.Contains("\nPrivateNetwork=yes\n", service, StringComparison.Ordinal);
        Assert.Contains("\nCapabilityBoundingSet=\n", service, StringComparison.Ordinal);
    }

    [Fact]
    public void The_shipped_configuration_is_accepted_by_the_daemon()
    {
        var config = Path.Combine(Units, "config.json");
        var parsed = OfflineSigner.Daemon.Configuration.DaemonConfiguration.Load(config);
        var serve = OfflineSigner.Daemon.Hosting.ServeConfiguration.From(parsed.Daemon, config);
        Assert.Equal("/run/offline-signerd/offline-signerd.sock", serve.SocketPath);
        Assert.Contains("ListenStream=" + serve.SocketPath, File.ReadAllText(Path.Combine(Units, "offline-signerd.socket")), StringComparison.Ordinal);
        Assert.StartsWith("/var/lib/offline-signerd/", serve.AuditLogPath, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"Overall exposure level for [^:]+:\s*([0-9]+\.[0-9]+)")]
    private static partial Regex Exposure();
}
