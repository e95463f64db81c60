using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using OfflineSigner.Daemon.Systemd;
using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Systemd.Tests;

/// <summary>sd_notify datagrams as a real AF_UNIX datagram socket receives them, path and abstract.</summary>
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

        notifier.Status("opening the audit log");
        notifier.Ready("serving 16 methods\non /run/x.sock");
        notifier.Ready();
        notifier.Status("busy\r\n\tnow\0");
        notifier.Watchdog();
        notifier.Stopping("bye");
        notifier.Status(new string('x', 5000));

        Assert.Equal(
            [
                "STATUS=opening the audit log",
                $"READY=1\nSTATUS=serving 16 methods on /run/x.sock\nMAINPID={Environment.ProcessId}",
                $"READY=1\nMAINPID={Environment.ProcessId}",
                "STATUS=busy  now ",
                "WATCHDOG=1",
                "STOPPING=1\nSTATUS=bye",
                "STATUS=" + new string('x', 1021) + "...",
            ],
            ReceiveAll(receiver, 7));
        Assert.Empty(Drain(receiver, TimeSpan.FromMilliseconds(100)));
    }

    [Fact]
    public async Task A_throwing_health_probe_counts_as_unhealthy_and_is_reported_once()
    {
        using var dir = TestEnvironment.CreateTempDir("notify");
        var path = Path.Combine(dir.Path, "notify.sock");
        using var receiver = Bind(path);
        var errors = new StringWriter();
        using var notifier = new SystemdNotifier(path, TimeSpan.FromMilliseconds(40), errors);
        using var stop = new CancellationTokenSource();
        var loop = notifier.RunWatchdogAsync(() => throw new InvalidOperationException("token gone"), stop.Token);
        Assert.Empty(Drain(receiver, TimeSpan.FromMilliseconds(300)));
        await stop.CancelAsync();
        await loop.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        var line = Assert.Single(errors.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("token gone", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_NOTIFY_SOCKET_nothing_is_sent_and_nothing_fails()
    {
        var errors = new StringWriter();
        using var notifier = new SystemdNotifier(null, TimeSpan.FromSeconds(1), errors);
        Assert.False(notifier.Enabled);
        notifier.Status("x");
        notifier.Ready("x");
        notifier.Watchdog();
        notifier.Stopping("y");
        var probed = false;
        await notifier.RunWatchdogAsync(() => probed = true, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(1), TestContext.Current.CancellationToken);
        Assert.False(probed);
        Assert.Empty(errors.ToString());
    }

    [Fact]
    public void Without_a_watchdog_the_loop_ends_at_once()
    {
        using var dir = TestEnvironment.CreateTempDir("notify");
        var path = Path.Combine(dir.Path, "notify.sock");
        using var receiver = Bind(path);
        using var notifier = new SystemdNotifier(path, null);
        Assert.True(notifier.RunWatchdogAsync(() => true, CancellationToken.None).IsCompletedSuccessfully);
        Assert.Empty(Drain(receiver, TimeSpan.FromMilliseconds(100)));
    }

    [Fact]
    public void A_vanished_notify_socket_is_reported_once_and_does_not_throw()
    {
        using var dir = TestEnvironment.CreateTempDir("notify");
        var errors = new StringWriter();
        using var notifier = new SystemdNotifier(Path.Combine(dir.Path, "gone.sock"), null, errors);
        notifier.Ready("a");
        notifier.Status("b");
        notifier.Watchdog();
        var line = Assert.Single(errors.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("cannot notify systemd", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("relative/notify.sock")]
    [InlineData("vsock:2:1234")]
    public void A_notify_socket_that_is_not_a_unix_address_disables_notifications(string value)
    {
        var errors = new StringWriter();
        using var notifier = new SystemdNotifier(value, null, errors);
        Assert.False(notifier.Enabled);
        notifier.Ready("x");
        Assert.Contains("NOTIFY_SOCKET", errors.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("30000000", null, 30_000_000L, 15_000_000L)]
    [InlineData("30000000", "SELF", 30_000_000L, 15_000_000L)]
    [InlineData("1", null, 1L, 1_000L)]
    [InlineData("18446744073709551615", null, -2L, 86_400_000_000L)]
    [InlineData("30000000", "1", -1L, 0L)]
    [InlineData("30000000", "pid", -1L, 0L)]
    [InlineData("0", null, -1L, 0L)]
    [InlineData("-5", null, -1L, 0L)]
    [InlineData("soon", null, -1L, 0L)]
    [InlineData(null, null, -1L, 0L)]
    public void The_watchdog_interval_is_read_for_this_process_only(string? usec, string? pid, long expectedMicros, long periodMicros)
    {
        var ours = Environment.ProcessId;
        var interval = SystemdNotifier.WatchdogFrom(usec, pid == "SELF" ? ours.ToString(CultureInfo.InvariantCulture) : pid, ours);
        switch (expectedMicros)
        {
            case -1:
                Assert.Null(interval);
                break;
            case -2:
                Assert.Equal(TimeSpan.MaxValue, interval);
                break;
            default:
                Assert.Equal(TimeSpan.FromMicroseconds(expectedMicros), interval);
                break;
        }

        using var notifier = new SystemdNotifier(null, interval);
        Assert.Equal(interval is null ? null : TimeSpan.FromMicroseconds(periodMicros), notifier.WatchdogPeriod);
    }

    internal static Socket Bind(string name)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(name[0] == '@' ? "\0" + name[1..] : name));
        return socket;
    }

    internal static List<string> ReceiveAll(Socket socket, int count)
    {
        var messages = Drain(socket, TimeSpan.FromSeconds(5), stopAfter: count).Select(m => m.Text).ToList();
        Assert.True(messages.Count == count, $"expected {count} datagrams, got {messages.Count}: {string.Join(" | ", messages)}");
        return messages;
    }

    /// <summary>Every datagram that arrives within <paramref name="window"/>, with the time it arrived.</summary>
    internal static List<(string Text, TimeSpan At)> Drain(Socket socket, TimeSpan window, Stopwatch? clock = null, int stopAfter = int.MaxValue)
    {
        clock ??= Stopwatch.StartNew();
        var until = clock.Elapsed + window;
        var messages = new List<(string, TimeSpan)>();
        var buffer = new byte[8192];
        while (messages.Count < stopAfter)
        {
            var left = until - clock.Elapsed;
            if (left <= TimeSpan.Zero || !socket.Poll(left, SelectMode.SelectRead))
            {
                break;
            }

            var n = socket.Receive(buffer);
            messages.Add((Encoding.UTF8.GetString(buffer, 0, n), clock.Elapsed));
        }

        return messages;
    }
}

/// <summary>Tests that set and read this process's environment, one at a time.</summary>
[CollectionDefinition(nameof(ProcessEnvironment), DisableParallelization = true)]
public sealed class ProcessEnvironment;

/// <summary><see cref="SystemdNotifier.FromEnvironment"/> reads NOTIFY_SOCKET and the watchdog variables, then unsets them.</summary>
[Collection(nameof(ProcessEnvironment))]
public sealed class NotifyEnvironmentTests
{
    [Fact]
    public void The_variables_are_read_and_unset()
    {
        using var dir = TestEnvironment.CreateTempDir("notify");
        var path = Path.Combine(dir.Path, "notify.sock");
        using var receiver = NotifyTests.Bind(path);
        Environment.SetEnvironmentVariable("NOTIFY_SOCKET", path);
        Environment.SetEnvironmentVariable("WATCHDOG_USEC", "5000000");
        Environment.SetEnvironmentVariable("WATCHDOG_PID", Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        using var notifier = SystemdNotifier.FromEnvironment(new StringWriter());
        Assert.Null(Environment.GetEnvironmentVariable("NOTIFY_SOCKET"));
        Assert.Null(Environment.GetEnvironmentVariable("WATCHDOG_USEC"));
        Assert.Null(Environment.GetEnvironmentVariable("WATCHDOG_PID"));
        Assert.True(notifier.Enabled);
        Assert.Equal(TimeSpan.FromSeconds(5), notifier.WatchdogInterval);
        notifier.Stopping("bye");
        Assert.Equal(["STOPPING=1\nSTATUS=bye"], NotifyTests.ReceiveAll(receiver, 1));
    }

    [Fact]
    public void Unset_variables_give_a_silent_notifier_and_a_bad_watchdog_value_is_reported()
    {
        Environment.SetEnvironmentVariable("NOTIFY_SOCKET", null);
        Environment.SetEnvironmentVariable("WATCHDOG_USEC", "3000000");
        var errors = new StringWriter();
        using (var silent = SystemdNotifier.FromEnvironment(errors))
        {
            Assert.False(silent.Enabled);
            Assert.Empty(errors.ToString());
        }

        Environment.SetEnvironmentVariable("NOTIFY_SOCKET", "@offline-signer-test-" + Guid.NewGuid().ToString("N"));
        Environment.SetEnvironmentVariable("WATCHDOG_USEC", "thirty seconds");
        using var notifier = SystemdNotifier.FromEnvironment(errors);
        Assert.Null(notifier.WatchdogInterval);
        Assert.Contains("WATCHDOG_USEC 'thirty seconds'", errors.ToString(), StringComparison.Ordinal);
        Assert.Null(Environment.GetEnvironmentVariable("WATCHDOG_USEC"));
    }
}

/// <summary>Tests that measure time, run alone so that other tests' load does not distort them.</summary>
[CollectionDefinition(nameof(Timing), DisableParallelization = true)]
public sealed class Timing;

/// <summary>The watchdog loop's cadence, measured on a real notify socket.</summary>
[Collection(nameof(Timing))]
public sealed class WatchdogCadenceTests
{
    [Fact]
    public async Task The_watchdog_is_petted_every_half_interval_only_while_healthy()
    {
        using var dir = TestEnvironment.CreateTempDir("notify");
        var path = Path.Combine(dir.Path, "notify.sock");
        using var receiver = NotifyTests.Bind(path);
        var interval = SystemdNotifier.WatchdogFrom("200000", null, Environment.ProcessId);
        using var notifier = new SystemdNotifier(path, interval);
        Assert.Equal(TimeSpan.FromMilliseconds(100), notifier.WatchdogPeriod);
        var healthy = 1;
        using var stop = new CancellationTokenSource();

        var clock = Stopwatch.StartNew();
        var loop = notifier.RunWatchdogAsync(() => Volatile.Read(ref healthy) == 1, stop.Token);
        var first = NotifyTests.Drain(receiver, TimeSpan.FromMilliseconds(1050), clock);

        // WATCHDOG_USEC=200000: one at once, then one every 100 ms; nothing else.
        Assert.All(first, m => Assert.Equal("WATCHDOG=1", m.Text));
        Assert.InRange(first.Count, 7, 12);
        Assert.InRange(first[0].At.TotalMilliseconds, 0, 150);
        var gaps = first.Zip(first.Skip(1), (a, b) => (b.At - a.At).TotalMilliseconds).Order().ToList();
        Assert.InRange(gaps[gaps.Count / 2], 70, 140);

        // Unhealthy: systemd hears nothing and will restart the daemon after 200 ms.
        Volatile.Write(ref healthy, 0);
        NotifyTests.Drain(receiver, TimeSpan.FromMilliseconds(150));
        Assert.Empty(NotifyTests.Drain(receiver, TimeSpan.FromMilliseconds(400)));

        // Healthy again: the petting resumes; cancelled: the loop ends without throwing, and nothing follows.
        Volatile.Write(ref healthy, 1);
        Assert.Contains(NotifyTests.Drain(receiver, TimeSpan.FromMilliseconds(600)), m => m.Text == "WATCHDOG=1");
        await stop.CancelAsync();
        await loop.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        NotifyTests.Drain(receiver, TimeSpan.FromMilliseconds(50));
        Assert.Empty(NotifyTests.Drain(receiver, TimeSpan.FromMilliseconds(300)));
    }
}
