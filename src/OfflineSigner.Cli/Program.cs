namespace OfflineSigner.Cli;

internal static class Program
{
    public static int Main(string[] args)
    {
        // One command may check the same signature more than once (import: when counting, then in the staged
        // repository); each valid one is checked once per process.
        Tuf.Crypto.VerifiedSignatures.Enable();
        return CliApp.Run(args);
    }
}
