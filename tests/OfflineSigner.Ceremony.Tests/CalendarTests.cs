using OfflineSigner.Ceremony.Calendar;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Json;
using Xunit;

namespace OfflineSigner.Ceremony.Tests;

public sealed class CalendarTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 14, 12, 0, 0, TimeSpan.Zero);

    private static Signed Role(RoleType type, DateTimeOffset expires, long version = 1)
    {
        Signed s = type switch
        {
            RoleType.Root => Root.Create(Dialect.TufSpecification, expires),
            RoleType.Targets => Targets.Create(Dialect.TufSpecification, expires),
            RoleType.Snapshot => Snapshot.Create(Dialect.TufSpecification, expires),
            _ => Timestamp.Create(Dialect.TufSpecification, expires, new JsonObject { { "version", 1L } }),
        };
        s.SetVersion(version);
        return s;
    }

    [Fact]
    public void Each_role_gets_its_expiry_and_resign_date_soonest_first()
    {
        var calendar = ExpiryCalendar.Compute(
            [
                ("root", Role(RoleType.Root, Now.AddDays(200), 3)),
                ("targets", Role(RoleType.Targets, Now.AddDays(60), 7)),
                ("releases", Role(RoleType.Targets, Now.AddDays(20))),
                ("snapshot", Role(RoleType.Snapshot, Now.AddDays(3))),
                ("timestamp", Role(RoleType.Timestamp, Now.AddHours(20))),
            ],
            Now);
        Assert.Equal(["timestamp", "snapshot", "releases", "targets", "root"], calendar.Select(c => c.Role));
        var root = calendar.Single(c => c.Role == "root");
        Assert.Equal(Now.AddDays(170), root.ResignBy);
        Assert.Equal(Now.AddDays(110), root.WarnFrom);
        Assert.Equal(ExpiryStatus.Ok, root.Status);
        Assert.Equal("root version 3 expires in 200 days (2026-09-30T12:00:00Z); re-sign by 2026-08-31T12:00:00Z", root.Message);
        Assert.Equal(Now.AddHours(14), calendar[0].ResignBy);
        Assert.Equal(ExpiryStatus.Ok, calendar[0].Status);
        Assert.Equal(ExpiryStatus.Warning, calendar.Single(c => c.Role == "releases").Status); // delegation: warn 30 days ahead
        Assert.Equal(ExpiryStatus.Ok, calendar.Single(c => c.Role == "targets").Status);
    }

    [Theory]
    [InlineData(120, ExpiryStatus.Ok)]
    [InlineData(90, ExpiryStatus.Warning)]
    [InlineData(31, ExpiryStatus.Warning)]
    [InlineData(30, ExpiryStatus.Due)]
    [InlineData(1, ExpiryStatus.Due)]
    [InlineData(0, ExpiryStatus.Expired)]
    [InlineData(-5, ExpiryStatus.Expired)]
    public void Root_expiries_are_warned_about_three_months_ahead(int daysLeft, ExpiryStatus expected)
    {
        var entry = Assert.Single(ExpiryCalendar.Compute([("root", Role(RoleType.Root, Now.AddDays(daysLeft)))], Now));
        Assert.Equal(expected, entry.Status);
        if (expected == ExpiryStatus.Warning)
        {
            Assert.EndsWith("schedule the root ceremony (key holders, witnesses, the room)", entry.Message, StringComparison.Ordinal);
        }

        if (daysLeft == -5)
        {
            Assert.StartsWith("root version 1 expired 5 days ago", entry.Message, StringComparison.Ordinal);
            Assert.Contains("clients refuse the repository until a new root is signed in a ceremony", entry.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Lead_times_are_configurable_per_kind_and_per_role_name()
    {
        var policy = new CalendarPolicy
        {
            Targets = new LeadTime(TimeSpan.FromDays(3), TimeSpan.FromDays(7)),
            ByRoleName = new Dictionary<string, LeadTime> { ["releases"] = new(TimeSpan.FromDays(40), TimeSpan.FromDays(60)) },
        };
        var calendar = ExpiryCalendar.Compute([("targets", Role(RoleType.Targets, Now.AddDays(10))), ("releases", Role(RoleType.Targets, Now.AddDays(45)))], Now, policy);
        var targets = calendar.Single(c => c.Role == "targets");
        Assert.Equal(Now.AddDays(7), targets.ResignBy);
        Assert.Equal(ExpiryStatus.Ok, targets.Status);
        var releases = calendar.Single(c => c.Role == "releases");
        Assert.Equal(Now.AddDays(5), releases.ResignBy);
        Assert.Equal(ExpiryStatus.Warning, releases.Status);

        var bad = new CalendarPolicy { Root = new LeadTime(TimeSpan.FromDays(30), TimeSpan.FromDays(10)) };
        var e = Assert.Throws<ArgumentException>(() => ExpiryCalendar.Compute([("root", Role(RoleType.Root, Now.AddDays(100)))], Now, bad));
        Assert.Contains("lead time for root", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Top_level_metadata_is_named_by_its_type()
    {
        var root = Metadata<Signed>.Create(Role(RoleType.Root, Now.AddDays(10)));
        var entry = Assert.Single(ExpiryCalendar.Compute([root], Now));
        Assert.Equal("root", entry.Role);
        Assert.Equal(ExpiryStatus.Due, entry.Status);
        Assert.Equal(TimeSpan.FromDays(10), entry.Remaining);
    }
}
