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
        return root.Parse(args).Invoke();
    }
}
