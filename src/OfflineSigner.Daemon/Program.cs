using System.CommandLine;
using OfflineSigner.Daemon.Check;
using OfflineSigner.Daemon.Hosting;

namespace OfflineSigner.Daemon;

internal static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("offline-signerd: the offline signing daemon")
        {
            CheckCommand.Create(),
            ServeCommand.Create(),
        };
        // serve handles SIGTERM and SIGINT itself (STOPPING=1, finish running calls, audit daemon_stopped): the parser
        // must not install its own termination handling, which would end the process with 143 after a timeout.
        return root.Parse(args).Invoke(new InvocationConfiguration { ProcessTerminationTimeout = null });
    }
}
