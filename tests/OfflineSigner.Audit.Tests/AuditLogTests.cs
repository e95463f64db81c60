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
    public void ConcurrentAppendersShareFsyncsAndEachReturnsOnlyOnceItsOwnEntryIsDurable()
    {
        const int threads = 8;
        const int perThread = 40;
        var notDurable = new System.Collections.Concurrent.ConcurrentBag<string>();
        long flushes;
        using (var w = new AuditLogWriter(LogPath))
        {
            using var start = new Barrier(threads);
            var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
            {
                start.SignalAndWait();
                for (int i = 0; i < perThread; i++)
                {
                    long version = (t * 1000) + i;
                    w.Append(Signed(version));

                    // The writer's durable mark must already cover this entry, wherever the chain put it.
                    long durable = w.DurableSequence;
                    long seq = SequenceOf(version);
                    if (seq > durable)
                    {
                        notDurable.Add($"version {version} (seq {seq}) returned with only seq {durable} durable");
                    }
                }
            })).ToList();
            workers.ForEach(x => x.Start());
            workers.ForEach(x => x.Join());
            flushes = w.Flushes;
        }

        Assert.Empty(notDurable);
        AuditLogVerification v = AuditLogVerifier.Verify(LogPath);
        Assert.True(v.Ok, v.Reason);
        Assert.Equal(threads * perThread, v.HeadSequence);

        // Strictly increasing sequence numbers in file order, and every entry exactly once.
        var lines = Lines();
        var seqs = lines.Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("seq").GetInt64()).ToList();
        Assert.Equal(Enumerable.Range(1, threads * perThread).Select(i => (long)i), seqs);
        var versions = lines.Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("version").GetInt64()).ToHashSet();
        Assert.Equal(threads * perThread, versions.Count);

        // Appenders arriving together share fsyncs: fewer flushes than entries.
        Assert.InRange(flushes, 1, (threads * perThread) - 1);
    }

    [Fact]
    public void ASingleAppenderFlushesEveryEntry()
    {
        using var w = new AuditLogWriter(LogPath);
        for (int i = 1; i <= 5; i++)
        {
            w.Append(Signed(i));
            Assert.Equal(i, w.DurableSequence);
        }

        Assert.Equal(5, w.Flushes);
    }

    [Fact]
    public void AppendAllWritesTheEntriesAdjacentInOrderWithOneFlush()
    {
        using (var w = new AuditLogWriter(LogPath))
        {
            w.Append(Signed(1));
            w.AppendAll([.. Enumerable.Range(2, 300).Select(i => Signed(i))]);
            Assert.Equal(301, w.DurableSequence);
            Assert.Equal(2, w.Flushes);
            w.AppendAll([]);
            Assert.Equal(2, w.Flushes);
            w.Append(Signed(302));
        }

        var lines = Lines();
        Assert.Equal(302, lines.Count);
        for (var i = 0; i < lines.Count; i++)
        {
            Assert.Contains($"\"seq\":{i + 1},", lines[i], StringComparison.Ordinal);
            Assert.Contains($"\"version\":{i + 1}}}", lines[i], StringComparison.Ordinal);
        }

        var verified = AuditLogVerifier.Verify(LogPath);
        Assert.True(verified.Ok, verified.Reason);
        Assert.Equal(302, verified.Entries);
    }

    private long SequenceOf(long version)
    {
        using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        string needle = "\"version\":" + version.ToString(System.Globalization.CultureInfo.InvariantCulture) + "}";
        while (reader.ReadLine() is { } line)
        {
            if (line.Contains(needle, StringComparison.Ordinal))
            {
                return System.Text.Json.JsonDocument.Parse(line).RootElement.GetProperty("seq").GetInt64();
            }
        }

        throw new InvalidOperationException($"version {version} is not in the log");
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
