// The expiry calendar, docs/ceremony.md "Calendar": when each role expires and when it must be re-signed.
using System.Globalization;
using OfflineSigner.Tuf;

namespace OfflineSigner.Ceremony.Calendar;

/// <summary>How long before expiry a role must be re-signed, and how long before that people are warned.</summary>
/// <param name="ResignBefore">The re-signing deadline is this long before the expiry.</param>
/// <param name="WarnBefore">Warnings start this long before the expiry (at least <paramref name="ResignBefore"/>).</param>
public sealed record LeadTime(TimeSpan ResignBefore, TimeSpan WarnBefore);

/// <summary>Lead times per kind of role, and per role name where one needs its own.</summary>
public sealed record CalendarPolicy
{
    /// <summary>
    /// Root: re-sign 30 days ahead, warn from 90 days (a root needs a ceremony, which takes weeks to arrange); targets and
    /// delegations: 14 and 30 days; snapshot: 1 and 2 days; timestamp: 6 and 12 hours.
    /// </summary>
    public static CalendarPolicy Default { get; } = new();

    public LeadTime Root { get; init; } = new(TimeSpan.FromDays(30), TimeSpan.FromDays(90));

    public LeadTime Targets { get; init; } = new(TimeSpan.FromDays(14), TimeSpan.FromDays(30));

    public LeadTime Delegation { get; init; } = new(TimeSpan.FromDays(14), TimeSpan.FromDays(30));

    public LeadTime Snapshot { get; init; } = new(TimeSpan.FromDays(1), TimeSpan.FromDays(2));

    public LeadTime Timestamp { get; init; } = new(TimeSpan.FromHours(6), TimeSpan.FromHours(12));

    /// <summary>Lead times for particular roles by name (for example one delegation signed by a slow process).</summary>
    public IReadOnlyDictionary<string, LeadTime> ByRoleName { get; init; } = new Dictionary<string, LeadTime>();

    /// <summary>The lead time that applies to a role.</summary>
    public LeadTime For(string roleName, RoleType type, bool delegated)
    {
        if (ByRoleName.TryGetValue(roleName, out var named))
        {
            return named;
        }

        return type switch
        {
            RoleType.Root => Root,
            RoleType.Snapshot => Snapshot,
            RoleType.Timestamp => Timestamp,
            _ => delegated ? Delegation : Targets,
        };
    }
}

/// <summary>Where a role stands on the calendar.</summary>
public enum ExpiryStatus
{
    /// <summary>Nothing to do yet.</summary>
    Ok,

    /// <summary>Inside the warning period: plan the re-signing.</summary>
    Warning,

    /// <summary>Past the re-signing deadline: re-sign now.</summary>
    Due,

    /// <summary>Expired: clients refuse it.</summary>
    Expired,
}

/// <summary>One role's line on the calendar.</summary>
public sealed record RoleExpiry(string Role, RoleType Type, long Version, DateTimeOffset Expires, DateTimeOffset ResignBy, DateTimeOffset WarnFrom, ExpiryStatus Status, TimeSpan Remaining)
{
    /// <summary>A sentence for people: what expires when, and what to do.</summary>
    public string Message
    {
        get
        {
            var when = Remaining <= TimeSpan.Zero ? $"expired {Span(-Remaining)} ago" : $"expires in {Span(Remaining)}";
            var line = string.Create(CultureInfo.InvariantCulture, $"{Role} version {Version} {when} ({Rfc3339.Format(Expires)}); re-sign by {Rfc3339.Format(ResignBy)}");
            var action = Status switch
            {
                ExpiryStatus.Expired => Type == RoleType.Root ? ": EXPIRED, clients refuse the repository until a new root is signed in a ceremony" : ": EXPIRED, clients refuse it",
                ExpiryStatus.Due => Type == RoleType.Root ? ": DUE, hold the root ceremony now" : ": DUE, re-sign it now",
                ExpiryStatus.Warning => Type == RoleType.Root ? ": schedule the root ceremony (key holders, witnesses, the room)" : ": plan its re-signing",
                _ => string.Empty,
            };
            return line + action;
        }
    }

    private static string Span(TimeSpan t) => t.TotalDays >= 2
        ? string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalDays} days")
        : string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalHours} hours");
}

/// <summary>Computes each role's expiry and re-signing date from a set of metadata.</summary>
public static class ExpiryCalendar
{
    /// <summary>
    /// The calendar of <paramref name="roles"/> at <paramref name="now"/>, soonest deadline first. Each entry is a role
    /// name (root, targets, snapshot, timestamp, or a delegated role's name) with its metadata.
    /// </summary>
    /// <exception cref="ArgumentException">a lead time is negative, or warns later than it asks to re-sign.</exception>
    public static IReadOnlyList<RoleExpiry> Compute(IEnumerable<(string Role, Signed Signed)> roles, DateTimeOffset now, CalendarPolicy? policy = null)
    {
        ArgumentNullException.ThrowIfNull(roles);
        policy ??= CalendarPolicy.Default;
        var result = new List<RoleExpiry>();
        foreach (var (name, signed) in roles)
        {
            var delegated = signed.Type == RoleType.Targets && name != "targets";
            var lead = policy.For(name, signed.Type, delegated);
            if (lead.ResignBefore < TimeSpan.Zero || lead.WarnBefore < lead.ResignBefore)
            {
                throw new ArgumentException($"lead time for {name}: re-sign {lead.ResignBefore} and warn {lead.WarnBefore} before expiry; warnings must start no later than the deadline", nameof(policy));
            }

            var resignBy = signed.Expires - lead.ResignBefore;
            var warnFrom = signed.Expires - lead.WarnBefore;
            var status = now >= signed.Expires ? ExpiryStatus.Expired
                : now >= resignBy ? ExpiryStatus.Due
                : now >= warnFrom ? ExpiryStatus.Warning
                : ExpiryStatus.Ok;
            result.Add(new RoleExpiry(name, signed.Type, signed.Version, signed.Expires, resignBy, warnFrom, status, signed.Expires - now));
        }

        return [.. result.OrderBy(r => r.ResignBy).ThenBy(r => r.Role, StringComparer.Ordinal)];
    }

    /// <summary>As <see cref="Compute(IEnumerable{ValueTuple{string, Signed}}, DateTimeOffset, CalendarPolicy?)"/> for top-level metadata, named by type.</summary>
    public static IReadOnlyList<RoleExpiry> Compute(IEnumerable<Metadata<Signed>> topLevel, DateTimeOffset now, CalendarPolicy? policy = null)
    {
        ArgumentNullException.ThrowIfNull(topLevel);
        return Compute(topLevel.Select(m => (m.Signed.Type.ToString().ToLowerInvariant(), m.Signed)), now, policy);
    }
}
