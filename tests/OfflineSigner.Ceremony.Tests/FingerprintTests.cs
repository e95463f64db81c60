using OfflineSigner.Ceremony.Fingerprints;
using Xunit;

namespace OfflineSigner.Ceremony.Tests;

public sealed class FingerprintTests
{
    // The worked example published with the PGP word list (Wikipedia, "PGP word list").
    private const string PublishedHex = "E58294F2E9A227486E8B061B31CC528FD7FA3F19";
    private const string PublishedWords = "topmost Istanbul Pluto vagabond treadmill Pacific brackish dictator goldfish Medusa afflict bravado chatter revolver Dupont midsummer stopwatch whimsical cowbell bottomless";

    [Fact]
    public void Published_example_renders_to_its_words_and_back()
    {
        var bytes = Convert.FromHexString(PublishedHex);
        Assert.Equal(PublishedWords, string.Join(' ', FingerprintText.PgpWords(bytes)));
        Assert.Equal(bytes, FingerprintText.FromPgpWords(PublishedWords.Split(' ')));
        Assert.Equal("E582 94F2 E9A2 2748 6E8B 061B 31CC 528F D7FA 3F19", FingerprintText.GroupedHex(bytes));
    }

    [Fact]
    public void Tables_have_256_distinct_words_each_and_share_none()
    {
        Assert.Equal(256, PgpWordList.Even.Count);
        Assert.Equal(256, PgpWordList.Odd.Count);
        Assert.Equal(256, PgpWordList.Even.Select(w => w.ToUpperInvariant()).Distinct().Count());
        Assert.Equal(256, PgpWordList.Odd.Select(w => w.ToUpperInvariant()).Distinct().Count());
        Assert.Empty(PgpWordList.Even.Intersect(PgpWordList.Odd, StringComparer.OrdinalIgnoreCase));
    }

    [Theory]
    [InlineData(0x00, "aardvark", "adroitness")]
    [InlineData(0xFF, "Zulu", "Yucatan")]
    [InlineData(0x80, "merit", "intention")]
    [InlineData(0x7F, "lockup", "integrate")]
    public void Boundary_bytes(int value, string even, string odd)
    {
        Assert.Equal(even, PgpWordList.Even[value]);
        Assert.Equal(odd, PgpWordList.Odd[value]);
    }

    [Fact]
    public void A_swapped_pair_of_words_is_refused_naming_the_position()
    {
        var words = PublishedWords.Split(' ');
        (words[2], words[3]) = (words[3], words[2]);
        var e = Assert.Throws<FormatException>(() => FingerprintText.FromPgpWords(words));
        Assert.Contains("word 3 \"vagabond\"", e.Message, StringComparison.Ordinal);
        Assert.Contains("dropped, repeated or swapped", e.Message, StringComparison.Ordinal);
        Assert.Throws<FormatException>(() => FingerprintText.FromPgpWords(["topmost", "notaword"]));
    }

    [Fact]
    public void A_key_fingerprint_is_the_spki_sha256_in_both_forms()
    {
        using var key = Signing.SoftwareKeySigner.Generate(Signing.KeyAlgorithm.EcdsaP256);
        var fp = KeyFingerprint.Of(key.PublicKey);
        Assert.Equal(key.PublicKey.Fingerprint, fp.Sha256Hex);
        Assert.Equal(32, fp.Words.Count);
        Assert.Equal(Convert.FromHexString(fp.Sha256Hex), FingerprintText.FromPgpWords(fp.Words));
        Assert.Equal(fp.Sha256Hex.ToUpperInvariant(), fp.GroupedHex.Replace(" ", string.Empty, StringComparison.Ordinal));
    }
}
