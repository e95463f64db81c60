namespace OfflineSigner.Tuf;

/// <summary>One step of a root chain walk.</summary>
public sealed record RootChainStep(long FromVersion, long ToVersion, RootVerificationResult? Result, string? Error)
{
    /// <summary>Whether the step verified.</summary>
    public bool Verified => Error is null && Result is { Verified: true };
}

/// <summary>The outcome of walking a root chain.</summary>
public sealed record RootChainResult(
    Metadata<Root> Trusted,
    IReadOnlyList<RootChainStep> Steps,
    Metadata<Root> Final,
    DateTimeOffset CheckedAt)
{
    /// <summary>Whether every step verified.</summary>
    public bool StepsVerified => Steps.All(s => s.Verified);

    /// <summary>Whether the newest trusted root has expired at <see cref="CheckedAt"/>.</summary>
    public bool FinalExpired => Final.Signed.IsExpired(CheckedAt);

    /// <summary>Whether the chain verifies and its newest root is current.</summary>
    public bool Verified => StepsVerified && !FinalExpired;

    /// <summary>The first step that failed, or null.</summary>
    public RootChainStep? FailedStep => Steps.FirstOrDefault(s => !s.Verified);
}

/// <summary>The client's root update walk (TUF specification §5.3): from a trusted root, each next version in turn.</summary>
public static class RootChain
{
    /// <summary>
    /// Walks from <paramref name="trusted"/> through <paramref name="next"/> (ordered by version). Stops at the first
    /// failing step; only the final root's expiry matters (intermediate roots may have expired).
    /// </summary>
    public static RootChainResult Walk(Metadata<Root> trusted, IEnumerable<Metadata<Root>> next, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(trusted);
        ArgumentNullException.ThrowIfNull(next);
        var steps = new List<RootChainStep>();
        var current = trusted;
        foreach (var candidate in next)
        {
            RootChainStep step;
            try
            {
                var result = Verifier.VerifyRootUpdate(current, candidate);
                step = new RootChainStep(current.Signed.Version, candidate.Signed.Version, result, null);
            }
            catch (MetadataException e)
            {
                step = new RootChainStep(current.Signed.Version, candidate.Signed.Version, null, e.Message);
            }

            steps.Add(step);
            if (!step.Verified)
            {
                break;
            }

            current = candidate;
        }

        return new RootChainResult(trusted, steps, current, at);
    }
}
