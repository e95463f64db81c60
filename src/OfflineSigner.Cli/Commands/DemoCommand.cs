using System.CommandLine;

namespace OfflineSigner.Cli.Commands;

/// <summary><c>offline-signer demo</c>: the README's main job.</summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var outDir = new Option<string?>("--out") { Description = "Where to build the demo repositories (default: a new temporary folder)" };
        var cmd = new Command("demo", "Build a small repository in each dialect with throwaway software keys, rotate its root, verify everything and print the summaries.")
        {
            outDir,
        };
        cmd.SetAction(p => CommandSupport.Guard(() => Demo.Run(p.GetValue(outDir))));
        return cmd;
    }
}
