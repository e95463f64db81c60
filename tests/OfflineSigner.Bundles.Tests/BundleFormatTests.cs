using System.Text;
using OfflineSigner.Tuf;
using Xunit;

namespace OfflineSigner.Bundles.Tests;

/// <summary>The format's own rules, with no daemon: manifest strictness, names, the transcript's hash chain.</summary>
public sealed class BundleFormatTests
{
    private static BundleManifest Sample() => new(
        BundleManifest.CurrentFormatVersion,
        BundleManifest.NewBundleId(),
        new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero),
        Dialect.TufSpecification,
        new RepositoryIdentity("repo", null, new string('a', 64), 3),
        [new ContextFile("root", "root", 3, new BundleFile("context/root.3.json", 10, new string('b', 64)))],
        [new BundleItem("00001", "targets", 4, new BundleFile("items/00001.json", 20, new string('c', 64)), new string('d', 64), "context/root.3.json", null, null, [new Requirement("targets", 1, [new string('e', 64)])])]);

    [Fact]
    public void A_manifest_reads_back_as_written()
    {
        var m = Sample();
        var back = BundleManifest.Parse(m.ToBytes());
        Assert.Equal(m.BundleId, back.BundleId);
        Assert.Equal(m.Repository, back.Repository);
        Assert.Equal(m.Items[0].SignedSha256, back.Items[0].SignedSha256);
        Assert.Equal(m.Items[0].Requirements[0].KeyIds, back.Items[0].Requirements[0].KeyIds);
        Assert.Equal(m.ToBytes(), back.ToBytes());
    }

    [Theory]
    [InlineData("\"format_version\": 1", "\"format_version\": 7", "format_version 7 is not known")]
    [InlineData("\"dialect\": \"tuf\"", "\"dialect\": \"tuf\", \"extra\": 1", "unknown field \"extra\"")]
    [InlineData("\"items/00001.json\"", "\"items/../../etc/passwd\"", "'..'")]
    [InlineData("\"items/00001.json\"", "\"/etc/passwd\"", "absolute")]
    [InlineData("\"items/00001.json\"", "\"items/AUX.JSON\"", "not a bundle file name")]
    [InlineData("\"items/00001.json\"", "\"signatures/00001.json\"", "not a bundle file name")]
    [InlineData("\"id\": \"00001\"", "\"id\": \"00002\"", "numbered 00001")]
    [InlineData("\"threshold\": 1", "\"threshold\": 2", "cannot be met by 1 keys")]
    [InlineData("\"format\": \"offline-signer-bundle\"", "\"format\": \"something-else\"", "not an OfflineSigner bundle")]
    public void A_manifest_that_breaks_a_rule_is_refused_naming_it(string from, string to, string expected)
    {
        var text = Encoding.UTF8.GetString(Sample().ToBytes());
        Assert.Contains(from, text, StringComparison.Ordinal);
        var e = Assert.Throws<BundleException>(() => BundleManifest.Parse(Encoding.UTF8.GetBytes(text.Replace(from, to, StringComparison.Ordinal))));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_transcript_chain_detects_an_edited_removed_or_torn_line()
    {
        var t = Transcript.Empty();
        t.Append(DateTimeOffset.UnixEpoch, "export", ("items", "1"));
        t.Append(DateTimeOffset.UnixEpoch, "sign", ("keyid", "k1"));
        var bytes = t.Append(DateTimeOffset.UnixEpoch, "sign", ("keyid", "k2"));
        Assert.Equal(3, Transcript.Parse(bytes, "t").Entries.Count);

        var lines = Encoding.UTF8.GetString(bytes).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var edited = string.Join('\n', lines[0], lines[1].Replace("k1", "k9", StringComparison.Ordinal), lines[2]) + "\n";
        Assert.Contains("hash chain is broken", Assert.Throws<BundleException>(() => Transcript.Parse(Encoding.UTF8.GetBytes(edited), "t")).Message, StringComparison.Ordinal);
        var removed = string.Join('\n', lines[0], lines[2]) + "\n";
        Assert.Contains("hash chain is broken", Assert.Throws<BundleException>(() => Transcript.Parse(Encoding.UTF8.GetBytes(removed), "t")).Message, StringComparison.Ordinal);
        var torn = Encoding.UTF8.GetBytes(string.Join('\n', lines)[..^5]);
        Assert.Contains("incomplete", Assert.Throws<BundleException>(() => Transcript.Parse(torn, "t")).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("00001.json", true)]
    [InlineData("root.12.json", true)]
    [InlineData(".00001.json.1234.tmp", false)]
    [InlineData("Root.json", false)]
    [InlineData("a:b", false)]
    [InlineData("name.", false)]
    [InlineData("", false)]
    public void Names_are_safe_on_fat32_and_exfat(string name, bool safe) => Assert.Equal(safe, BundleNames.IsSafeName(name));

    [Theory]
    [InlineData(".transcript.jsonl.0123456789ab.tmp", true)]
    [InlineData(".00001.json.0123456789ab.tmp", true)]
    [InlineData(".00001.json.0123456789ab.tmp.json", false)]
    [InlineData(".hidden", false)]
    [InlineData("..0123456789ab.tmp", false)]
    public void Only_the_temporary_files_of_our_own_atomic_writes_are_skipped(string name, bool temporary) =>
        Assert.Equal(temporary, BundleNames.IsTemporaryName(name));
}
