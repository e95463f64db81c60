namespace OfflineSigner.Tuf;

/// <summary>Whether a role's threshold of signatures is met, and by whom (python-tuf's <c>VerificationResult</c>).</summary>
public sealed class VerificationResult
{
    internal VerificationResult(string role, int threshold, IReadOnlyList<Key> signers, IReadOnlyList<Key> missing, IReadOnlyList<string> problems, IReadOnlyList<string> warnings, IReadOnlyList<string> ignored)
    {
        IgnoredSignatures = ignored;
        Role = role;
        Threshold = threshold;
        Signers = signers;
        Missing = missing;
        Problems = problems;
        Warnings = warnings;
    }

    /// <summary>The role whose signatures were checked.</summary>
    public string Role { get; }

    /// <summary>How many distinct keys must sign.</summary>
    public int Threshold { get; }

    /// <summary>Authorized keys with a valid signature, one per distinct public key.</summary>
    public IReadOnlyList<Key> Signers { get; }

    /// <summary>Authorized keys without a valid signature.</summary>
    public IReadOnlyList<Key> Missing { get; }

    /// <summary>Signatures that did not count and why (invalid, by an unknown key, a key counted already...).</summary>
    public IReadOnlyList<string> Problems { get; }

    /// <summary>Things worth telling that do not affect the outcome (for example a key id that does not match its key).</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>Key ids of signatures by keys that are not keys of this role (ignored, as the specification says).</summary>
    public IReadOnlyList<string> IgnoredSignatures { get; }

    /// <summary>Whether the threshold is met.</summary>
    public bool Verified => Signers.Count >= Threshold;

    /// <summary>"2/3 of root" style.</summary>
    public override string ToString() => $"{Signers.Count}/{Threshold} of {Role}";
}

/// <summary>A root update N -> N+1 needs the threshold of both the trusted root and the new one (TUF specification §5.3.4-5).</summary>
public sealed class RootVerificationResult
{
    internal RootVerificationResult(VerificationResult byTrusted, VerificationResult byNew)
    {
        ByTrusted = byTrusted;
        ByNew = byNew;
    }

    /// <summary>Signatures counted against the trusted (previous) root's root role.</summary>
    public VerificationResult ByTrusted { get; }

    /// <summary>Signatures counted against the new root's own root role.</summary>
    public VerificationResult ByNew { get; }

    /// <summary>Whether both thresholds are met.</summary>
    public bool Verified => ByTrusted.Verified && ByNew.Verified;
}
