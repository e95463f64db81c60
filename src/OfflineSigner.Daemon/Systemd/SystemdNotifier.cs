using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace OfflineSigner.Daemon.Systemd;

/// <summary>
/// The sd_notify protocol, by hand: datagrams such as <c>READY=1</c>, <c>STATUS=…</c>, <c>STOPPING=1</c> and
/// <c>WATCHDOG=1</c> sent to the AF_UNIX datagram socket named by $NOTIFY_SOCKET (a path, or an abstract name
/// starting with '@'). Without $NOTIFY_SOCKET every call does nothing. A failed send never stops the daemon.
/// </summary>
internal sealed class SystemdNotifier : IDisposable
{
    private readonly Socket? _socket;
    private readonly UnixDomainSocketEndPoint? _endpoint;
    private readonly TextWriter _error;
    private bool _reportedFailure;

    public SystemdNotifier(string? notifySocket, TimeSpan? watchdogInterval, TextWriter? error = null)
    {
        _error = error ?? Console.Error;
        WatchdogInterval = watchdogInterval;
        if (string.IsNullOrEmpty(notifySocket))
        {
            return;
        }

        if (notifySocket[0] is not ('/' or '@'))
        {
            _error.WriteLine($"<4>NOTIFY_SOCKET '{notifySocket}' is neither an absolute path nor an abstract socket; not notifying systemd");
            return;
        }

        // Abstract socket names start with a NUL byte on the wire; systemd writes it as '@'.
        _endpoint = new UnixDomainSocketEndPoint(notifySocket[0] == '@' ? "\0" + notifySocket[1..] : notifySocket);
        _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    }

    /// <summary>Whether systemd asked for notifications.</summary>
    public bool Enabled => _socket is not null;

    /// <summary>How often systemd expects WATCHDOG=1 (WatchdogSec=), or null.</summary>
    public TimeSpan? WatchdogInterval { get; }

    /// <summary>From this process's environment; unsets the variables so that children do not inherit them.</summary>
    public static SystemdNotifier FromEnvironment(TextWriter? error = null)
    {
        var socket = Environment.GetEnvironmentVariable("NOTIFY_SOCKET");
        var watchdog = WatchdogFrom(Environment.GetEnvironmentVariable("WATCHDOG_USEC"), Environment.GetEnvironmentVariable("WATCHDOG_PID"), Environment.ProcessId);
        Environment.SetEnvironmentVariable("NOTIFY_SOCKET", null);
        Environment.SetEnvironmentVariable("WATCHDOG_USEC", null);
        Environment.SetEnvironmentVariable("WATCHDOG_PID", null);
        return new SystemdNotifier(socket, watchdog, error);
    }

    /// <summary>The watchdog interval when WATCHDOG_USEC is set for this process (WATCHDOG_PID absent or ours).</summary>
    public static TimeSpan? WatchdogFrom(string? usec, string? pid, int ourPid)
    {
        if (string.IsNullOrEmpty(usec) || !ulong.TryParse(usec, NumberStyles.None, CultureInfo.InvariantCulture, out var micros) || micros == 0)
        {
            return null;
        }

        if (!string.IsNullOrEmpty(pid) && (!int.TryParse(pid, NumberStyles.None, CultureInfo.InvariantCulture, out var target) || target != ourPid))
        {
            return null;
        }

        return TimeSpan.FromMicroseconds(micros);
    }

    public void Ready(string status) => Send($"READY=1\nSTATUS={OneLine(status)}\nMAINPID={Environment.ProcessId}");

    public void Status(string status) => Send("STATUS=" + OneLine(status));

    public void Stopping(string status) => Send($"STOPPING=1\nSTATUS={OneLine(status)}");

    public void Watchdog() => Send("WATCHDOG=1");

    /// <summary>
    /// Sends WATCHDOG=1 every half interval while <paramref name="healthy"/> holds, until cancelled. An unhealthy
    /// daemon stops petting the watchdog, and systemd restarts it.
    /// </summary>
    public async Task RunWatchdogAsync(Func<bool> healthy, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(healthy);
        if (!Enabled || WatchdogInterval is not { } interval)
        {
            return;
        }

        using var timer = new PeriodicTimer(interval / 2);
        try
        {
            do
            {
                if (healthy())
                {
                    Watchdog();
                }
            }
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    /// <summary>Sends one notification datagram (no-op when not enabled).</summary>
    public void Send(string message)
    {
        if (_socket is null)
        {
            return;
        }

        try
        {
            _socket.SendTo(Encoding.UTF8.GetBytes(message), SocketFlags.None, _endpoint!);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            if (!_reportedFailure)
            {
                _reportedFailure = true;
                _error.WriteLine($"<4>cannot notify systemd: {e.Message}");
            }
        }
    }

    public void Dispose() => _socket?.Dispose();

    private static string OneLine(string text) => text.ReplaceLineEndings(" ");
}
