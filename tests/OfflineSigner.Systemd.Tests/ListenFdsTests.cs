using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using OfflineSigner.Daemon.Systemd;
using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Systemd.Tests;

/// <summary>Socket activation: the LISTEN_* variables, and the descriptors they name checked and adopted.</summary>
public sealed partial class ListenFdsTests
{
    private const int Pid = 4321;

    [Fact]
    public void The_variables_are_parsed_for_this_process_only()
    {
        Assert.Empty(ListenFds.Parse(null, null, null, Pid));
        Assert.Empty(ListenFds.Parse("4321", null, null, Pid));
        Assert.Empty(ListenFds.Parse(null, "1", null, Pid));
        Assert.Empty(ListenFds.Parse("999", "1", "a", Pid));
        Assert.Empty(ListenFds.Parse("4321", "0", null, Pid));
        Assert.Equal([new InheritedSocket(3, "offline-signerd.socket")], ListenFds.Parse("4321", "1", "offline-signerd.socket", Pid));
        Assert.Equal([new InheritedSocket(3, "unknown"), new InheritedSocket(4, "unknown")], ListenFds.Parse("4321", "2", null, Pid));
        Assert.Equal([new InheritedSocket(3, "a"), new InheritedSocket(4, "unknown"), new InheritedSocket(5, "c")], ListenFds.Parse("4321", "3", "a::c", Pid));
    }

    [Theory]
    [InlineData("me", "1", null, "LISTEN_PID 'me'")]
    [InlineData("0", "1", null, "LISTEN_PID '0'")]
    [InlineData("-4321", "1", null, "LISTEN_PID '-4321'")]
    [InlineData("4321", "many", null, "LISTEN_FDS 'many'")]
    [InlineData("4321", "-1", null, "LISTEN_FDS '-1'")]
    [InlineData("4321", "65", null, "LISTEN_FDS '65'")]
    [InlineData("4321", "99999999999", null, "LISTEN_FDS '99999999999'")]
    [InlineData("4321", "2", "a", "LISTEN_FDNAMES 'a' names 1 socket(s) but LISTEN_FDS is 2")]
    [InlineData("4321", "1", "a:b", "LISTEN_FDNAMES 'a:b' names 2 socket(s) but LISTEN_FDS is 1")]
    public void Malformed_variables_are_named(string pid, string fds, string? names, string expected)
    {
        var e = Assert.Throws<FormatException>(() => ListenFds.Parse(pid, fds, names, Pid));
        Assert.StartsWith(expected, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_listening_unix_stream_socket_is_accepted_marked_close_on_exec_and_adopted(bool abstractName)
    {
        using var dir = TestEnvironment.CreateTempDir("listen");
        var name = abstractName ? "@offline-signer-test-" + Guid.NewGuid().ToString("N") : Path.Combine(dir.Path, "signerd.sock");
        var endpoint = new UnixDomainSocketEndPoint(abstractName ? "\0" + name[1..] : name);
        using var original = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        original.Bind(endpoint);
        original.Listen();

        // As systemd passes it: a descriptor without FD_CLOEXEC.
        var fd = dup(Fd(original));
        Assert.True(fd > 2, "dup failed");
        Assert.Equal(0, fcntl(fd, FGetFd, 0) & FdCloexec);

        var checkedSocket = ListenFds.Check(new InheritedSocket(fd, "offline-signerd.socket"));
        Assert.Equal(new InheritedSocket(fd, "offline-signerd.socket") { Path = name }, checkedSocket);
        Assert.Equal(FdCloexec, fcntl(fd, FGetFd, 0) & FdCloexec);

        using (var adopted = checkedSocket.Adopt())
        {
            Assert.Equal(AddressFamily.Unix, adopted.AddressFamily);
            Assert.Equal(SocketType.Stream, adopted.SocketType);
            using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            client.Connect(endpoint);
            using var served = adopted.Accept();
            served.Send("through the adopted socket"u8);
            Assert.Equal("through the adopted socket", Receive(client));
        }

        // Disposing the adopted socket closed its descriptor but did not shut the listening socket down.
        using var again = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        again.Connect(endpoint);
    }

    [Fact]
    public void Descriptors_that_are_not_listening_unix_stream_sockets_are_refused()
    {
        using var dir = TestEnvironment.CreateTempDir("listen");
        using var bound = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        bound.Bind(new UnixDomainSocketEndPoint(Path.Combine(dir.Path, "bound.sock")));
        AssertRefused(Fd(bound), "is a stream socket that is not listening");

        using var datagram = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        datagram.Bind(new UnixDomainSocketEndPoint(Path.Combine(dir.Path, "dgram.sock")));
        AssertRefused(Fd(datagram), "is a datagram socket, not a stream socket");

        using var seqpacket = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
        seqpacket.Bind(new UnixDomainSocketEndPoint(Path.Combine(dir.Path, "seqpacket.sock")));
        seqpacket.Listen();
        AssertRefused(Fd(seqpacket), "is a seqpacket socket, not a stream socket");

        using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        tcp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        tcp.Listen();
        AssertRefused(Fd(tcp), "is a socket of address family 2, not AF_UNIX");

        using var file = File.OpenHandle(Path.Combine(dir.Path, "file"), FileMode.CreateNew, FileAccess.ReadWrite);
        AssertRefused((int)file.DangerousGetHandle(), "is not a socket");

        AssertRefused(1_000_000, "is not an open descriptor");
    }

    [Fact]
    public async Task A_socket_passed_by_systemd_socket_activate_is_taken_adopted_and_the_variables_unset()
    {
        using var dir = TestEnvironment.CreateTempDir("listen");
        var first = Path.Combine(dir.Path, "first.sock");
        var second = Path.Combine(dir.Path, "second.sock");
        var report = await RunProbeAsync(dir.Path, ["-l", first, "-l", second, "--fdname=signer:other"], async () =>
        {
            using var a = await ConnectAsync(first);
            using var b = await ConnectAsync(second);
            Assert.Equal("adopted fd 3", Receive(a));
            Assert.Equal("adopted fd 4", Receive(b));
        });

        Assert.Equal(
            [
                $"socket 3 signer {first} cloexec",
                $"socket 4 other {second} cloexec",
                "env LISTEN_PID=(unset)",
                "env LISTEN_FDS=(unset)",
                "env LISTEN_FDNAMES=(unset)",
            ],
            report);
    }

    [Fact]
    public async Task A_datagram_socket_passed_by_systemd_socket_activate_is_refused_naming_LISTEN_FDS()
    {
        using var dir = TestEnvironment.CreateTempDir("listen");
        var path = Path.Combine(dir.Path, "dgram.sock");
        var report = await RunProbeAsync(dir.Path, ["--datagram", "-l", path, "--fdname=signer"], () =>
        {
            using var client = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            client.SendTo("wake up"u8.ToArray(), new UnixDomainSocketEndPoint(path));
            return Task.CompletedTask;
        });

        Assert.Equal(4, report.Count);
        Assert.StartsWith("error LISTEN_FDS: fd 3 (signer) is a datagram socket, not a stream socket", report[0], StringComparison.Ordinal);
        Assert.Equal(["env LISTEN_PID=(unset)", "env LISTEN_FDS=(unset)", "env LISTEN_FDNAMES=(unset)"], report[1..]);
    }

    /// <summary>
    /// Starts this test program's probe (Program.cs) under systemd-socket-activate, which execs it on the first
    /// connection attempt with the listening descriptors at 3, 4, ... and LISTEN_PID set to the probe's own pid.
    /// </summary>
    private static async Task<List<string>> RunProbeAsync(string dir, string[] activateArguments, Func<Task> talk)
    {
        var activate = TestEnvironment.RequireTool("systemd-socket-activate", "Debian package systemd");
        var reportPath = Path.Combine(dir, "report.txt");
        var dotnet = TestEnvironment.DotnetHost;
        var psi = new ProcessStartInfo(activate) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in activateArguments.Concat([dotnet, "exec", Path.Combine(AppContext.BaseDirectory, "OfflineSigner.Systemd.Tests.dll"), ListenFdsProbe.Argument, reportPath]))
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
            var sockets = activateArguments.Zip(activateArguments.Skip(1)).Where(p => p.First == "-l").Select(p => p.Second).ToList();
            for (var i = 0; i < 200 && !sockets.All(File.Exists); i++)
            {
                await Task.Delay(50, TestContext.Current.CancellationToken);
            }

            Assert.True(sockets.All(File.Exists), "systemd-socket-activate did not listen:\n" + output);
            await talk();
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken))
            {
                timeout.CancelAfter(TimeSpan.FromSeconds(60));
                await activator.WaitForExitAsync(timeout.Token);
            }

            activator.WaitForExit();
            Assert.True(activator.ExitCode == 0, $"the probe failed (exit {activator.ExitCode}):\n{output}");
            return [.. File.ReadAllLines(reportPath)];
        }
        finally
        {
            if (!activator.HasExited)
            {
                activator.Kill(entireProcessTree: true);
            }
        }
    }

    private static async Task<Socket> ConnectAsync(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 60_000 };
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), TestContext.Current.CancellationToken);
        return socket;
    }

    private static void AssertRefused(int fd, string reason)
    {
        var e = Assert.Throws<FormatException>(() => ListenFds.Check(new InheritedSocket(fd, "offline-signerd.socket")));
        Assert.StartsWith($"LISTEN_FDS: fd {fd} (offline-signerd.socket) {reason}", e.Message, StringComparison.Ordinal);
    }

    private static int Fd(Socket socket) => (int)socket.SafeHandle.DangerousGetHandle();

    private static string Receive(Socket socket)
    {
        socket.ReceiveTimeout = 60_000;
        var buffer = new byte[256];
        var n = socket.Receive(buffer);
        return Encoding.UTF8.GetString(buffer, 0, n);
    }

    private const int FGetFd = 1;
    private const int FdCloexec = 1;

    [LibraryImport("libc", EntryPoint = "dup", SetLastError = true)]
    private static partial int dup(int fd);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int fcntl(int fd, int command, int argument);
}

/// <summary><see cref="ListenFds.FromEnvironment"/> in this process: variables for another process, or malformed.</summary>
[Collection(nameof(ProcessEnvironment))]
public sealed class ListenFdsEnvironmentTests
{
    [Fact]
    public void Variables_for_another_process_are_ignored_and_unset()
    {
        Set((Environment.ProcessId + 1).ToString(CultureInfo.InvariantCulture), "1", "offline-signerd.socket");
        Assert.Empty(ListenFds.FromEnvironment());
        AssertUnset();
    }

    [Fact]
    public void Malformed_variables_throw_and_are_unset_all_the_same()
    {
        Set(Environment.ProcessId.ToString(CultureInfo.InvariantCulture), "two", null);
        Assert.Contains("LISTEN_FDS 'two'", Assert.Throws<FormatException>(ListenFds.FromEnvironment).Message, StringComparison.Ordinal);
        AssertUnset();
    }

    private static void Set(string pid, string fds, string? names)
    {
        Environment.SetEnvironmentVariable("LISTEN_PID", pid);
        Environment.SetEnvironmentVariable("LISTEN_FDS", fds);
        Environment.SetEnvironmentVariable("LISTEN_FDNAMES", names);
    }

    private static void AssertUnset()
    {
        Assert.Null(Environment.GetEnvironmentVariable("LISTEN_PID"));
        Assert.Null(Environment.GetEnvironmentVariable("LISTEN_FDS"));
        Assert.Null(Environment.GetEnvironmentVariable("LISTEN_FDNAMES"));
    }
}
