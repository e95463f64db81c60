using System.Globalization;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using OfflineSigner.Interop.Tests.Fixtures;
using OfflineSigner.Tests.Shared;
using OfflineSigner.Tuf.Json;
using Xunit;

namespace OfflineSigner.Interop.Tests;

/// <summary>
/// OfflineSigner.Tuf's canonical JSON encoder against the reference, securesystemslib's encode_canonical, byte for
/// byte: on every public vector and on generated edge cases. Both must accept the same documents and refuse the same
/// documents; where both accept, the bytes must be identical.
/// </summary>
public class CanonicalJsonInteropTests
{
    [Fact]
    public void Every_public_vector_encodes_exactly_as_securesystemslib_does()
    {
        var vectors = TestEnvironment.RequireVectors(string.Empty);
        var files = Directory.GetFiles(vectors, "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
        Assert.True(files.Count >= 50, $"only {files.Count} JSON files under {vectors}");

        var documents = files.Select(f => (Name: Path.GetRelativePath(vectors, f), Bytes: File.ReadAllBytes(f))).ToList();
        var report = Compare(documents);

        Assert.True(report.Mismatches.Count == 0, report.Describe());
        // The vectors are real signed metadata: every one must encode.
        Assert.Equal(files.Count, report.BothAccepted);
    }

    [Fact]
    public void Hand_picked_edge_cases_encode_exactly_as_securesystemslib_does()
    {
        var valid = ValidEdgeCases().ToList();
        var invalid = InvalidEdgeCases().ToList();
        var report = Compare([.. valid.Concat(invalid).Select((d, i) => ($"edge case {i}: {Preview(d)}", Encoding.UTF8.GetBytes(d)))]);

        Assert.True(report.Mismatches.Count == 0, report.Describe());
        // Both sides must have accepted the valid cases and refused the invalid ones, not just agreed by failing.
        Assert.True(report.BothAccepted == valid.Count, report.Describe());
        Assert.True(report.BothRefused == invalid.Count, report.Describe());
    }

    [Theory]
    [InlineData(20261122)]
    [InlineData(7)]
    public void Generated_documents_encode_exactly_as_securesystemslib_does(int seed)
    {
        var generator = new DocumentGenerator(new Random(seed));
        var documents = Enumerable.Range(0, 250).Select(i => ($"seed {seed} document {i}", generator.Document())).ToList();

        var report = Compare(documents);

        Assert.True(report.Mismatches.Count == 0, report.Describe());
        Assert.Equal(documents.Count, report.BothAccepted);
    }

    // Python refuses integers of more than 4300 digits (its int max_str_digits default); the sign is not a digit.
    [Theory]
    [InlineData(4300, false)]
    [InlineData(4300, true)]
    [InlineData(4301, false)]
    [InlineData(4301, true)]
    public void Integers_at_the_digit_limit_are_accepted_and_refused_alike(int digits, bool negative)
    {
        var doc = Encoding.UTF8.GetBytes("[" + (negative ? "-" : string.Empty) + new string('7', digits) + "]");
        var report = Compare([($"{(negative ? "-" : "+")}{digits} digits", doc)]);

        Assert.True(report.Mismatches.Count == 0, report.Describe());
        Assert.Equal(digits <= 4300 ? 1 : 0, report.BothAccepted);
    }

    [Fact]
    public void Keys_are_ordered_by_code_point_where_utf16_order_differs()
    {
        // U+E000 and U+FFFF sort before U+10000 by code point but after it by UTF-16 code unit (D800 < E000).
        const string doc = "{\"\\ud800\\udc00\":1,\"\\uffff\":2,\"\\ue000\":3,\"\\ud7ff\":4,\"\\udbff\\udfff\":5}";
        var expected = Encoding.UTF8.GetBytes("{\"\ud7ff\":4,\"\ue000\":3,\"\uffff\":2,\"\ud800\udc00\":1,\"\udbff\udfff\":5}");

        Assert.Equal(expected, Securesystemslib.Canonical(Encoding.UTF8.GetBytes(doc)));
        Assert.Equal(expected, CanonicalJson.Canonicalize(Encoding.UTF8.GetBytes(doc)));
    }

    private static ComparisonReport Compare(IReadOnlyList<(string Name, byte[] Bytes)> documents)
    {
        using var dir = TestEnvironment.CreateTempDir("canonical");
        var paths = new List<string>();
        for (var i = 0; i < documents.Count; i++)
        {
            var path = Path.Combine(dir.Path, $"{i:D5}.json");
            File.WriteAllBytes(path, documents[i].Bytes);
            paths.Add(path);
        }

        var reference = Securesystemslib.CanonicalSha256(paths);
        var report = new ComparisonReport();
        for (var i = 0; i < documents.Count; i++)
        {
            var (name, bytes) = documents[i];
            var ours = Ours(bytes, out var ourBytes);
            var theirs = reference[i];
            var oursRefused = ours.StartsWith('!');
            var theirsRefused = theirs.StartsWith('!');
            if (oursRefused && theirsRefused && ours.StartsWith("!JsonFormatException", StringComparison.Ordinal))
            {
                report.BothRefused++;
            }
            else if (!oursRefused && ours == theirs)
            {
                report.BothAccepted++;
            }
            else
            {
                report.Mismatches.Add(Explain(name, bytes, ours, theirs, ourBytes));
            }
        }

        return report;
    }

    // The hex SHA-256 of our canonical bytes, or "!ExceptionType: message". Only JsonFormatException is a proper
    // refusal; any other exception is a crash and always a mismatch.
    private static string Ours(byte[] json, out byte[]? canonical)
    {
        canonical = null;
        try
        {
            canonical = CanonicalJson.Canonicalize(json);
            return Convert.ToHexStringLower(SHA256.HashData(canonical));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return $"!{e.GetType().Name}: {e.Message}";
        }
    }

    private static string Explain(string name, byte[] json, string ours, string theirs, byte[]? ourBytes)
    {
        var sb = new StringBuilder().Append(name).Append(": ours ").Append(Preview(ours)).Append(", securesystemslib ").Append(Preview(theirs));
        if (ourBytes is not null && !theirs.StartsWith('!'))
        {
            var reference = Securesystemslib.Canonical(json);
            var n = Math.Min(reference.Length, ourBytes.Length);
            var at = Enumerable.Range(0, n).FirstOrDefault(i => reference[i] != ourBytes[i], n);
            sb.Append(CultureInfo.InvariantCulture, $"; first difference at byte {at} (lengths {ourBytes.Length} and {reference.Length}): ours ")
                .Append(Convert.ToHexString(ourBytes.AsSpan(at, Math.Min(16, ourBytes.Length - at))))
                .Append(" securesystemslib ")
                .Append(Convert.ToHexString(reference.AsSpan(at, Math.Min(16, reference.Length - at))));
        }

        return sb.ToString();
    }

    private static string Preview(string s) => s.Length <= 120 ? s : s[..120] + "...";

    private static IEnumerable<string> ValidEdgeCases()
    {
        // Escapes and control characters: every C0 control, escaped both ways, in values and in keys.
        var controls = string.Concat(Enumerable.Range(0, 0x20).Select(c => $"\\u{c:x4}"));
        yield return $"{{\"{controls}\":\"{controls}\"}}";
        yield return "[\"\\b\\f\\n\\r\\t\\\"\\\\\\/\",\"\\u0022\\u005c\\u002f\"]";
        yield return "{\"a\\u0000\":1,\"a\":2,\"ab\":3,\"\":4}";
        yield return "[\"\u007f\u0080\u07ff\u0800\u2028\u2029\ufeff\ufffd\"]";

        // Beyond the BMP, raw and escaped (upper- and lowercase hex), and around the surrogate range.
        yield return "[\"😀\",\"\\ud83d\\ude00\",\"\\uD83D\\uDE00\",\"\U0010FFFF\",\"\\udbff\\udfff\",\"\U00010000\"]";
        yield return "{\"😀\":1,\"\\uffff\":2,\"\\ue000\":3,\"\\ud7ff\":4,\"z\":5,\"\U0001F601\":6,\"\U0001F5FF\":7}";
        yield return "{\"\\u00e9\":1,\"e\\u0301\":2,\"\\u00c9\":3,\"E\":4}";

        // Integers: 64-bit boundaries, far beyond them, negative zero, and the largest python prints by default.
        yield return "[9223372036854775807,9223372036854775808,-9223372036854775808,-9223372036854775809]";
        yield return "[18446744073709551615,18446744073709551616,-18446744073709551616]";
        yield return "[" + BigInteger.Pow(10, 100).ToString(CultureInfo.InvariantCulture) + ",-" + BigInteger.Pow(7, 900).ToString(CultureInfo.InvariantCulture) + "]";
        yield return "[-0,0,1,-1]";
        yield return "[" + new string('9', 4000) + "]";
        yield return "[-" + new string('8', 4000) + "]";

        // Nesting: deep arrays, deep objects, alternating.
        yield return new string('[', 200) + new string(']', 200);
        yield return string.Concat(Enumerable.Repeat("{\"k\":", 200)) + "null" + new string('}', 200);
        yield return string.Concat(Enumerable.Range(0, 100).Select(i => i % 2 == 0 ? "[" : "{\"x\":")) + "1" + string.Concat(Enumerable.Range(0, 100).Reverse().Select(i => i % 2 == 0 ? "]" : "}"));

        // Literals, empty containers, whitespace of every allowed kind, top-level scalars.
        yield return " \t\r\n{ \"t\" : true ,\r\n\"f\":false,\t\"n\" : null , \"o\":{ }, \"a\" : [ ] } \n";
        yield return "\"top level string\"";
        yield return "12345";
        yield return "null";
        yield return "true";
        yield return "[]";
        yield return "{}";
        yield return "\"\"";

        // Long strings and many keys.
        yield return "[\"" + new string('x', 100_000) + "\"]";
        yield return "{" + string.Join(",", Enumerable.Range(0, 2000).Select(i => $"\"k{(i * 7919) % 2000}\":{i}")) + "}";
        yield return "[\"" + string.Concat(Enumerable.Repeat("\\\"\\\\", 5000)) + "\"]";

        // TUF-shaped: a signed document with unknown x- fields.
        yield return "{\"signed\":{\"_type\":\"root\",\"x-tuf-on-ci-expiry-period\":365,\"keys\":{},\"roles\":{}},\"signatures\":[]}";
        yield return "{\"signatures\":[{\"keyid\":\"ab\",\"sig\":\"\"}],\"signed\":{\"version\":1,\"expires\":\"2030-01-01T00:00:00Z\",\"x-custom\":{\"nested\":[1,\"\\u00e9\",null]}}}";
        yield return "{\"\\\"\":1,\"\\\\\":2,\"'\":3}";
        yield return "[0,-1,100,-100,1000000,-1000000]";
    }

    private static IEnumerable<string> InvalidEdgeCases()
    {
        // Refused by both: floats in any spelling, NaN/Infinity, duplicate keys (also through different escapes),
        // lone surrogates, integers beyond the digit limit, malformed documents.
        yield return "[1.0]";
        yield return "[1e2]";
        yield return "[-0.0]";
        yield return "[1E-2]";
        yield return "[NaN]";
        yield return "[Infinity]";
        yield return "{\"a\":1,\"a\":2}";
        yield return "{\"\\u0061\":1,\"a\":2}";
        yield return "[\"\\ud800\"]";
        yield return "[\"\\udc00\\ud800\"]";
        yield return "[" + new string('9', 5000) + "]";
        yield return "[" + new string('9', 4301) + "]";
        yield return "[-" + new string('9', 4301) + "]";
        yield return "{\"a\":1";
        yield return "[1,]";
        yield return "[01]";
    }

    private sealed class ComparisonReport
    {
        public int BothAccepted { get; set; }

        public int BothRefused { get; set; }

        public List<string> Mismatches { get; } = [];

        public string Describe() =>
            $"{BothAccepted} accepted by both, {BothRefused} refused by both, {Mismatches.Count} differ:\n" + string.Join("\n", Mismatches.Take(20));
    }

    /// <summary>Random JSON texts, valid for canonical JSON, with every spelling JSON allows for the same content.</summary>
    private sealed class DocumentGenerator(Random random)
    {
        private static readonly string[] KeyPool =
        [
            "a", "b", "A", "_type", "x-custom", "", "a\u0000", "\u00e9", "e\u0301", "\uffff", "\ue000", "\ud7ff",
            "\U0001F600", "\U00010000", "\U0010FFFF", "\"", "\\", "\u2028", "keyid", "\t", "\u007f",
        ];

        private static readonly BigInteger[] IntPool =
        [
            0, 1, -1, int.MaxValue, int.MinValue, long.MaxValue, long.MinValue, (BigInteger)long.MaxValue + 1,
            (BigInteger)long.MinValue - 1, ulong.MaxValue, (BigInteger)ulong.MaxValue + 1, BigInteger.Pow(10, 30), -BigInteger.Pow(3, 200),
        ];

        public byte[] Document()
        {
            var sb = new StringBuilder();
            Space(sb);
            Value(sb, random.Next(1, 7));
            Space(sb);
            return Encoding.UTF8.GetBytes(sb.ToString());
        }

        private void Value(StringBuilder sb, int depth)
        {
            var kind = depth <= 0 ? random.Next(4) : random.Next(7);
            switch (kind)
            {
                case 0:
                    Str(sb, RandomText());
                    break;
                case 1:
                    sb.Append(random.Next(3) == 0
                        ? IntPool[random.Next(IntPool.Length)].ToString(CultureInfo.InvariantCulture)
                        : RandomInteger());
                    break;
                case 2:
                    sb.Append(random.Next(3) switch { 0 => "true", 1 => "false", _ => "null" });
                    break;
                case 3:
                    Str(sb, KeyPool[random.Next(KeyPool.Length)]);
                    break;
                case 4:
                case 5:
                    Obj(sb, depth - 1);
                    break;
                default:
                    sb.Append('[');
                    var n = random.Next(0, 6);
                    for (var i = 0; i < n; i++)
                    {
                        if (i > 0)
                        {
                            Comma(sb);
                        }

                        Space(sb);
                        Value(sb, depth - 1);
                        Space(sb);
                    }

                    sb.Append(']');
                    break;
            }
        }

        private void Obj(StringBuilder sb, int depth)
        {
            sb.Append('{');
            var used = new HashSet<string>(StringComparer.Ordinal);
            var n = random.Next(0, 8);
            for (var i = 0; i < n; i++)
            {
                var key = random.Next(2) == 0 ? KeyPool[random.Next(KeyPool.Length)] : RandomText();
                if (!used.Add(key))
                {
                    continue;
                }

                if (used.Count > 1)
                {
                    Comma(sb);
                }

                Space(sb);
                Str(sb, key);
                Space(sb);
                sb.Append(':');
                Space(sb);
                Value(sb, depth);
                Space(sb);
            }

            sb.Append('}');
        }

        private string RandomInteger()
        {
            var digits = random.Next(1, 60);
            var sb = new StringBuilder();
            if (random.Next(2) == 0)
            {
                sb.Append('-');
            }

            sb.Append((char)('1' + random.Next(9)));
            for (var i = 1; i < digits; i++)
            {
                sb.Append((char)('0' + random.Next(10)));
            }

            return sb.ToString();
        }

        // Text drawn from the interesting ranges: ASCII, C0 controls, quote and backslash, Latin-1, the top of the
        // BMP, and supplementary planes (as surrogate pairs in .NET strings).
        private string RandomText()
        {
            var sb = new StringBuilder();
            var n = random.Next(0, 12);
            for (var i = 0; i < n; i++)
            {
                var cp = random.Next(9) switch
                {
                    0 => random.Next(0x00, 0x20),
                    1 => random.Next(2) == 0 ? '"' : '\\',
                    2 => random.Next(0x80, 0x800),
                    3 => random.Next(0x800, 0xD800),
                    4 => random.Next(0xE000, 0x10000),
                    5 => random.Next(0x10000, 0x110000),
                    6 => random.Next(2) == 0 ? 0x2028 : 0x7F,
                    _ => random.Next(0x20, 0x7F),
                };
                sb.Append(char.ConvertFromUtf32(cp));
            }

            return sb.ToString();
        }

        // Writes a string literal, spelling each character at random in one of the ways JSON allows.
        private void Str(StringBuilder sb, string s)
        {
            sb.Append('"');
            for (var i = 0; i < s.Length; i++)
            {
                var c = s[i];
                var escape = random.Next(3) == 0;
                if (char.IsHighSurrogate(c) && i + 1 < s.Length)
                {
                    if (escape)
                    {
                        sb.Append(Hex(c)).Append(Hex(s[i + 1]));
                    }
                    else
                    {
                        sb.Append(c).Append(s[i + 1]);
                    }

                    i++;
                }
                else if (c is '"' or '\\')
                {
                    sb.Append(escape ? Hex(c) : "\\" + c);
                }
                else if (c < 0x20)
                {
                    var shortForm = c switch { '\b' => "\\b", '\f' => "\\f", '\n' => "\\n", '\r' => "\\r", '\t' => "\\t", _ => null };
                    sb.Append(shortForm is not null && !escape ? shortForm : Hex(c));
                }
                else if (c == '/')
                {
                    sb.Append(escape ? "\\/" : "/");
                }
                else
                {
                    sb.Append(escape ? Hex(c) : c.ToString());
                }
            }

            sb.Append('"');
        }

        private string Hex(char c)
        {
            var hex = ((int)c).ToString("x4", CultureInfo.InvariantCulture);
            return "\\u" + (random.Next(2) == 0 ? hex : hex.ToUpperInvariant());
        }

        private void Space(StringBuilder sb)
        {
            if (random.Next(3) == 0)
            {
                sb.Append(" \t\n\r"[random.Next(4)]);
            }
        }

        private static void Comma(StringBuilder sb) => sb.Append(',');
    }
}
