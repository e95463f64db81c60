using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using OfflineSigner.Tuf.Crypto;

namespace OfflineSigner.Ceremony.Fingerprints;

/// <summary>
/// A key's fingerprint in the forms people compare: the SHA-256 of its SubjectPublicKeyInfo (the project's key
/// identity, <see cref="PublicKey.Fingerprint"/>), as grouped hex for the eye and as PGP words for reading aloud.
/// </summary>
public sealed record KeyFingerprint(string Sha256Hex, string GroupedHex, IReadOnlyList<string> Words)
{
    /// <summary>The fingerprint of <paramref name="key"/>.</summary>
    public static KeyFingerprint Of(PublicKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return OfDigest(Convert.FromHexString(key.Fingerprint));
    }

    /// <summary>The fingerprint forms of a digest given as bytes.</summary>
    public static KeyFingerprint OfDigest(ReadOnlySpan<byte> digest) =>
        new(Convert.ToHexStringLower(digest), FingerprintText.GroupedHex(digest), FingerprintText.PgpWords(digest));

    /// <summary>The fingerprint forms of the SHA-256 of <paramref name="data"/>.</summary>
    public static KeyFingerprint OfSha256(ReadOnlySpan<byte> data) => OfDigest(SHA256.HashData(data));

    /// <summary>The words joined by spaces.</summary>
    public string WordsText => string.Join(' ', Words);
}

/// <summary>Renders bytes for people: grouped hex and the PGP word list.</summary>
public static class FingerprintText
{
    /// <summary>
    /// Uppercase hex in groups of <paramref name="bytesPerGroup"/> bytes separated by spaces, as PGP prints
    /// fingerprints (<c>E582 94F2 ...</c>).
    /// </summary>
    public static string GroupedHex(ReadOnlySpan<byte> bytes, int bytesPerGroup = 2)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytesPerGroup);
        var sb = new StringBuilder(bytes.Length * 3);
        for (var i = 0; i < bytes.Length; i++)
        {
            if (i > 0 && i % bytesPerGroup == 0)
            {
                sb.Append(' ');
            }

            sb.Append(bytes[i].ToString("X2", CultureInfo.InvariantCulture));
        }

        return sb.ToString();
    }

    /// <summary>One PGP word per byte: bytes at even positions from the two-syllable table, odd from the three-syllable one.</summary>
    public static IReadOnlyList<string> PgpWords(ReadOnlySpan<byte> bytes)
    {
        var words = new string[bytes.Length];
        for (var i = 0; i < bytes.Length; i++)
        {
            words[i] = (i % 2 == 0 ? PgpWordList.Even : PgpWordList.Odd)[bytes[i]];
        }

        return words;
    }

    /// <summary>
    /// The bytes a sequence of PGP words stands for (case-insensitive). A word from the wrong table for its position
    /// (the sign of a dropped, repeated or swapped word) or an unknown word is refused, naming its position.
    /// </summary>
    /// <exception cref="FormatException">a word is unknown or in the wrong position.</exception>
    public static byte[] FromPgpWords(IEnumerable<string> words)
    {
        ArgumentNullException.ThrowIfNull(words);
        var result = new List<byte>();
        var position = 0;
        foreach (var word in words)
        {
            var expectEven = position % 2 == 0;
            var index = IndexOf(expectEven ? PgpWordList.Even : PgpWordList.Odd, word);
            if (index < 0)
            {
                var other = IndexOf(expectEven ? PgpWordList.Odd : PgpWordList.Even, word);
                throw new FormatException(other >= 0
                    ? $"word {position + 1} \"{word}\" belongs at an {(expectEven ? "odd" : "even")} position: a word was dropped, repeated or swapped before it"
                    : $"word {position + 1} \"{word}\" is not in the PGP word list");
            }

            result.Add((byte)index);
            position++;
        }

        return [.. result];
    }

    private static int IndexOf(IReadOnlyList<string> table, string word)
    {
        for (var i = 0; i < table.Count; i++)
        {
            if (string.Equals(table[i], word, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }

        return -1;
    }
}
