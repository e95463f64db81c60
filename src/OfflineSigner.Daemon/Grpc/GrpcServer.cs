using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OfflineSigner.Audit;

namespace OfflineSigner.Daemon.Grpc;

/// <summary>Where the daemon listens.</summary>
internal abstract record GrpcListener
{
    /// <summary>A Unix domain socket path (the default); a stale socket file there is replaced.</summary>
    public sealed record UnixSocket(string Path) : GrpcListener;

    /// <summary>A listening socket inherited from systemd (LISTEN_FDS).</summary>
    public sealed record InheritedHandle(ulong Handle, string Description) : GrpcListener;

    /// <summary>Loopback TCP, for tests only (port 0 picks a free one).</summary>
    public sealed record LoopbackTcp(int Port) : GrpcListener;
}

/// <summary>
/// Kestrel serving HTTP/2 (prior knowledge, no TLS: the socket's permissions and SO_PEERCRED are the access control)
/// with <see cref="GrpcCallHandler"/> on every request. Nothing else of ASP.NET Core is used: no routing, no
/// configuration sources, no hosting startup assemblies.
/// </summary>
internal sealed class GrpcServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly CancellationTokenSource _stopping = new();

    private GrpcServer(WebApplication app, string address)
    {
        _app = app;
        Address = address;
    }

    /// <summary>What the server listens on: a socket path, an inherited socket or http://127.0.0.1:PORT.</summary>
    public string Address { get; private set; }

    /// <summary>Cancelled when the server begins to stop; running calls then end with UNAVAILABLE.</summary>
    public CancellationToken Stopping => _stopping.Token;

    public static async Task<GrpcServer> StartAsync(GrpcListener listener, GrpcServiceRegistry registry, GrpcTransportOptions options, IAuditLog audit, Action<ILoggingBuilder>? logging = null)
    {
        ArgumentNullException.ThrowIfNull(listener);
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(options);
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore();
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        if (logging is null)
        {
            // journald-friendly: one line per entry with a <N> syslog priority prefix, no colours, no timestamps.
            builder.Logging.AddSystemdConsole(o => o.IncludeScopes = false);
        }
        else
        {
            logging(builder.Logging);
        }

        var stopping = new CancellationTokenSource();
        GrpcCallHandler? handler = null;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxConcurrentConnections = options.MaxConnections;
            kestrel.Limits.MaxConcurrentUpgradedConnections = 0;
            kestrel.Limits.MaxRequestBodySize = options.MaxMessageBytes + GrpcWire.PrefixLength + 1024L;
            kestrel.Limits.MaxRequestHeadersTotalSize = 16 * 1024;
            kestrel.Limits.Http2.MaxStreamsPerConnection = options.MaxStreamsPerConnection;
            kestrel.Limits.Http2.MaxRequestHeaderFieldSize = 8 * 1024;
            kestrel.Limits.KeepAliveTimeout = TimeSpan.FromMinutes(10);
            void Configure(ListenOptions listen)
            {
                listen.Protocols = HttpProtocols.Http2;
                listen.Use(next => async connection =>
                {
                    PeerCredentials? peer = null;
                    try
                    {
                        var socket = connection.Features.Get<IConnectionSocketFeature>()?.Socket;
                        peer = socket?.AddressFamily == AddressFamily.Unix
                            ? PeerCredentials.FromUnixSocket(socket)
                            : PeerCredentials.FromLoopbackTcp(connection.RemoteEndPoint as IPEndPoint, connection.LocalEndPoint as IPEndPoint);
                    }
                    catch (Exception e) when (e is SocketException or IOException)
                    {
                        peer = null;
                    }

                    handler!.Connected(connection.ConnectionId, peer);
                    try
                    {
                        await next(connection).ConfigureAwait(false);
                    }
                    finally
                    {
                        handler.Disconnected(connection.ConnectionId);
                    }
                });
            }

            switch (listener)
            {
                case GrpcListener.UnixSocket unix:
                    PrepareSocketPath(unix.Path);
                    kestrel.ListenUnixSocket(unix.Path, Configure);
                    break;
                case GrpcListener.InheritedHandle inherited:
                    kestrel.ListenHandle(inherited.Handle, Configure);
                    break;
                case GrpcListener.LoopbackTcp tcp:
                    kestrel.Listen(IPAddress.Loopback, tcp.Port, Configure);
                    break;
                default:
                    throw new ArgumentException("unknown listener", nameof(listener));
            }
        });

        var app = builder.Build();
        handler = new GrpcCallHandler(registry, options, audit, app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("offline-signerd.grpc"), stopping.Token);
        app.Run(handler.HandleAsync);
        await app.StartAsync().ConfigureAwait(false);

        var address = listener switch
        {
            GrpcListener.UnixSocket unix => unix.Path,
            GrpcListener.InheritedHandle inherited => inherited.Description,
            _ => app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
                .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()?.Addresses.FirstOrDefault() ?? "tcp",
        };
        if (listener is GrpcListener.UnixSocket socketPath)
        {
            // Owner and group may connect; the directory's mode decides who can reach the socket at all.
            File.SetUnixFileMode(socketPath.Path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);
        }

        var server = new GrpcServer(app, address);
        server._stopping.Token.Register(stopping.Cancel);
        return server;
    }

    /// <summary>Stops accepting, tells running calls the daemon is stopping, and waits for them up to <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        using var timeout = new CancellationTokenSource(grace);
        await _app.StopAsync(timeout.Token).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    private static void PrepareSocketPath(string path)
    {
        var directory = Path.GetDirectoryName(path)!;
        if (!Directory.Exists(directory))
        {
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
        }

        var type = FileTypes.Of(path);
        if (type == FileTypes.Missing)
        {
            return;
        }

        if (type != FileTypes.Socket)
        {
            throw new IOException($"{path} exists and is not a socket; refusing to replace it");
        }

        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                throw new IOException($"another daemon is already listening on {path}");
            }
            catch (SocketException)
            {
                // Nobody listens: a stale socket from an earlier run.
            }
        }

        File.Delete(path);
    }
}
