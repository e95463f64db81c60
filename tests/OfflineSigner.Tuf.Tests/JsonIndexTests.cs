using System.Security.Cryptography;
using System.Text;
using OfflineSigner.Tests.Shared;
using OfflineSigner.Tuf.Json;
using Xunit;

namespace OfflineSigner.Tuf.Tests;

/// <summary>
/// The index path must give exactly what the tree path gives: the same canonical bytes for every document the parser
/// accepts, and the same refusal (same message, path and offset) for every document it refuses.
/// </summary>
public class JsonIndexTests
{
    /// <summary>Canonical bytes through the index, checked three ways: whole, streamed, hashed.</summary>
    private static byte[] ViaIndex(byte[] utf8, JsonParseOptions? options = null)
    {
        var root = JsonIndex.Parse(utf8, options).Root;
        var bytes = root.CanonicalBytes();
        Assert.Equal(bytes.Length, root.CanonicalLength());
        using var stream = new MemoryStream();
        root.WriteCanonical(stream);
        Assert.Equal(bytes, stream.ToArray());
        Assert.Equal(SHA256.HashData(bytes), root.CanonicalHash(HashAlgorithmName.SHA256));
        return bytes;
    }

    private static void AssertSameCanonical(byte[] utf8, JsonParseOptions? options = null)
    {
        var tree = JsonParser.Parse(utf8, options);
        Assert.Equal(CanonicalJson.Serialize(tree), ViaIndex(utf8, options));

        // The tree built from the index is the parser's tree.
        Assert.True(JsonNode.DeepEquals(tree, JsonIndex.Parse(utf8, options).Root.ToJsonNode()));
    }

    private static void AssertSameRefusal(byte[] utf8, JsonParseOptions? options = null)
    {
        var byParser = Assert.Throws<JsonFormatException>(() => JsonParser.Parse(utf8, options));
        var byIndex = Assert.Throws<JsonFormatException>(() => JsonIndex.Parse(utf8, options));
        Assert.Equal(byParser.Message, byIndex.Message);
        Assert.Equal(byParser.Offset, byIndex.Offset);
    }

    [Theory]
    [InlineData("""{"b":1,"a":2}""")]
    [InlineData("""{"z":{"y":[3,2,1],"x":{}},"a":[],"m":null,"t":true,"f":false}""")]
    [InlineData("""  { "a" : -0 , "b" : [ -0 , 0 , -12 ] }  """)]
    [InlineData("""[123456789012345678901234567890, -98765432109876543210, 9223372036854775807, -9223372036854775808]""")]
    [InlineData("""{"q":"say \"hi\"","b":"back\\slash","s":"a\/b","c":"\b\f\n\r\t","u":"\u00e9\u0041\u20ac","e":"\ud83d\ude00","n":"nul\u0000here"}""")]
    [InlineData("""{"\u0062":1,"a":2,"\u00e9":3,"é2":4,"\ud83d\ude00":5,"\uffff":6,"\"":7,"\\":8}""")]
    [InlineData("""{"k9":9,"k8":8,"k7":7,"k6":6,"k5":5,"k4":4,"k3":3,"k2":2,"k1":1,"k0":0,"k10":10,"k11":11}""")]
    [InlineData("""{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12}""")]
    [InlineData("""{}""")]
    [InlineData("""[]""")]
    [InlineData("\"just a string with ü and 中文\"")]
    [InlineData("42")]
    [InlineData("[[[[[[{\"deep\":[[[]]]}]]]]]]")]
    public void Canonical_bytes_are_those_of_the_tree(string json) => AssertSameCanonical(Encoding.UTF8.GetBytes(json));

    [Fact]
    public void Raw_control_characters_are_kept_raw_when_allowed() =>
        AssertSameCanonical(Encoding.UTF8.GetBytes("{\"b\":\"tab\there\",\"a\":\"nl\nx\"}"), CanonicalJson.ReadBackOptions);

    [Theory]
    [InlineData("""{"a":1.5}""")]
    [InlineData("""{"a":1e3}""")]
    [InlineData("""{"a":-2E-1}""")]
    [InlineData("""{"a":1,"a":2}""")]
    [InlineData("""{"a":1,"\u0061":2}""")]
    [InlineData("""{"b":1,"a":2,"b":3}""")]
    [InlineData("""{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"c":11}""")]
    [InlineData("""{"j":1,"i":2,"h":3,"g":4,"f":5,"e":6,"d":7,"c":8,"b":9,"a":10,"e":11}""")]
    [InlineData("""{"x":{"y":[1,{"z":1,"z":{"w":1.0}}]}}""")]
    [InlineData("""{"a":NaN}""")]
    [InlineData("""{"a":Infinity}""")]
    [InlineData("""{"a":01}""")]
    [InlineData("""{"a":-}""")]
    [InlineData("""{"a":tru}""")]
    [InlineData("""{"a":1} x""")]
    [InlineData("""{"a":1,}""")]
    [InlineData("""{"a" 1}""")]
    [InlineData("""{a:1}""")]
    [InlineData("""[1 2]""")]
    [InlineData("""[1,""")]
    [InlineData("""{"a":"unterminated""")]
    [InlineData("""{"a":"\x"}""")]
    [InlineData("""{"a":"\u12"}""")]
    [InlineData("""{"a":"\u12G4"}""")]
    [InlineData("""{"a":"\ud83d"}""")]
    [InlineData("""{"a":"\ud83d\u0041"}""")]
    [InlineData("""{"a":"\ude00"}""")]
    [InlineData("""{"k":[0,1,{"tab":"a	b"}]}""")]
    [InlineData("")]
    [InlineData("   ")]
    public void Refusals_are_those_of_the_parser(string json) => AssertSameRefusal(Encoding.UTF8.GetBytes(json));

    [Fact]
    public void Invalid_UTF8_a_byte_order_mark_and_the_limits_are_refused_alike()
    {
        AssertSameRefusal([(byte)'{', (byte)'"', (byte)'a', (byte)'"', (byte)':', (byte)'"', 0xC3, 0x28, (byte)'"', (byte)'}']);
        AssertSameRefusal([(byte)'"', (byte)'\\', (byte)'n', 0xFF, (byte)'"']);
        AssertSameRefusal([0xEF, 0xBB, 0xBF, (byte)'{', (byte)'}']);
        AssertSameRefusal(Encoding.UTF8.GetBytes(new string('[', 300) + new string(']', 300)));
        AssertSameRefusal(Encoding.UTF8.GetBytes("[\"" + new string('x', 100) + "\"]"), new JsonParseOptions { MaxStringBytes = 50 });
        AssertSameRefusal(Encoding.UTF8.GetBytes("[\"" + new string('x', 60) + "\\n\"]"), new JsonParseOptions { MaxStringBytes = 50 });
        AssertSameRefusal(Encoding.UTF8.GetBytes("[" + new string('7', 40) + "]"), new JsonParseOptions { MaxIntegerDigits = 30 });
        AssertSameRefusal(Encoding.UTF8.GetBytes("[1,2,3]"), new JsonParseOptions { MaxDocumentBytes = 5 });
    }

    [Fact]
    public void Random_documents_give_the_same_bytes_and_their_mutations_the_same_verdicts()
    {
        var random = new Random(2024);
        for (var n = 0; n < 300; n++)
        {
            var text = Encoding.UTF8.GetBytes(RandomValue(random, 0));
            AssertSameCanonical(text);

            // Flip, drop or insert one byte: the parser and the index must agree on accepting or refusing it.
            for (var m = 0; m < 10; m++)
            {
                var mutated = Mutate(random, text);
                var parsed = Try(() => CanonicalJson.Serialize(JsonParser.Parse(mutated)));
                if (parsed is not null)
                {
                    Assert.Equal(parsed, ViaIndex(mutated));
                }
                else
                {
                    AssertSameRefusal(mutated);
                }
            }
        }
    }

    [Fact]
    public void Members_are_found_and_enumerated_as_in_the_tree()
    {
        var json = """{"k9":9,"k8":8,"k7":7,"k6":6,"k5":5,"k4":4,"k3":3,"k2":2,"k1":1,"k0":"zero","\u00e9":[1,2],"s":{"b":true}}""";
        var root = JsonIndex.Parse(Encoding.UTF8.GetBytes(json)).Root;
        var tree = (JsonObject)JsonParser.Parse(json);
        Assert.Equal(tree.Keys, root.EnumerateProperties().Select(p => p.Key));
        foreach (var (k, v) in tree)
        {
            Assert.True(root.TryGetProperty(k, out var found), k);
            Assert.True(JsonNode.DeepEquals(v, found.ToJsonNode()), k);
        }

        Assert.False(root.TryGetProperty("k10", out _));
        Assert.False(root.TryGetProperty("", out _));
        Assert.True(root.TryGetProperty("k0", out var zero));
        Assert.Equal("zero", zero.GetString());
        Assert.True(root.TryGetProperty("é", out var arr));
        Assert.Equal(2, arr.Count);
        Assert.Throws<InvalidOperationException>(() => arr.GetString());
    }

    [Fact]
    public void Every_public_vector_canonicalizes_to_the_same_bytes()
    {
        var files = new[] { "python-tuf-testdata", "sigstore-root-chain", "notary-fixtures" }
            .SelectMany(d => Directory.EnumerateFiles(TestEnvironment.RequireVectors(d), "*.json", SearchOption.AllDirectories))
            .ToList();
        Assert.NotEmpty(files);
        var accepted = 0;
        foreach (var file in files)
        {
            var bytes = File.ReadAllBytes(file);
            if (Try(() => JsonParser.Parse(bytes)) is null)
            {
                AssertSameRefusal(bytes);
                continue;
            }

            AssertSameCanonical(bytes);
            accepted++;
        }

        Assert.True(accepted > 20, $"only {accepted} vectors parsed");
    }

    private static T? Try<T>(Func<T> f)
        where T : class
    {
        try
        {
            return f();
        }
        catch (JsonFormatException)
        {
            return null;
        }
    }

    private static byte[] Mutate(Random random, byte[] text)
    {
        var bytes = new List<byte>(text);
        var at = random.Next(bytes.Count);
        var alphabet = "{}[]\":,.-0e1\\u\"a \u00e9"u8.ToArray();
        switch (random.Next(3))
        {
            case 0: bytes[at] = alphabet[random.Next(alphabet.Length)]; break;
            case 1: bytes.RemoveAt(at); break;
            default: bytes.Insert(at, alphabet[random.Next(alphabet.Length)]); break;
        }

        return [.. bytes];
    }

    private static string RandomValue(Random random, int depth)
    {
        var pick = depth > 3 ? random.Next(4) : random.Next(7);
        switch (pick)
        {
            case 0: return RandomString(random);
            case 1: return random.Next(5) == 0 ? "-0" : random.NextInt64(-100000, 100000).ToString(System.Globalization.CultureInfo.InvariantCulture);
            case 2: return random.Next(2) == 0 ? "true" : "null";
            case 3: return "12345678901234567890123";
            case 4:
            {
                var items = Enumerable.Range(0, random.Next(5)).Select(_ => RandomValue(random, depth + 1));
                return "[" + string.Join(", ", items) + "]";
            }

            default:
            {
                var keys = new HashSet<string>();
                var members = new List<string>();
                for (var i = random.Next(14); i > 0; i--)
                {
                    var key = RandomString(random);
                    if (keys.Add(Decode(key)))
                    {
                        members.Add(key + ": " + RandomValue(random, depth + 1));
                    }
                }

                return "{" + string.Join(",\n", members) + "}";
            }
        }
    }

    private static string Decode(string jsonString) => ((JsonString)JsonParser.Parse(jsonString)).Value;

    private static string RandomString(Random random)
    {
        string[] parts = ["a", "b", "Z", "0", "é", "中", "😀", "\\\"", "\\\\", "\\/", "\\n", "\\u0041", "\\u00e9", "\\ud83d\\ude00", "\\uffff", "\\u0000", "hashes", "sha256", " "];
        var sb = new StringBuilder("\"");
        for (var i = random.Next(4); i > 0; i--)
        {
            sb.Append(parts[random.Next(parts.Length)]);
        }

        return sb.Append('"').ToString();
    }
}
