using System.CommandLine;
using System.CommandLine.Invocation;
using OfflineSigner.Audit;
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
        foreach (var version in root.Options.OfType<VersionOption>())
        {
            version.Action = new PrintVersion();
        }

        // serve handles SIGTERM and SIGINT itself (STOPPING=1, finish running calls, audit daemon_stopped): the parser
        // must not install its own termination handling, which would end the process with 143 after a timeout.
        return root.Parse(args).Invoke(new InvocationConfiguration { ProcessTerminationTimeout = null });
    }
}

/// <summary><c>--version</c>: version, commit and release manifest digest (<see cref="BuildIdentity"/>).</summary>
internal sealed class PrintVersion : SynchronousCommandLineAction
{
    public override int Invoke(ParseResult parseResult)
    {
        Console.Out.Write(BuildIdentity.Current("offline-signerd", typeof(Program).Assembly).VersionText());
        return 0;
    }
}
