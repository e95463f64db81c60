using System.CommandLine;
using System.CommandLine.Invocation;
using OfflineSigner.Audit;
using OfflineSigner.Cli.Commands;

namespace OfflineSigner.Cli;

/// <summary>The offline-signer command tree.</summary>
internal static class CliApp
{
    public static int Run(string[] args)
    {
        var root = new RootCommand("offline-signer: prepare, check and publish TUF metadata signed offline.\n"
            + ExitCodes.Help);
        root.Subcommands.Add(VerifyChainCommand.Create());
        root.Subcommands.Add(VerifyCommand.Create());
        root.Subcommands.Add(ShowCommand.Create());
        root.Subcommands.Add(CanonicalJsonCommand.Create());
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(AuditCommand.Create());
        root.Subcommands.Add(DaemonCommand.Create());
        root.Subcommands.Add(BundleCommands.Export());
        root.Subcommands.Add(BundleCommands.Import());
        root.Subcommands.Add(BundleCommands.Status());
        root.Subcommands.Add(SignCommand.Create());
        root.Subcommands.Add(KeysCommand.Create());
        root.Subcommands.Add(CeremonyCommand.Create(InitRootCommand.Create(), CeremonyRunCommand.Create()));
        root.Subcommands.Add(RotateCommand.Create());
        foreach (var version in root.Options.OfType<VersionOption>())
        {
            version.Action = new PrintVersion();
        }

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors)
            {
                Console.Error.WriteLine("error: " + e.Message);
            }

            Console.Error.WriteLine("Run 'offline-signer --help' (or COMMAND --help) for usage.");
            return ExitCodes.BadInput;
        }

        return parse.Invoke();
    }
}

/// <summary><c>--version</c>: version, commit and release manifest digest (<see cref="BuildIdentity"/>).</summary>
internal sealed class PrintVersion : SynchronousCommandLineAction
{
    public override int Invoke(ParseResult parseResult)
    {
        Console.Out.Write(BuildIdentity.Current("offline-signer", typeof(CliApp).Assembly).VersionText());
        return 0;
    }
}
