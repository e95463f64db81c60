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
    private int _reportedFailure;
    private int _reportedProbeFailure;

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

        try
        {
            // Abstract socket names start with a NUL byte on the wire; systemd writes it as '@'.
            _endpoint = new UnixDomainSocketEndPoint(notifySocket[0] == '@' ? "\0" + notifySocket[1..] : notifySocket);
            _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        }
        catch (Exception e) when (e is SocketException or ArgumentException)
        {
            _endpoint = null;
            _error.WriteLine($"<4>cannot notify systemd at NOTIFY_SOCKET '{notifySocket}': {e.Message}");
        }
    }

    /// <summary>Whether systemd asked for notifications.</summary>
    public bool Enabled => _socket is not null;

    /// <summary>How often systemd expects WATCHDOG=1 (WatchdogSec=), or null.</summary>
    public TimeSpan? WatchdogInterval { get; }

    /// <summary>How often <see cref="RunWatchdogAsync"/> sends WATCHDOG=1: half the interval, at least 1 ms, at most a day.</summary>
    public TimeSpan? WatchdogPeriod => WatchdogInterval is { } interval
        ? TimeSpan.FromTicks(Math.Clamp(interval.Ticks / 2, TimeSpan.TicksPerMillisecond, TimeSpan.TicksPerDay))
        : null;

    /// <summary>From this process's environment; unsets the variables so that children do not inherit them.</summary>
    public static SystemdNotifier FromEnvironment(TextWriter? error = null)
    {
        error ??= Console.Error;
        var socket = Environment.GetEnvironmentVariable("NOTIFY_SOCKET");
        var usec = Environment.GetEnvironmentVariable("WATCHDOG_USEC");
        var pid = Environment.GetEnvironmentVariable("WATCHDOG_PID");
        var watchdog = WatchdogFrom(usec, pid, Environment.ProcessId);
        if (watchdog is null && !string.IsNullOrEmpty(usec) && !string.IsNullOrEmpty(socket)
            && (string.IsNullOrEmpty(pid) || pid == Environment.ProcessId.ToString(CultureInfo.InvariantCulture)))
        {
            error.WriteLine($"<4>WATCHDOG_USEC '{usec}' is not a positive number of microseconds; not sending WATCHDOG=1");
        }

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

        return micros >= (ulong)(TimeSpan.MaxValue.Ticks / TimeSpan.TicksPerMicrosecond)
            ? TimeSpan.MaxValue
            : TimeSpan.FromTicks((long)micros * TimeSpan.TicksPerMicrosecond);
    }

    /// <summary>READY=1 with MAINPID= (this process) and, when given, STATUS=.</summary>
    public void Ready(string? status = null) =>
        Send(status is null ? $"READY=1\nMAINPID={Environment.ProcessId}" : $"READY=1\nSTATUS={OneLine(status)}\nMAINPID={Environment.ProcessId}");

    public void Status(string status) => Send("STATUS=" + OneLine(status));

    public void Stopping(string status) => Send($"STOPPING=1\nSTATUS={OneLine(status)}");

    public void Watchdog() => Send("WATCHDOG=1");

    /// <summary>
    /// Sends WATCHDOG=1 at once and then every <see cref="WatchdogPeriod"/> while <paramref name="healthy"/> holds,
    /// until cancelled; returns at once when systemd asked for no watchdog. An unhealthy daemon (a probe that
    /// returns false or throws) stops petting the watchdog, and systemd restarts it. Never throws.
    /// </summary>
    public async Task RunWatchdogAsync(Func<bool> healthy, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(healthy);
        if (!Enabled || WatchdogPeriod is not { } period)
        {
            return;
        }

        using var timer = new PeriodicTimer(period);
        try
        {
            do
            {
                if (Probe(healthy))
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
            ReportOnce(ref _reportedFailure, $"<4>cannot notify systemd: {e.Message}");
        }
    }

    public void Dispose() => _socket?.Dispose();

    /// <summary>STATUS= text on one line, without control characters, and short enough for one datagram.</summary>
    private static string OneLine(string text)
    {
        const int MaxLength = 1024;
        var chars = text.ReplaceLineEndings(" ").Select(c => char.IsControl(c) ? ' ' : c).Take(MaxLength + 1).ToArray();
        return chars.Length > MaxLength ? new string(chars, 0, MaxLength - 3) + "..." : new string(chars);
    }

    private bool Probe(Func<bool> healthy)
    {
        try
        {
            return healthy();
        }
#pragma warning disable CA1031 // A failing probe means unhealthy: systemd's watchdog then restarts the daemon.
        catch (Exception e)
#pragma warning restore CA1031
        {
            ReportOnce(ref _reportedProbeFailure, $"<3>health probe failed, not petting the watchdog: {e.GetType().Name}: {e.Message}");
            return false;
        }
    }

    private void ReportOnce(ref int reported, string message)
    {
        if (Interlocked.Exchange(ref reported, 1) == 0)
        {
            try
            {
                _error.WriteLine(message);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                // stderr is gone too; nothing else to tell.
            }
        }
    }
}
