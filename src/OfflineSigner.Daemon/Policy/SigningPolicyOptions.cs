namespace OfflineSigner.Daemon.Policy;

/// <summary>What the policy gate allows: per-role expiry limits and version bumps, and which roles each key may sign.</summary>
public sealed record SigningPolicyOptions
{
    /// <summary>The longest expiry a role may be signed with, from now. Roles not listed use <see cref="DefaultMaxExpiry"/>.</summary>
    public IReadOnlyDictionary<string, TimeSpan> MaxExpiry { get; init; } = new Dictionary<string, TimeSpan>(StringComparer.Ordinal)
    {
        ["root"] = TimeSpan.FromDays(365),
        ["targets"] = TimeSpan.FromDays(365),
        ["snapshot"] = TimeSpan.FromDays(30),
        ["timestamp"] = TimeSpan.FromDays(7),
    };

    /// <summary>The expiry limit of delegated roles and of roles not in <see cref="MaxExpiry"/>.</summary>
    public TimeSpan DefaultMaxExpiry { get; init; } = TimeSpan.FromDays(365);

    /// <summary>The largest version step a role may take (1 = exactly previous + 1). Roles not listed: 1.</summary>
    public IReadOnlyDictionary<string, long> MaxVersionBump { get; init; } = new Dictionary<string, long>(StringComparer.Ordinal);

    /// <summary>
    /// Key URI to the roles it may sign ("root", "targets", "snapshot", "timestamp", "delegated" for any delegated
    /// role, or a delegated role's name). A key not listed may sign any role its metadata gives it.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> KeyRoles { get; init; } = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);

    /// <summary>The longest validity of a notary root certificate (notary makes them for 10 years).</summary>
    public TimeSpan MaxCertificateValidity { get; init; } = TimeSpan.FromDays(3650);

    /// <summary>The limit for <paramref name="role"/>.</summary>
    public TimeSpan MaxExpiryFor(string role) => MaxExpiry.TryGetValue(role, out var max) ? max : DefaultMaxExpiry;

    /// <summary>The version step allowed for <paramref name="role"/>.</summary>
    public long MaxVersionBumpFor(string role) => MaxVersionBump.TryGetValue(role, out var bump) && bump >= 1 ? bump : 1;

    /// <summary>Whether the key at <paramref name="keyUri"/> may sign <paramref name="role"/>.</summary>
    public bool KeyMaySign(string keyUri, string role)
    {
        if (!KeyRoles.TryGetValue(keyUri, out var roles))
        {
            return true;
        }

        var delegated = !Tuf.Root.TopLevelRoles.Contains(role, StringComparer.Ordinal);
        return roles.Contains(role, StringComparer.Ordinal) || (delegated && roles.Contains("delegated", StringComparer.Ordinal));
    }
}
