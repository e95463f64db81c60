using System.Text;
using OfflineSigner.Tuf.Json;
using Xunit;

namespace OfflineSigner.Tuf.Tests;

public class JsonParserTests
{
    [Theory]
    [InlineData("{\"a\":1,\"a\":2}", "duplicate key \"a\"", "$.a")]
    [InlineData("{\"signed\":{\"x\":1.5}}", "floating point", "$.signed.x")]
    [InlineData("{\"a\":1e3}", "floating point", "$.a")]
    [InlineData("[1,2,NaN]", "NaN", "$[2]")]
    [InlineData("{\"a\":01}", "leading zeros", "$.a")]
    [InlineData("{\"a\":1}x", "after the end", "$")]
    [InlineData("{\"a\":\"\\ud800\"}", "lone surrogate", "$.a")]
    [InlineData("{\"a\":\"\\udc00x\"}", "lone surrogate", "$.a")]
    [InlineData("{\"a\":\"\\q\"}", "invalid escape", "$.a")]
    [InlineData("{\"a\":tru}", "invalid literal", "$.a")]
    [InlineData("{\"a\" 1}", "expected ':'", "$")]
    [InlineData("{\"a\":1,}", "expected a string key", "$")]
    [InlineData("[1,2", "end of document", "$")]
    [InlineData("", "empty document", "$")]
    [InlineData("{\"a\":\"x", "unterminated string", "$.a")]
    [InlineData("{\"k\":[{\"deep\":{\"x\":[1,2.0]}}]}", "floating point", "$.k[0].deep.x[1]")]
    public void Rejects_invalid_documents_naming_the_place(string json, string reason, string path)
    {
        var e = Assert.Throws<JsonFormatException>(() => JsonParser.Parse(json));
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
        Assert.Equal(path, e.Path);
    }

    [Fact]
    public void Rejects_invalid_utf8_and_raw_control_characters()
    {
        byte[] badUtf8 = [.. "{\"a\":\""u8, 0xC3, 0x28, .. "\"}"u8];
        Assert.Contains("invalid UTF-8", Assert.Throws<JsonFormatException>(() => JsonParser.Parse(badUtf8)).Message, StringComparison.Ordinal);
        byte[] control = [.. "{\"a\":\"x"u8, 0x01, .. "\"}"u8];
        Assert.Contains("control character", Assert.Throws<JsonFormatException>(() => JsonParser.Parse(control)).Message, StringComparison.Ordinal);
        byte[] bom = [0xEF, 0xBB, 0xBF, .. "{}"u8];
        Assert.Contains("byte order mark", Assert.Throws<JsonFormatException>(() => JsonParser.Parse(bom)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Enforces_depth_size_and_integer_limits_before_allocating()
    {
        var deep = new string('[', 300) + new string(']', 300);
        Assert.Contains("nesting deeper", Assert.Throws<JsonFormatException>(() => JsonParser.Parse(deep)).Message, StringComparison.Ordinal);
        Assert.NotNull(JsonParser.Parse(deep, new JsonParseOptions { MaxDepth = 400 }));
        var big = Encoding.UTF8.GetBytes("[" + string.Join(",", Enumerable.Repeat("1", 1000)) + "]");
        Assert.Contains("limit", Assert.Throws<JsonFormatException>(() => JsonParser.Parse(big, new JsonParseOptions { MaxDocumentBytes = 100 })).Message, StringComparison.Ordinal);
        var digits = "[" + new string('9', 5000) + "]";
        Assert.Contains("digits", Assert.Throws<JsonFormatException>(() => JsonParser.Parse(digits)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Canonical_form_sorts_by_code_point_and_escapes_only_quote_and_backslash()
    {
        // U+FFFF sorts before U+1F600 by code point, after it by UTF-16 code unit (0xD83D < 0xFFFF).
        var doc = "{\"\\ud83d\\ude00\":1,\"\\uffff\":2,\"b\":\"tab\\there \\\"q\\\" back\\\\ nl\\n\",\"a\":[true,false,null,-0,123456789012345678901234567890]}";
        var bytes = CanonicalJson.Canonicalize(Encoding.UTF8.GetBytes(doc));
        var expected = "{\"a\":[true,false,null,0,123456789012345678901234567890],\"b\":\"tab\there \\\"q\\\" back\\\\ nl\n\",\"\uffff\":2,\"\U0001F600\":1}";
        Assert.Equal(expected, Encoding.UTF8.GetString(bytes));
    }

    [Fact]
    public void Parse_then_serialize_returns_the_canonical_bytes_unchanged()
    {
        var canonical = "{\"_type\":\"root\",\"x-custom\":{\"nested\":[1,\"\u00e9\",{\"z\":null}]},\"\u00e9\":\"\U0001F600\"}";
        var bytes = Encoding.UTF8.GetBytes(canonical);
        Assert.Equal(bytes, CanonicalJson.Serialize(JsonParser.Parse(bytes)));
    }

    [Fact]
    public void Code_point_comparer_orders_supplementary_characters_after_the_bmp()
    {
        string[] keys = ["\U0001F600", "\uffff", "\ue000", "z", "\u00e9"];
        var sorted = keys.Order(CanonicalJson.KeyComparer).ToArray();
        Assert.Equal(["z", "\u00e9", "\ue000", "\uffff", "\U0001F600"], sorted);
        var byUtf8 = keys.OrderBy(k => Convert.ToHexString(Encoding.UTF8.GetBytes(k)), StringComparer.Ordinal).ToArray();
        Assert.Equal(byUtf8, sorted);
    }
}

public class JsonTextTests
{
    [Fact]
    public void File_form_escapes_control_characters_and_reads_back_to_the_same_canonical_bytes()
    {
        var node = JsonParser.Parse("{\"pem\":\"-----BEGIN-----\\nAAA\\n\\u0001\",\"b\":[1,{\"z\":\"\u00e9\"}]}");
        var canonical = CanonicalJson.Serialize(node);
        Assert.Contains((byte)'\n', canonical);
        Assert.Throws<JsonFormatException>(() => JsonParser.Parse(canonical));
        Assert.Equal(canonical, CanonicalJson.Serialize(JsonParser.Parse(canonical, CanonicalJson.ReadBackOptions)));

        foreach (var indented in new[] { false, true })
        {
            var text = JsonText.Serialize(node, indented);
            Assert.DoesNotContain(text, b => b < 0x20 && b != (byte)'\n' && b != (byte)' ');
            Assert.Equal(canonical, CanonicalJson.Serialize(JsonParser.Parse(text)));
            using var doc = System.Text.Json.JsonDocument.Parse(text);
            Assert.Equal("-----BEGIN-----\nAAA\n\u0001", doc.RootElement.GetProperty("pem").GetString());
        }
    }
}

public class JsonTextCompactTests
{
    [Fact]
    public void Compact_form_has_no_whitespace_outside_strings()
    {
        var node = JsonParser.Parse("{ \"b\" : [1, {\"c\": \"x y\"}], \"a\": {} }");
        Assert.Equal("{\"a\":{},\"b\":[1,{\"c\":\"x y\"}]}", Encoding.UTF8.GetString(JsonText.Serialize(node)));
    }
}
