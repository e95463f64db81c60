using OfflineSigner.Cli;
using Xunit;

namespace OfflineSigner.Audit.Tests;

public sealed class AuditCommandTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("audit-cli-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void ExitCodesSayVerifiedBrokenOrBadInput()
    {
        string path = Path.Combine(dir, "audit.log");
        using (var w = new AuditLogWriter(path))
        {
            w.Append(new AuditEvent(AuditEventKind.DaemonStarted));
            w.Append(new AuditEvent(AuditEventKind.Signed) { Role = "root", Version = 2 });
            w.Append(new AuditEvent(AuditEventKind.DaemonStopped));
        }

        Assert.Equal(0, CliApp.Run(["audit", "verify", path]));
        Assert.Equal(0, CliApp.Run(["audit", "verify", path, "--json"]));

        string[] lines = File.ReadAllLines(path);
        File.WriteAllLines(path, [lines[0], lines[2]]);
        Assert.Equal(1, CliApp.Run(["audit", "verify", path]));
        Assert.Equal(1, CliApp.Run(["audit", "verify", path, "--json"]));

        Assert.Equal(2, CliApp.Run(["audit", "verify", Path.Combine(dir, "missing.log")]));
    }
}
