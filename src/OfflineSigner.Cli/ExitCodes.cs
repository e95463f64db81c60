namespace OfflineSigner.Cli;

/// <summary>The exit codes of offline-signer (documented in README.md).</summary>
internal static class ExitCodes
{
    /// <summary>Everything checked out.</summary>
    public const int Ok = 0;

    /// <summary>Verification failed: a signature threshold, a version, an expiry, a hash.</summary>
    public const int VerificationFailed = 1;

    /// <summary>The input could not be used: unreadable file, malformed metadata, bad arguments.</summary>
    public const int BadInput = 2;
}
