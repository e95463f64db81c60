using System.Text;
using Xunit;

namespace OfflineSigner.Audit.Tests;

public sealed class AuditLogTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("audit-").FullName;

    private string LogPath => Path.Combine(dir, "audit.log");

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static AuditEvent Signed(long version) => new(AuditEventKind.Signed)
    {
        KeyId = "ab12",
        Role = "targets",
        Version = version,
        PayloadSha256 = new string('c', 64),
        Backend = "softhsm",
        CallerUid = 1000,
    };

    private void WriteEntries(int count)
    {
        using var w = new AuditLogWriter(LogPath);
        for (int i = 1; i <= count; i++)
        {
            w.Append(Signed(i));
        }
    }

    private List<string> Lines() => [.. File.ReadAllText(LogPath).Split('\n', StringSplitOptions.RemoveEmptyEntries)];

    private void WriteLines(IEnumerable<string> lines) => File.WriteAllText(LogPath, string.Concat(lines.Select(l => l + "\n")));

    [Fact]
    public void AppendsChainedCanonicalLines()
    {
        WriteEntries(3);
        List<string> lines = Lines();
        Assert.Equal(3, lines.Count);
        Assert.StartsWith("{\"backend\":\"softhsm\",\"caller_uid\":1000,\"event\":\"signed\",\"key_id\":\"ab12\",", lines[0], StringComparison.Ordinal);
        Assert.Contains("\"prev\":\"" + new string('0', 64) + "\"", lines[0], StringComparison.Ordinal);
        string hash0 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(lines[0])));
        Assert.Contains("\"prev\":\"" + hash0 + "\"", lines[1], StringComparison.Ordinal);
        Assert.Contains("\"seq\":2", lines[1], StringComparison.Ordinal);

        AuditLogVerification v = AuditLogVerifier.Verify(LogPath);
        Assert.True(v.Ok, v.Reason);
        Assert.Equal(3, v.Entries);
        Assert.Equal(3, v.HeadSequence);
        Assert.False(v.TornTail);

        // Reopening continues the chain.
        WriteEntries(2);
        v = AuditLogVerifier.Verify(LogPath);
        Assert.True(v.Ok, v.Reason);
        Assert.Equal(5, v.HeadSequence);
    }

    public static TheoryData<string> Damages => ["edit", "delete", "swap", "duplicate", "garbage"];

    [Theory]
    [MemberData(nameof(Damages))]
    public void DetectsDamage(string damage)
    {
        WriteEntries(5);
        List<string> lines = Lines();
        switch (damage)
        {
            case "edit": lines[2] = lines[2].Replace("\"role\":\"targets\"", "\"role\":\"root\"", StringComparison.Ordinal); break;
            case "delete": lines.RemoveAt(2); break;
            case "swap": (lines[2], lines[3]) = (lines[3], lines[2]); break;
            case "duplicate": lines.Insert(3, lines[2]); break;
            default: lines[2] = "{\"seq\":3"; break;
        }

        WriteLines(lines);
        AuditLogVerification v = AuditLogVerifier.Verify(LogPath);
        Assert.False(v.Ok);
        Assert.NotNull(v.Reason);
        Assert.Equal(damage is "edit" or "duplicate" ? 4 : 3, v.FirstBadSequence);
        Assert.Throws<AuditLogBrokenException>(() => new AuditLogWriter(LogPath));
    }

    [Fact]
    public void TornTailIsReportedAndTruncatedOnOpen()
    {
        WriteEntries(3);
        string complete = File.ReadAllText(LogPath);
        File.AppendAllText(LogPath, "{\"event\":\"signed\",\"pre");
        AuditLogVerification v = AuditLogVerifier.Verify(LogPath);
        Assert.True(v.Ok, v.Reason);
        Assert.True(v.TornTail);
        Assert.Equal(3, v.Entries);

        using (var w = new AuditLogWriter(LogPath))
        {
            Assert.Equal(3, w.HeadSequence);
        }

        Assert.Equal(complete, File.ReadAllText(LogPath));
        WriteEntries(1);
        v = AuditLogVerifier.Verify(LogPath);
        Assert.True(v.Ok, v.Reason);
        Assert.False(v.TornTail);
        Assert.Equal(4, v.HeadSequence);
    }

    [Fact]
    public void NewSegmentOnlyWhenAskedAndRecorded()
    {
        WriteEntries(3);
        List<string> lines = Lines();
        lines.RemoveAt(1);
        WriteLines(lines);
        Assert.Throws<AuditLogBrokenException>(() => new AuditLogWriter(LogPath));
        Assert.Equal(2, Lines().Count);

        using (var w = new AuditLogWriter(LogPath, startNewSegment: true))
        {
            w.Append(Signed(9));
        }

        lines = Lines();
        Assert.Equal(4, lines.Count);
        Assert.Contains("\"event\":\"segment_started\"", lines[2], StringComparison.Ordinal);
        Assert.Contains("\"detail\":\"previous chain broken at line 2", lines[2], StringComparison.Ordinal);
        AuditLogVerification v = AuditLogVerifier.Verify(LogPath);
        Assert.True(v.Ok, v.Reason);
        Assert.Single(v.EarlierSegmentDamage);
        Assert.Equal(2, v.HeadSequence);

        // An intact log is not given a new segment even when asked.
        using (var w = new AuditLogWriter(LogPath, startNewSegment: true))
        {
            Assert.Equal(2, w.HeadSequence);
        }

        Assert.Equal(4, Lines().Count);
    }

    [Fact]
    public void ConcurrentAppendsKeepTheChain()
    {
        using (var w = new AuditLogWriter(LogPath))
        {
            Parallel.For(0, 200, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => w.Append(Signed(i)));
        }

        AuditLogVerification v = AuditLogVerifier.Verify(LogPath);
        Assert.True(v.Ok, v.Reason);
        Assert.Equal(200, v.HeadSequence);
    }

    [Fact]
    public void SecondWriterIsRefused()
    {
        using var w = new AuditLogWriter(LogPath);
        w.Append(Signed(1));
        IOException ex = Assert.Throws<IOException>(() => new AuditLogWriter(LogPath));
        Assert.Contains("another writer", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadersMayVerifyWhileTheWriterIsOpen()
    {
        using var w = new AuditLogWriter(LogPath);
        w.Append(Signed(1));
        w.Append(Signed(2));
        AuditLogVerification v = AuditLogVerifier.Verify(LogPath);
        Assert.True(v.Ok, v.Reason);
        Assert.Equal(w.HeadSequence, v.HeadSequence);
        Assert.Equal(2, File.ReadAllLines(LogPath).Length);
    }

    [Fact]
    public void CrashAtAnyByteOfTheLastWriteLeavesAVerifiableChain()
    {
        // What a SIGKILL mid-write can leave: any prefix of the last line, with or without its newline.
        WriteEntries(3);
        byte[] good = File.ReadAllBytes(LogPath);
        WriteEntries(1);
        byte[] full = File.ReadAllBytes(LogPath);
        for (int cut = good.Length; cut < full.Length; cut++)
        {
            File.WriteAllBytes(LogPath, full[..cut]);
            AuditLogVerification v = AuditLogVerifier.Verify(LogPath);
            Assert.True(v.Ok, v.Reason);
            Assert.Equal(cut > good.Length, v.TornTail);
            using (var w = new AuditLogWriter(LogPath))
            {
                Assert.Equal(3, w.HeadSequence);
                w.Append(Signed(4));
            }

            v = AuditLogVerifier.Verify(LogPath);
            Assert.True(v.Ok, v.Reason);
            Assert.Equal(4, v.HeadSequence);
            Assert.False(v.TornTail);
        }
    }
}
