using OfflineSigner.Daemon.Tests.Support;
using OfflineSigner.Grpc.Tests.Support;
using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Grpc.Tests;

/// <summary>The CLI reaches the real daemon over its Unix socket with the project's own gRPC client.</summary>
public sealed class CliClientTests(SoftHsm hsm)
{
    [Fact]
    public void Daemon_status_reports_the_token_and_the_audit_chain_and_fails_on_a_broken_one()
    {
        using var daemon = DaemonProcess.Start(hsm);
        var ok = Cli("daemon", "status", "--socket", daemon.SocketPath);
        Assert.True(ok.ExitCode == 0, ok.ToString());
        Assert.Contains("SERVING", ok.StdOut, StringComparison.Ordinal);
        Assert.Contains($"token '{daemon.TokenLabel}'", ok.StdOut, StringComparison.Ordinal);
        Assert.Contains("audit log: verified", ok.StdOut, StringComparison.Ordinal);

        // Break the first entry (no longer a JSON object): the daemon's VerifyLog says so, and the CLI exits 1.
        using (var file = new FileStream(daemon.AuditLogPath, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite))
        {
            file.WriteByte((byte)'[');
        }

        var broken = Cli("daemon", "status", "--socket", daemon.SocketPath);
        Assert.Equal(1, broken.ExitCode);
        Assert.Contains("audit log: BROKEN", broken.StdOut, StringComparison.Ordinal);

        var missing = Path.Combine(daemon.Directory, "nobody-here.sock");
        var unreachable = Cli("daemon", "status", "--socket", missing);
        Assert.Equal(1, unreachable.ExitCode);
        Assert.Contains(missing, unreachable.StdErr, StringComparison.Ordinal);
    }

    private static ProcessResult Cli(params string[] args)
    {
        var dotnet = TestEnvironment.DotnetHost;
        return ProcessRunner.Run(dotnet, ["exec", Path.Combine(AppContext.BaseDirectory, "offline-signer.dll"), .. args], TimeSpan.FromMinutes(1));
    }
}
