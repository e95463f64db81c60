using System.Net.Sockets;
using System.Text;
using OfflineSigner.Daemon.Systemd;
using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Systemd.Tests;

/// <summary>sd_notify datagrams on a real AF_UNIX datagram socket, and the socket-activation variables.</summary>
public sealed class NotifyTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Notifications_arrive_as_systemd_expects_them(bool abstractName)
    {
        using var dir = TestEnvironment.CreateTempDir("notify");
        var name = abstractName ? "@offline-signer-test-" + Guid.NewGuid().ToString("N") : Path.Combine(dir.Path, "notify.sock");
        using var receiver = Bind(name);
        using var notifier = new SystemdNotifier(name, null);
        Assert.True(notifier.Enabled);

        notifier.Ready("serving 16 methods\non /run/x.sock");
        Assert.Equal($"READY=1\nSTATUS=serving 16 methods on /run/x.sock\nMAINPID={Environment.ProcessId}", Receive(receiver));
        notifier.Status("busy");
        Assert.Equal("STATUS=busy", Receive(receiver));
        notifier.Watchdog();
        Assert.Equal("WATCHDOG=1", Receive(receiver));
        notifier.Stopping("bye");
        Assert.Equal("STOPPING=1\nSTATUS=bye", Receive(receiver));
    }

    [Fact]
    public async Task The_watchdog_is_petted_every_half_interval_only_while_healthy()
    {
        using var dir = TestEnvironment.CreateTempDir("notify");
        var path = Path.Combine(dir.Path, "notify.sock");
        using var receiver = Bind(path);
        using var notifier = new SystemdNotifier(path, TimeSpan.FromMilliseconds(200));
        var healthy = true;
        using var stop = new CancellationTokenSource();
        var loop = notifier.RunWatchdogAsync(() => Volatile.Read(ref healthy), stop.Token);
        await Task.Delay(650, TestContext.Current.CancellationToken);
        Volatile.Write(ref healthy, false);
        var petted = Drain(receiver);
        Assert.InRange(petted.Count(m => m == "WATCHDOG=1"), 4, 9);

        await Task.Delay(400, TestContext.Current.CancellationToken);
        Assert.Empty(Drain(receiver));
        await stop.CancelAsync();
        await loop;
    }

    [Fact]
    public void Without_NOTIFY_SOCKET_nothing_is_sent_and_nothing_fails()
    {
        using var notifier = new SystemdNotifier(null, TimeSpan.FromSeconds(1));
        Assert.False(notifier.Enabled);
        notifier.Ready("x");
        notifier.Stopping("y");
        Assert.True(notifier.RunWatchdogAsync(() => true, CancellationToken.None).IsCompleted);
    }

    [Fact]
    public void A_vanished_notify_socket_is_reported_once_and_does_not_throw()
    {
        using var dir = TestEnvironment.CreateTempDir("notify");
        var errors = new StringWriter();
        using var notifier = new SystemdNotifier(Path.Combine(dir.Path, "gone.sock"), null, errors);
        notifier.Ready("a");
        notifier.Status("b");
        Assert.Single(errors.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("cannot notify systemd", errors.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("30000000", null, 30_000)]
    [InlineData("30000000", "SELF", 30_000)]
    [InlineData("30000000", "1", -1)]
    [InlineData("0", null, -1)]
    [InlineData("soon", null, -1)]
    [InlineData(null, null, -1)]
    public void The_watchdog_interval_is_read_for_this_process_only(string? usec, string? pid, int expectedMs)
    {
        var interval = SystemdNotifier.WatchdogFrom(usec, pid == "SELF" ? Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture) : pid, Environment.ProcessId);
        Assert.Equal(expectedMs < 0 ? null : TimeSpan.FromMilliseconds(expectedMs), interval);
    }

    [Fact]
    public void Socket_activation_variables_are_validated()
    {
        const int Pid = 4321;
        Assert.Empty(ListenFds.Parse(null, null, null, Pid));
        Assert.Empty(ListenFds.Parse("999", "1", null, Pid));
        var one = Assert.Single(ListenFds.Parse("4321", "1", "offline-signerd.socket", Pid));
        Assert.Equal(new InheritedSocket(3, "offline-signerd.socket"), one);
        Assert.Equal([3, 4], ListenFds.Parse("4321", "2", null, Pid).Select(s => s.Fd));
        Assert.Contains("LISTEN_FDS", Assert.Throws<FormatException>(() => ListenFds.Parse("4321", "many", null, Pid)).Message, StringComparison.Ordinal);
        Assert.Contains("LISTEN_PID", Assert.Throws<FormatException>(() => ListenFds.Parse("me", "1", null, Pid)).Message, StringComparison.Ordinal);
        Assert.Contains("LISTEN_FDNAMES", Assert.Throws<FormatException>(() => ListenFds.Parse("4321", "2", "a", Pid)).Message, StringComparison.Ordinal);
    }

    private static Socket Bind(string name)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(name[0] == '@' ? "\0" + name[1..] : name));
        socket.ReceiveTimeout = 5000;
        return socket;
    }

    private static string Receive(Socket socket)
    {
        var buffer = new byte[4096];
        var n = socket.Receive(buffer);
        return Encoding.UTF8.GetString(buffer, 0, n);
    }

    private static List<string> Drain(Socket socket)
    {
        var messages = new List<string>();
        while (socket.Available > 0)
        {
            messages.Add(Receive(socket));
        }

        return messages;
    }
}
