using System.CommandLine;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using OfflineSigner.Audit;
using OfflineSigner.Daemon.Configuration;
using OfflineSigner.Daemon.Grpc;
using OfflineSigner.Daemon.Systemd;

namespace OfflineSigner.Daemon.Hosting;

/// <summary>
/// <c>offline-signerd serve --config FILE [--new-audit-segment] [--listen-tcp PORT]</c>: opens the audit log (refusing a
/// broken chain unless told to start a new segment), loads the backends, and serves gRPC on the configured Unix
/// socket (or the socket systemd passes, or loopback TCP for tests) until SIGTERM or SIGINT.
/// Exit 0 after a clean stop, 2 for an invalid configuration, 3 when the audit log is broken or cannot be opened,
/// 4 when the socket cannot be listened on.
/// </summary>
internal static class ServeCommand
{
    public const int Ok = 0;
    public const int InvalidConfiguration = 2;
    public const int AuditLogUnusable = 3;
    public const int CannotListen = 4;

    public static Command Create()
    {
        var config = new Option<FileInfo>("--config") { Description = "the daemon's configuration file", Required = true };
        var newSegment = new Option<bool>("--new-audit-segment")
        {
            Description = "when the audit log's chain is broken, start a new segment (recorded in the log) instead of refusing to start",
        };
        var tcp = new Option<int?>("--listen-tcp") { Description = "listen on 127.0.0.1:PORT instead of the Unix socket (tests only; 0 picks a free port)" };
        var command = new Command("serve", "serve the gRPC API until stopped") { config, newSegment, tcp };
        command.SetAction((result, _) => RunAsync(result.GetValue(config)!.FullName, result.GetValue(newSegment), result.GetValue(tcp), Console.Out, Console.Error));
        return command;
    }

    public static async Task<int> RunAsync(string configPath, bool newAuditSegment, int? tcpPort, TextWriter output, TextWriter error)
    {
        using var notifier = SystemdNotifier.FromEnvironment(error);
        DaemonConfiguration config;
        ServeConfiguration serve;
        IReadOnlyList<InheritedSocket> inherited;
        try
        {
            config = DaemonConfiguration.Load(configPath);
            serve = ServeConfiguration.From(config.Daemon, configPath);
            inherited = ListenFds.FromEnvironment();
        }
        catch (Exception e) when (e is ConfigurationException or FormatException)
        {
            await error.WriteLineAsync("<3>error: " + e.Message).ConfigureAwait(false);
            return InvalidConfiguration;
        }

        if (inherited.Count > 1)
        {
            await error.WriteLineAsync($"<3>error: systemd passed {inherited.Count} sockets; offline-signerd.socket must listen on exactly one").ConfigureAwait(false);
            return InvalidConfiguration;
        }

        notifier.Status("opening the audit log");

        AuditLogWriter audit;
        try
        {
            audit = new AuditLogWriter(serve.AuditLogPath, newAuditSegment);
        }
        catch (Exception e) when (e is AuditLogBrokenException or IOException or UnauthorizedAccessException)
        {
            await error.WriteLineAsync("<2>error: " + e.Message + (e is AuditLogBrokenException ? " (run with --new-audit-segment to continue in a new, recorded segment)" : string.Empty)).ConfigureAwait(false);
            return AuditLogUnusable;
        }

        using (audit)
        {
            audit.Append(new AuditEvent(AuditEventKind.DaemonStarted)
            {
                CallerUid = Native.Uid,
                Detail = $"{BuildIdentity.Current("offline-signerd", typeof(ServeCommand).Assembly).AuditDetail()}; configuration {configPath} sha256 {Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(configPath)))}",
            });
            DaemonServices services;
            try
            {
                // Requests for the operator (insert a YubiKey, touch it) go to the journal and to systemctl status.
                services = new DaemonServices(config, serve.Policy, audit, TimeProvider.System, serve.AuditLogPath, message =>
                {
                    error.WriteLine("<5>" + message);
                    notifier.Status(message);
                });
            }
            catch (ConfigurationException e)
            {
                await error.WriteLineAsync("<3>error: " + e.Message).ConfigureAwait(false);
                return InvalidConfiguration;
            }

            using var ownedServices = services;
            var registry = new GrpcServiceRegistry();
            services.Register(registry);
            var serving = true;
            new HealthService(() => registry.Services, () => serving).Register(registry);

            var transport = new GrpcTransportOptions
            {
                MaxMessageBytes = serve.MaxMessageBytes,
                AllowedUids = serve.AllowedUids,
                AllowedGids = serve.AllowedGids,
            };
            GrpcListener listener = tcpPort is { } port ? new GrpcListener.LoopbackTcp(port)
                : inherited.Count == 1 ? new GrpcListener.InheritedHandle((ulong)inherited[0].Fd, $"the socket systemd passed ({inherited[0].Name}, fd {inherited[0].Fd})")
                : new GrpcListener.UnixSocket(serve.SocketPath);

            GrpcServer server;
            try
            {
                server = await GrpcServer.StartAsync(listener, registry, transport, audit).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or UnauthorizedAccessException)
            {
                await error.WriteLineAsync($"<3>error: cannot listen: {e.Message}").ConfigureAwait(false);
                return CannotListen;
            }

            await using (server.ConfigureAwait(false))
            {
                using var stop = new CancellationTokenSource();
                using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
                using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
                await output.WriteLineAsync($"<6>offline-signerd {BuildVersion()} serving {registry.Paths.Count} methods on {server.Address}").ConfigureAwait(false);
                await output.FlushAsync().ConfigureAwait(false);
                notifier.Ready($"serving {registry.Paths.Count} methods on {server.Address}");
                var watchdog = notifier.RunWatchdogAsync(() => serving, stop.Token);

                try
                {
                    await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // Asked to stop.
                }

                serving = false;
                notifier.Stopping("stopping: finishing running calls");
                await output.WriteLineAsync("<6>stopping").ConfigureAwait(false);
                await server.StopAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
                await watchdog.ConfigureAwait(false);
            }

            audit.Append(new AuditEvent(AuditEventKind.DaemonStopped) { CallerUid = Native.Uid });
        }

        return Ok;
    }

    /// <summary>The informational version (version and commit when the build knows it).</summary>
    public static string BuildVersion() =>
        typeof(ServeCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
}
