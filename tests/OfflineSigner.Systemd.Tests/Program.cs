using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using OfflineSigner.Daemon.Systemd;

namespace OfflineSigner.Systemd.Tests;

/// <summary>
/// The test program: the xUnit runner, or, with <see cref="ListenFdsProbe.Argument"/>, a stand-in for the daemon
/// that systemd-socket-activate starts with real LISTEN_* variables and descriptors (see ListenFdsTests).
/// </summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 2 && args[0] == ListenFdsProbe.Argument)
        {
            return ListenFdsProbe.Run(args[1]);
        }

        if (args.Any(a => a is "--server" or "--internal-msbuild-node"))
        {
            return Xunit.MicrosoftTestingPlatform.TestPlatformTestFramework.RunAsync(args, SelfRegisteredExtensions.AddSelfRegisteredExtensions).GetAwaiter().GetResult();
        }

        return Xunit.Runner.InProc.SystemConsole.ConsoleRunner.Run(args).GetAwaiter().GetResult();
    }
}

/// <summary>
/// Takes the sockets systemd-socket-activate passed through <see cref="ListenFds.FromEnvironment"/>, adopts each,
/// accepts one connection on it and answers "adopted fd N", then writes a report: one line per socket
/// ("socket FD NAME PATH cloexec|inherit"), or "error MESSAGE", then the LISTEN_* variables as left behind.
/// </summary>
internal static partial class ListenFdsProbe
{
    public const string Argument = "--listen-fds-probe";

    public static int Run(string reportPath)
    {
        var report = new StringBuilder();
        try
        {
            foreach (var socket in ListenFds.FromEnvironment())
            {
                var cloexec = (fcntl(socket.Fd, 1, 0) & 1) != 0;
                report.Append(CultureInfo.InvariantCulture, $"socket {socket.Fd} {socket.Name} {socket.Path} {(cloexec ? "cloexec" : "inherit")}\n");
                using var listener = socket.Adopt();
                using var connection = listener.Accept();
                connection.Send(Encoding.UTF8.GetBytes($"adopted fd {socket.Fd}"));
            }
        }
        catch (FormatException e)
        {
            report.Append(CultureInfo.InvariantCulture, $"error {e.Message}\n");
        }

        foreach (var name in (string[])["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"])
        {
            report.Append(CultureInfo.InvariantCulture, $"env {name}={Environment.GetEnvironmentVariable(name) ?? "(unset)"}\n");
        }

        File.WriteAllText(reportPath, report.ToString());
        return 0;
    }

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    internal static partial int fcntl(int fd, int command, int argument);
}
