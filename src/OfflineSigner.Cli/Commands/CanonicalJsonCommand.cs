using System.CommandLine;
using OfflineSigner.Tuf.Json;

namespace OfflineSigner.Cli.Commands;

/// <summary><c>offline-signer canonical-json FILE</c>: the canonical form, byte-exact with securesystemslib.</summary>
internal static class CanonicalJsonCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "A JSON document ('-' for standard input)" };
        var cmd = new Command("canonical-json", "Write the canonical JSON form of a document to standard output (as securesystemslib's encode_canonical writes it).")
        {
            file,
        };
        cmd.SetAction(p => CommandSupport.Guard(() => Run(p.GetValue(file)!)));
        return cmd;
    }

    private static int Run(string file)
    {
        byte[] input;
        if (file == "-")
        {
            using var stdin = Console.OpenStandardInput();
            using var ms = new MemoryStream();
            stdin.CopyTo(ms);
            input = ms.ToArray();
        }
        else
        {
            input = CommandSupport.ReadFile(file);
        }

        var bytes = CanonicalJson.Canonicalize(input);
        using var stdout = Console.OpenStandardOutput();
        stdout.Write(bytes);
        return ExitCodes.Ok;
    }
}
