using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using OfflineSigner.Grpc.Tests.Support;
using OfflineSigner.Protocol.Health.V1;
using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Systemd.Tests;

/// <summary>
/// The real daemon started the way systemd starts it: the listening socket passed by systemd's own
/// systemd-socket-activate (LISTEN_FDS), readiness, watchdog and stopping reported to a notify socket.
/// </summary>
public sealed class ActivationTests
{
    [Fact]
    public async Task The_daemon_serves_an_activated_socket_and_speaks_sd_notify()
    {
        var activate = TestEnvironment.RequireTool("systemd-socket-activate", "Debian package systemd");
        using var dir = TestEnvironment.CreateTempDir("activate");
        var socket = Path.Combine(dir.Path, "signerd.sock");
        var audit = Path.Combine(dir.Path, "audit.jsonl");
        var config = Path.Combine(dir.Path, "config.json");
        File.WriteAllText(config, $$"""
            {
              "backends": [ { "name": "softhsm", "type": "pkcs11", "module": "/usr/lib/softhsm/libsofthsm2.so", "token": { "label": "not-needed-here" } } ],
              "daemon": { "socket": {{JsonSerializer.Serialize(Path.Combine(dir.Path, "unused", "other.sock"))}}, "auditLog": {{JsonSerializer.Serialize(audit)}} }
            }
            """);
        var notifyPath = Path.Combine(dir.Path, "notify.sock");
        using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        notify.Bind(new UnixDomainSocketEndPoint(notifyPath));
        notify.ReceiveTimeout = 60_000;

        var dotnet = TestEnvironment.DotnetHost;
        var psi = new ProcessStartInfo(activate) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])["-l", socket, "--fdname=offline-signerd.socket", "-E", "NOTIFY_SOCKET=" + notifyPath, "-E", "WATCHDOG_USEC=400000",
                     dotnet, "exec", Path.Combine(AppContext.BaseDirectory, "offline-signerd.dll"), "serve", "--config", config])
        {
            psi.ArgumentList.Add(a);
        }

        using var activator = Process.Start(psi)!;
        var output = new StringBuilder();
        activator.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        activator.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        activator.BeginOutputReadLine();
        activator.BeginErrorReadLine();
        try
        {
            for (var i = 0; i < 100 && !File.Exists(socket); i++)
            {
                await Task.Delay(50, TestContext.Current.CancellationToken);
            }

            // The first connection makes systemd-socket-activate start the daemon with the listening socket.
            using var raw = new RawGrpc(socket);
            var health = await raw.PostAsync("/grpc.health.v1.Health/Check", RawGrpc.Frame(new HealthCheckRequest().ToByteArray()), cancellationToken: TestContext.Current.CancellationToken);
            Assert.True(health.GrpcStatus == "0", $"health check over the activated socket: {health}\n{output}");
            Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, HealthCheckResponse.Parser.ParseFrom(health.Body.AsSpan(5)).Status);
            Assert.False(Directory.Exists(Path.Combine(dir.Path, "unused")), "the daemon bound its configured socket although systemd passed one");

            var status = Receive(notify);
            Assert.Equal("STATUS=opening the audit log", status);
            var ready = Receive(notify);
            Assert.StartsWith("READY=1\nSTATUS=serving ", ready, StringComparison.Ordinal);
            Assert.Contains("the socket systemd passed (offline-signerd.socket, fd 3)", ready, StringComparison.Ordinal);
            var mainPid = int.Parse(ready.Split('\n').Single(l => l.StartsWith("MAINPID=", StringComparison.Ordinal))["MAINPID=".Length..], CultureInfo.InvariantCulture);

            // WATCHDOG_USEC=400000: petted every 200 ms.
            var watchdog = 0;
            var until = DateTime.UtcNow.AddSeconds(1.2);
            while (DateTime.UtcNow < until)
            {
                if (Receive(notify) == "WATCHDOG=1")
                {
                    watchdog++;
                }
            }

            Assert.InRange(watchdog, 3, 12);

            ProcessRunner.Run("kill", ["-TERM", mainPid.ToString(CultureInfo.InvariantCulture)]);
            string message;
            do
            {
                message = Receive(notify);
            }
            while (message == "WATCHDOG=1");
            Assert.StartsWith("STOPPING=1", message, StringComparison.Ordinal);
            Assert.True(activator.WaitForExit(TimeSpan.FromSeconds(30)), "the daemon did not exit after SIGTERM");
            Assert.Equal(0, activator.ExitCode);

            var log = File.ReadAllLines(audit);
            Assert.Contains(log, l => l.Contains("\"daemon_started\"", StringComparison.Ordinal));
            Assert.Contains("\"daemon_stopped\"", log[^1], StringComparison.Ordinal);
        }
        finally
        {
            if (!activator.HasExited)
            {
                activator.Kill(entireProcessTree: true);
            }
        }
    }

    private static string Receive(Socket socket)
    {
        var buffer = new byte[4096];
        var n = socket.Receive(buffer);
        return Encoding.UTF8.GetString(buffer, 0, n);
    }
}
