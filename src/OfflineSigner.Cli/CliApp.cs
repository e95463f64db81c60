namespace OfflineSigner.Cli;

/// <summary>The offline-signer command tree.</summary>
internal static class CliApp
{
    public static int Run(string[] args)
    {
        _ = args;
        return 0;
    }
}
