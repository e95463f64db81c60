using System.Text;
using OfflineSigner.Tuf.Json;
using Xunit;

namespace OfflineSigner.Tuf.Tests;

/// <summary>Bad input gets a clear error that names the field; never a crash or an unhandled exception.</summary>
public class MetadataFormatTests
{
    private const string Ed25519Key = "{\"keytype\":\"ed25519\",\"scheme\":\"ed25519\",\"keyval\":{\"public\":\"d7d4d3e7a7e0d8b3f0c79ef6d4ec0ef6b7e70b6dc5d4e9e38e54b1a0bba1c3e0\"}}";

    private static JsonObject ValidRoot() => (JsonObject)JsonParser.Parse(
        "{\"signatures\":[],\"signed\":{\"_type\":\"root\",\"spec_version\":\"1.0.31\",\"version\":1,\"expires\":\"2030-01-01T00:00:00Z\",\"consistent_snapshot\":true,"
        + "\"keys\":{},\"roles\":{\"root\":{\"keyids\":[],\"threshold\":1},\"targets\":{\"keyids\":[],\"threshold\":1},\"snapshot\":{\"keyids\":[],\"threshold\":1},\"timestamp\":{\"keyids\":[],\"threshold\":1}}}}");

    private static MetadataFormatException Reject(JsonObject doc, MetadataParseOptions? options = null) =>
        Assert.ThrowsAny<MetadataFormatException>(() => MetadataReader.Parse(JsonText.Serialize(doc), options));

    private static JsonObject Signed(JsonObject doc) => (JsonObject)doc["signed"];

    private static JsonObject RootRole(JsonObject doc) => (JsonObject)((JsonObject)Signed(doc)["roles"])["root"];

    [Fact]
    public void A_valid_minimal_root_parses()
    {
        var md = MetadataReader.Parse(JsonText.Serialize(ValidRoot()));
        Assert.IsType<Root>(md.Signed);
        Assert.Equal(Dialect.TufSpecification, md.Dialect);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void Threshold_below_one_is_refused(long threshold)
    {
        var doc = ValidRoot();
        RootRole(doc).Set("threshold", threshold);
        var e = Reject(doc);
        Assert.Equal("$.signed.roles.root.threshold", e.FieldPath);
        Assert.Contains("out of range", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Absurd_versions_are_refused()
    {
        foreach (var bad in new JsonNode[] { 0L, -5L, new JsonInteger(System.Numerics.BigInteger.Pow(10, 30)), "2", JsonBoolean.True })
        {
            var doc = ValidRoot();
            Signed(doc).Set("version", bad);
            Assert.Equal("$.signed.version", Reject(doc).FieldPath);
        }
    }

    [Theory]
    [InlineData("_type")]
    [InlineData("spec_version")]
    [InlineData("version")]
    [InlineData("expires")]
    [InlineData("keys")]
    [InlineData("roles")]
    public void Missing_fields_are_named(string field)
    {
        var doc = ValidRoot();
        Signed(doc).Remove(field);
        var e = Reject(doc);
        Assert.Equal("$.signed." + field, e.FieldPath);
        Assert.Contains("missing", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Wrong_types_are_named()
    {
        var doc = ValidRoot();
        RootRole(doc).Set("keyids", "abc");
        var e = Reject(doc);
        Assert.Equal("$.signed.roles.root.keyids", e.FieldPath);
        Assert.Contains("expected an array, found string", e.Message, StringComparison.Ordinal);

        doc = ValidRoot();
        Signed(doc).Set("expires", "tomorrow");
        Assert.Equal("$.signed.expires", Reject(doc).FieldPath);

        doc = ValidRoot();
        Signed(doc).Set("spec_version", "2.0.0");
        Assert.Contains("major version", Reject(doc).Message, StringComparison.Ordinal);

        doc = ValidRoot();
        doc.Set("signatures", new JsonObject());
        Assert.Equal("$.signatures", Reject(doc).FieldPath);
    }

    [Fact]
    public void A_key_listed_twice_in_a_role_is_refused()
    {
        var doc = ValidRoot();
        RootRole(doc).Set("keyids", new JsonArray([new JsonString("aa"), new JsonString("aa")]));
        var e = Reject(doc);
        Assert.Equal("$.signed.roles.root.keyids[1]", e.FieldPath);
    }

    [Fact]
    public void Unknown_key_types_are_kept_unusable_or_refused_when_strict()
    {
        var doc = ValidRoot();
        var key = (JsonObject)JsonParser.Parse(Ed25519Key);
        key.Set("keytype", "quantum-2077");
        ((JsonObject)Signed(doc)["keys"]).Add("abcd", key);
        var lenient = MetadataReader.Parse(JsonText.Serialize(doc)).As<Root>();
        Assert.Null(lenient.Signed.Keys["abcd"].PublicKey);
        Assert.Contains("quantum-2077", lenient.Signed.Keys["abcd"].UnsupportedReason, StringComparison.Ordinal);

        var e = Reject(doc, new MetadataParseOptions { RejectUnsupportedKeys = true });
        Assert.StartsWith("$.signed.keys.abcd", e.FieldPath, StringComparison.Ordinal);
    }

    [Fact]
    public void Malformed_json_and_floats_name_the_place()
    {
        var e = Assert.Throws<MetadataFormatException>(() => MetadataReader.Parse(Encoding.UTF8.GetBytes("{\"signed\":{\"version\":1.0}}")));
        Assert.Equal("$.signed.version", e.FieldPath);
        e = Assert.Throws<MetadataFormatException>(() => MetadataReader.Parse(Encoding.UTF8.GetBytes("{\"signed\":{},\"signed\":{}}")));
        Assert.Contains("duplicate key", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<MetadataFormatException>(() => MetadataReader.Parse(Encoding.UTF8.GetBytes("[1,2]")));
        Assert.Contains("expected an object", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Oversized_documents_are_refused_with_the_limit()
    {
        var doc = ValidRoot();
        Signed(doc).Add("x-padding", new string('a', 600_000));
        var e = Reject(doc);
        Assert.Contains("limit", e.Message, StringComparison.Ordinal);
        Assert.NotNull(MetadataReader.Parse(JsonText.Serialize(doc), MetadataParseOptions.Default.WithMaxBytes(1_000_000)));
    }

    [Fact]
    public void Unknown_metadata_types_and_mixed_dialects_are_refused()
    {
        var doc = ValidRoot();
        Signed(doc).Set("_type", "mirrors");
        Assert.Contains("unknown metadata type", Reject(doc).Message, StringComparison.Ordinal);
        doc = ValidRoot();
        var e = Assert.Throws<MetadataFormatException>(() => MetadataReader.Parse(JsonText.Serialize(doc), dialect: Dialect.Notary));
        Assert.Contains("TUF specification", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_fields_survive_and_are_listed()
    {
        var doc = ValidRoot();
        Signed(doc).Add("x-tuf-on-ci-expiry-period", 182);
        doc.Add("x-outer", "kept");
        var bytes = JsonText.Serialize(doc);
        var md = MetadataReader.Parse(bytes);
        Assert.Equal(["x-tuf-on-ci-expiry-period"], md.Signed.UnrecognizedFields);
        Assert.Equal(bytes, md.ToBytes());
    }
}
