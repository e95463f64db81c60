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

    /// <summary>The daemon or the notary server could not be reached, or refused the call.</summary>
    public const int Unavailable = 3;

    /// <summary>The operator declined (the confirmation was not given).</summary>
    public const int Declined = 4;

    /// <summary>The text every command's help ends with.</summary>
    public const string Help = "Exit codes: 0 success, 1 verification failed or refused (threshold, version, expiry, hash, tampered bundle), "
        + "2 bad input or usage, 3 daemon or notary server unreachable or refusing, 4 declined by the operator.";
}
