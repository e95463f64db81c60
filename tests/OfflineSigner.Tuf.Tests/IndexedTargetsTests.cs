using System.Security.Cryptography;
using System.Text;
using OfflineSigner.Signing;
using OfflineSigner.Tests.Shared;
using OfflineSigner.Tuf.Json;
using Xunit;

namespace OfflineSigner.Tuf.Tests;

/// <summary>
/// Targets read through the index must be the targets of the model: the same canonical bytes, the same verdicts
/// (signers, problems, missing keys), the same target entries, and the same refusals with the same messages.
/// </summary>
public sealed class IndexedTargetsTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly List<SoftwareKeySigner> signers = [];

    public void Dispose()
    {
        foreach (var s in signers)
        {
            s.Dispose();
        }
    }

    private (SoftwareKeySigner Signer, Key Key) NewKey(KeyAlgorithm algorithm)
    {
        var signer = SoftwareKeySigner.Generate(algorithm);
        signers.Add(signer);
        return (signer, Key.FromPublicKey(signer.PublicKey, Dialect.TufSpecification));
    }

    private static void AssertSameVerdict(VerificationResult model, VerificationResult indexed)
    {
        Assert.Equal(model.Verified, indexed.Verified);
        Assert.Equal(model.Threshold, indexed.Threshold);
        Assert.Equal(model.Signers.Select(k => k.KeyId), indexed.Signers.Select(k => k.KeyId));
        Assert.Equal(model.Missing.Select(k => k.KeyId), indexed.Missing.Select(k => k.KeyId));
        Assert.Equal(model.Problems, indexed.Problems);
        Assert.Equal(model.Warnings, indexed.Warnings);
        Assert.Equal(model.IgnoredSignatures, indexed.IgnoredSignatures);
    }

    /// <summary>Both paths on the same bytes: same canonical bytes and digests; returns both verdicts, checked equal.</summary>
    private static VerificationResult VerifyBoth(byte[] file, string role, Targets delegator)
    {
        var model = Metadata<Targets>.Parse(file, MetadataParseOptions.Default.WithMaxBytes(file.Length));
        var indexed = IndexedTargets.Parse(file, MetadataParseOptions.Default.WithMaxBytes(file.Length));
        var bytes = model.SignedBytes();
        Assert.Equal(bytes, indexed.SignedBytes());
        Assert.Equal(SHA256.HashData(bytes), indexed.SignedDigest(HashAlgorithmName.SHA256));
        Assert.Equal(SHA512.HashData(bytes), indexed.SignedDigest(HashAlgorithmName.SHA512));
        var byModel = Verifier.VerifyDelegated(role, delegator, model);
        var byIndex = Verifier.VerifyDelegated(role, delegator, indexed);
        AssertSameVerdict(byModel, byIndex);
        return byModel;
    }

    private static void AssertSameRefusal(byte[] file, MetadataParseOptions? options = null, Dialect? dialect = null)
    {
        var byModel = Assert.ThrowsAny<MetadataException>(() => Metadata<Targets>.Parse(file, options, dialect));
        var byIndex = Assert.ThrowsAny<MetadataException>(() => IndexedTargets.Parse(file, options, dialect));
        Assert.Equal(byModel.Message, byIndex.Message);
    }

    /// <summary>A targets role with <paramref name="count"/> targets of every shape a target entry takes.</summary>
    private static JsonObject LargeSigned(int count)
    {
        var random = new Random(7);
        var targets = new JsonObject();
        Span<byte> digest = stackalloc byte[64];
        for (var i = 0; i < count; i++)
        {
            random.NextBytes(digest);
            var hashes = new JsonObject { { "sha256", Convert.ToHexStringLower(digest[..32]) } };
            if (i % 8 == 0)
            {
                hashes.Add("sha512", Convert.ToHexStringLower(digest));
            }

            var entry = new JsonObject { { "length", random.NextInt64(0, 1L << 40) }, { "hashes", hashes } };
            if (i % 16 == 0)
            {
                entry.Add("custom", new JsonObject { { "note", "quote \" backslash \\ tab \t é 😀" }, { "n", -i }, { "flag", i % 32 == 0 } });
            }

            // Paths in no particular order, some with characters the encoder escapes or writes as multi-byte UTF-8.
            var path = (i % 5) switch
            {
                0 => $"pkg/{random.Next():x}/file-{i}.tar.gz",
                1 => $"zz/ünïcödé/{i}",
                2 => $"a/\"quoted\"/{i}",
                3 => $"😀/{i}",
                _ => $"B/{i}",
            };
            targets.Add(path, entry);
        }

        return new JsonObject
        {
            { "_type", "targets" },
            { "spec_version", "1.0.31" },
            { "version", 3 },
            { "expires", "2030-01-01T00:00:00Z" },
            { "x-unknown", new JsonObject { { "kept", true } } },
            { "targets", targets },
            {
                "delegations", new JsonObject
                {
                    { "keys", new JsonObject() },
                    { "roles", new JsonArray([DelegatedRole.CreateJson("sub", [], 1, ["sub/*"], false, Dialect.TufSpecification)]) },
                }
            },
        };
    }

    private static Metadata<Targets> Document(JsonObject signed)
    {
        var doc = new JsonObject { { "signatures", new JsonArray() }, { "signed", signed } };
        var bytes = JsonText.Serialize(doc);
        return Metadata<Targets>.Parse(bytes, MetadataParseOptions.Default.WithMaxBytes(bytes.Length));
    }

    [Fact]
    public void A_large_role_signed_with_every_scheme_gives_the_same_bytes_verdicts_and_entries()
    {
        var keys = new[] { NewKey(KeyAlgorithm.EcdsaP256), NewKey(KeyAlgorithm.EcdsaP384), NewKey(KeyAlgorithm.Ed25519), NewKey(KeyAlgorithm.Rsa2048) };
        var unsigned = NewKey(KeyAlgorithm.EcdsaP256);
        var delegator = Targets.Create(Dialect.TufSpecification, Now.AddDays(30));
        delegator.AddDelegation("all", [.. keys.Select(k => k.Key)], 4, ["*"]);
        delegator.AddDelegation("more", [.. keys.Select(k => k.Key), unsigned.Key], 5, ["*"]);
        delegator.AddDelegation("one", [keys[0].Key], 1, ["*"]);

        var md = Document(LargeSigned(20_000));
        foreach (var (signer, key) in keys)
        {
            md.SignWith(signer, key);
        }

        var file = md.ToBytes();
        Assert.True(VerifyBoth(file, "all", delegator).Verified);
        Assert.True(VerifyBoth(file, "one", delegator).Verified);
        var below = VerifyBoth(file, "more", delegator);
        Assert.False(below.Verified);
        Assert.Equal(4, below.Signers.Count);

        // The entries read from the index are the model's.
        var indexed = IndexedTargets.Parse(file, MetadataParseOptions.Default.WithMaxBytes(file.Length));
        Assert.Equal(md.Signed.TargetFiles.Keys, indexed.TargetPaths);
        Assert.Equal(md.Signed.TargetFiles.Count, indexed.TargetCount);
        foreach (var (path, expected) in md.Signed.TargetFiles)
        {
            Assert.True(indexed.TryGetTarget(path, out var actual), path);
            Assert.Equal(expected.Length, actual.Length);
            Assert.Equal(expected.Hashes, actual.Hashes);
            Assert.True(JsonNode.DeepEquals(expected.Json, actual.Json), path);
        }

        Assert.False(indexed.TryGetTarget("pkg/absent", out _));
        Assert.Equal(md.Signed.Version, indexed.Version);
        Assert.Equal(md.Signed.Expires, indexed.Expires);
        Assert.Equal(md.Signed.UnrecognizedFields, indexed.SignedUnrecognizedFields);
        Assert.Equal("sub", Assert.Single(indexed.Delegations!.Roles!).Name);

        // One changed byte in the signed part: every signature fails, alike on both paths.
        var text = Encoding.UTF8.GetString(file);
        var at = text.IndexOf("\"sha256\":\"", StringComparison.Ordinal) + 10;
        var tampered = text[..at] + (text[at] == '0' ? '1' : '0') + text[(at + 1)..];
        var broken = VerifyBoth(Encoding.UTF8.GetBytes(tampered), "all", delegator);
        Assert.False(broken.Verified);
        Assert.Empty(broken.Signers);
        Assert.Equal(4, broken.Problems.Count);
    }

    [Fact]
    public void Bad_signatures_and_signatures_by_other_keys_are_counted_alike()
    {
        var good = NewKey(KeyAlgorithm.EcdsaP256);
        var bad = NewKey(KeyAlgorithm.Ed25519);
        var stranger = NewKey(KeyAlgorithm.EcdsaP256);
        var delegator = Targets.Create(Dialect.TufSpecification, Now.AddDays(30));
        delegator.AddDelegation("r", [good.Key, bad.Key], 2, ["*"]);

        var md = Document(LargeSigned(300));
        md.SignWith(good.Signer, good.Key);
        md.SignWith(stranger.Signer, stranger.Key);

        // A signature by the Ed25519 key over other bytes.
        var other = Document(LargeSigned(3));
        other.SignWith(bad.Signer, bad.Key);
        md.AddSignature(other.Signatures.Single());

        var result = VerifyBoth(md.ToBytes(), "r", delegator);
        Assert.False(result.Verified);
        Assert.Single(result.Signers);
        Assert.Contains(result.Problems, p => p.Contains("is invalid", StringComparison.Ordinal));
        Assert.Equal([stranger.Key.KeyId], result.IgnoredSignatures);
    }

    [Fact]
    public void An_unknown_role_is_refused_alike()
    {
        var delegator = Targets.Create(Dialect.TufSpecification, Now.AddDays(30));
        var file = Document(LargeSigned(2)).ToBytes();
        var byModel = Assert.Throws<MetadataException>(() => Verifier.VerifyDelegated("nobody", delegator, Metadata<Targets>.Parse(file)));
        var byIndex = Assert.Throws<MetadataException>(() => Verifier.VerifyDelegated("nobody", delegator, IndexedTargets.Parse(file)));
        Assert.Equal(byModel.Message, byIndex.Message);
    }

    public static TheoryData<string, string> BadDocuments => new()
    {
        { "float length", "\"length\":1.0," },
        { "exponent length", "\"length\":1e3," },
        { "negative length", "\"length\":-1," },
        { "string length", "\"length\":\"1\"," },
        { "no hashes", "\"hashes\":{\"sha256\":\"aa\"},\"length\":5,\"HASHES\":{}," },
        { "empty hashes", "\"hashes\":{},\"length\":5," },
        { "hash not a string", "\"hashes\":{\"sha256\":1},\"length\":5," },
        { "duplicate target", "DUPLICATE" },
        { "duplicate key in an entry", "\"length\":5,\"length\":6," },
        { "custom not an object", "\"custom\":[],\"length\":5," },
    };

    [Theory]
    [MemberData(nameof(BadDocuments))]
    public void Bad_target_entries_are_refused_with_the_same_message(string name, string edit)
    {
        var file = Encoding.UTF8.GetString(Document(LargeSigned(40)).ToBytes());

        // The first entry's "hashes" and "length" members are replaced by the edit.
        var first = file.IndexOf("{\"hashes\":", file.IndexOf("\"targets\":", StringComparison.Ordinal), StringComparison.Ordinal) + 1;
        var lengthEnd = file.IndexOf(',', file.IndexOf("\"length\":", first, StringComparison.Ordinal)) + 1;
        string edited;
        if (edit == "DUPLICATE")
        {
            var firstKey = file.LastIndexOf(",\"", first, StringComparison.Ordinal);
            var secondKeyEnd = file.IndexOf("\":{\"hashes\"", first, StringComparison.Ordinal);
            var key = file[(firstKey + 1)..(secondKeyEnd + 1)];
            edited = file[..(firstKey + 1)] + key + ":{\"hashes\":{\"sha1\":\"00\"},\"length\":1}," + file[(firstKey + 1)..];
        }
        else
        {
            edited = file[..first] + edit + file[lengthEnd..];
        }

        Assert.NotEqual(file, edited);
        AssertSameRefusal(Encoding.UTF8.GetBytes(edited), MetadataParseOptions.Default.WithMaxBytes(edited.Length));
        _ = name;
    }

    [Theory]
    [InlineData("\"version\":3", "\"version\":0")]
    [InlineData("\"version\":3", "\"version\":3.5")]
    [InlineData("\"expires\":\"2030-01-01T00:00:00Z\"", "\"expires\":\"tomorrow\"")]
    [InlineData("\"spec_version\":\"1.0.31\"", "\"spec_version\":\"2.0.0\"")]
    [InlineData("\"_type\":\"targets\"", "\"_type\":\"snapshot\"")]
    [InlineData("\"_type\":\"targets\"", "\"_type\":\"Targets\"")]
    [InlineData("\"_type\":\"targets\"", "\"_type\":\"files\"")]
    [InlineData("\"name\":\"sub\"", "\"name\":\"timestamp\"")]
    [InlineData("\"terminating\":false", "\"terminating\":0")]
    [InlineData("\"roles\":[", "\"succinct_roles\":{},\"roles\":[")]
    [InlineData("\"keys\":{}", "\"keys\":[]")]
    [InlineData("\"targets\":{", "\"targets\":[],\"x\":{")]
    [InlineData("{\"signatures\":[]", "{\"signatures\":{}")]
    [InlineData("{\"signatures\":[]", "{\"signatures\":[{\"keyid\":\"ab\",\"sig\":\"zz\"}]")]
    [InlineData("{\"signatures\":[]", "{\"signatures\":[{\"keyid\":\"ab\",\"sig\":\"00\"},{\"keyid\":\"ab\",\"sig\":\"01\"}]")]
    [InlineData("{\"signatures\":[]", "{\"signatures\":[],\"signatures\":[]")]
    [InlineData("{\"signatures\":[],", "[{")]
    public void Bad_documents_are_refused_with_the_same_message(string from, string to)
    {
        var file = Encoding.UTF8.GetString(Document(LargeSigned(40)).ToBytes());
        Assert.Contains(from, file, StringComparison.Ordinal);
        var edited = file.Replace(from, to, StringComparison.Ordinal);
        AssertSameRefusal(Encoding.UTF8.GetBytes(edited), MetadataParseOptions.Default.WithMaxBytes(edited.Length));
    }

    [Fact]
    public void Size_limit_dialect_and_a_duplicate_delegated_role_are_refused_alike()
    {
        var signed = LargeSigned(40);
        var file = Document(signed).ToBytes();
        AssertSameRefusal(file, MetadataParseOptions.Default with { MaxTargetsBytes = 1000 });
        AssertSameRefusal(file, dialect: Dialect.Notary);

        var roles = (JsonArray)((JsonObject)signed["delegations"])["roles"];
        roles.Add(roles[0].DeepClone());
        var doc = new JsonObject { { "signatures", new JsonArray() }, { "signed", signed } };
        AssertSameRefusal(JsonText.Serialize(doc));
    }

    /// <summary>Both paths accept, or both refuse with the same message; when they accept, the same canonical bytes.</summary>
    private static void AssertSameOutcome(string json, Dialect? dialect = null)
    {
        var file = Encoding.UTF8.GetBytes(json);
        Metadata<Targets>? model = null;
        MetadataException? byModel = null;
        try
        {
            model = Metadata<Targets>.Parse(file, null, dialect);
        }
        catch (MetadataException e)
        {
            byModel = e;
        }

        if (byModel is not null)
        {
            var byIndex = Assert.ThrowsAny<MetadataException>(() => IndexedTargets.Parse(file, null, dialect));
            Assert.Equal(byModel.Message, byIndex.Message);
            return;
        }

        var indexed = IndexedTargets.Parse(file, null, dialect);
        Assert.Equal(model!.SignedBytes(), indexed.SignedBytes());
    }

    private static string WithEntry(string entry) =>
        "{\"signatures\":[],\"signed\":{\"_type\":\"targets\",\"expires\":\"2030-01-01T00:00:00Z\",\"spec_version\":\"1.0.31\",\"targets\":{\"a\":{\"hashes\":{\"sha256\":\"00\"},\"length\":1},\"b\":" + entry + "},\"version\":1}}";

    private static string WithRoles(string roles, string type = "targets") =>
        "{\"signatures\":[],\"signed\":{\"_type\":\"" + type + "\",\"delegations\":{\"keys\":{},\"roles\":[" + roles + "]},\"expires\":\"2030-01-01T00:00:00Z\"," + (type == "targets" ? "\"spec_version\":\"1.0.31\"," : string.Empty) + "\"targets\":{},\"version\":1}}";

    /// <summary>
    /// Entries and roles at the edges of what the index accepts by itself (the quick checks) and what it leaves to the
    /// model: both paths must agree on each, accepted or refused.
    /// </summary>
    [Fact]
    public void The_edge_documents_are_valid_apart_from_the_edge()
    {
        // Otherwise the cases below could agree only on an unrelated refusal.
        var entry = IndexedTargets.Parse(Encoding.UTF8.GetBytes(WithEntry("{\"hashes\":{\"sha256\":\"00\"},\"length\":9223372036854775807}")));
        Assert.True(entry.TryGetTarget("b", out var b));
        Assert.Equal(long.MaxValue, b.Length);
        var roles = "{\"keyids\":[\"k1\"],\"name\":\"a\",\"paths\":[\"*\"],\"terminating\":false,\"threshold\":1},{\"keyids\":[],\"name\":\"\\u0062\",\"path_hash_prefixes\":[\"0\"],\"terminating\":true,\"threshold\":2}";
        var indexed = IndexedTargets.Parse(Encoding.UTF8.GetBytes(WithRoles(roles)));
        Assert.True(indexed.TryFindDelegation("b", out var role, out var keys));
        Assert.Equal(2, role.Threshold);
        Assert.Empty(keys);
        Assert.False(indexed.TryFindDelegation("c", out _, out _));
        Assert.Equal(["a", "b"], Metadata<Targets>.Parse(Encoding.UTF8.GetBytes(WithRoles(roles, "Targets"))).Signed.Delegations!.RoleNames());
    }

    [Theory]
    [InlineData("{\"hashes\":{\"sha256\":\"00\"},\"length\":999999999999999999}")]
    [InlineData("{\"hashes\":{\"sha256\":\"00\"},\"length\":9223372036854775807}")]
    [InlineData("{\"hashes\":{\"sha256\":\"00\"},\"length\":9223372036854775808}")]
    [InlineData("{\"hashes\":{\"sha256\":\"00\"},\"length\":-0}")]
    [InlineData("{\"hashes\":{\"sha256\":\"00\"},\"length\":0}")]
    [InlineData("{\"hashes\":{\"sha256\":\"00\"},\"length\":-5}")]
    [InlineData("{\"hashes\":{\"sha256\":\"00\"},\"length\":true}")]
    [InlineData("{\"hashes\":{\"sha256\":\"00\",\"sha512\":null},\"length\":1}")]
    [InlineData("{\"hashes\":{\"sh\\u0061256\":\"0\\u0030\"},\"length\":1}")]
    [InlineData("{\"hashes\":[],\"length\":1}")]
    [InlineData("{\"hashes\":{},\"length\":1}")]
    [InlineData("{\"hashes\":{\"sha256\":\"00\"},\"length\":1,\"custom\":null}")]
    [InlineData("{\"hashes\":{\"sha256\":\"00\"},\"length\":1,\"custom\":{\"x\":[1,2]},\"unknown\":[]}")]
    [InlineData("{\"hashes\":{\"sha256\":\"00\"}}")]
    [InlineData("[]")]
    [InlineData("\"entry\"")]
    public void Target_entries_at_the_edges_are_judged_alike(string entry) => AssertSameOutcome(WithEntry(entry));

    [Theory]
    [InlineData("{\"keyids\":[\"k1\"],\"name\":\"a\",\"paths\":[\"*\"],\"terminating\":false,\"threshold\":1}")]
    [InlineData("{\"keyids\":[\"k1\"],\"name\":\"a\",\"paths\":[\"*\"],\"terminating\":false,\"threshold\":1},{\"keyids\":[],\"name\":\"a\",\"paths\":[],\"terminating\":true,\"threshold\":2}")]
    [InlineData("{\"keyids\":[\"k1\"],\"name\":\"a\",\"paths\":[\"*\"],\"terminating\":false,\"threshold\":1},{\"keyids\":[],\"name\":\"\\u0061\",\"paths\":[],\"terminating\":true,\"threshold\":2}")]
    [InlineData("{\"keyids\":[\"k1\"],\"name\":\"\\u0062\",\"paths\":[\"*\"],\"terminating\":false,\"threshold\":1},{\"keyids\":[],\"name\":\"a\",\"paths\":[],\"terminating\":true,\"threshold\":2}")]
    [InlineData("{\"keyids\":[\"k1\",\"k1\"],\"name\":\"a\",\"paths\":[],\"terminating\":false,\"threshold\":1}")]
    [InlineData("{\"keyids\":[\"k1\",\"\\u006b1\"],\"name\":\"a\",\"paths\":[],\"terminating\":false,\"threshold\":1}")]
    [InlineData("{\"keyids\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\",\"11\",\"12\",\"13\",\"14\",\"15\",\"16\",\"17\"],\"name\":\"a\",\"paths\":[],\"terminating\":false,\"threshold\":1}")]
    [InlineData("{\"keyids\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\",\"11\",\"12\",\"13\",\"14\",\"15\",\"16\",\"1\"],\"name\":\"a\",\"paths\":[],\"terminating\":false,\"threshold\":1}")]
    [InlineData("{\"keyids\":[],\"name\":\"a\",\"paths\":[],\"terminating\":false,\"threshold\":999999999}")]
    [InlineData("{\"keyids\":[],\"name\":\"a\",\"paths\":[],\"terminating\":false,\"threshold\":2147483647}")]
    [InlineData("{\"keyids\":[],\"name\":\"a\",\"paths\":[],\"terminating\":false,\"threshold\":2147483648}")]
    [InlineData("{\"keyids\":[],\"name\":\"a\",\"paths\":[],\"terminating\":false,\"threshold\":0}")]
    [InlineData("{\"keyids\":[],\"name\":\"a\",\"paths\":[],\"terminating\":false,\"threshold\":-0}")]
    [InlineData("{\"keyids\":[],\"name\":\"\",\"paths\":[],\"terminating\":false,\"threshold\":1}")]
    [InlineData("{\"keyids\":[],\"name\":\"targets\",\"paths\":[],\"terminating\":false,\"threshold\":1}")]
    [InlineData("{\"keyids\":[],\"name\":\"t\\u0061rgets\",\"paths\":[],\"terminating\":false,\"threshold\":1}")]
    [InlineData("{\"keyids\":[],\"name\":\"a\",\"paths\":[],\"threshold\":1}")]
    [InlineData("{\"keyids\":[],\"name\":\"a\",\"paths\":[],\"terminating\":null,\"threshold\":1}")]
    [InlineData("{\"keyids\":[],\"name\":\"a\",\"terminating\":false,\"threshold\":1}")]
    [InlineData("{\"keyids\":[],\"name\":\"a\",\"paths\":[],\"path_hash_prefixes\":[],\"terminating\":false,\"threshold\":1}")]
    [InlineData("{\"keyids\":[],\"name\":\"a\",\"path_hash_prefixes\":[\"00\",1],\"terminating\":false,\"threshold\":1}")]
    [InlineData("{\"keyids\":[],\"name\":\"a\",\"paths\":{},\"terminating\":false,\"threshold\":1}")]
    [InlineData("{\"keyids\":[1],\"name\":\"a\",\"paths\":[],\"terminating\":false,\"threshold\":1}")]
    [InlineData("{\"keyids\":{},\"name\":\"a\",\"paths\":[],\"terminating\":false,\"threshold\":1}")]
    [InlineData("{\"name\":\"a\",\"paths\":[],\"terminating\":false,\"threshold\":1}")]
    [InlineData("{\"keyids\":[],\"name\":7,\"paths\":[],\"terminating\":false,\"threshold\":1}")]
    [InlineData("[]")]
    public void Delegated_roles_at_the_edges_are_judged_alike(string roles)
    {
        AssertSameOutcome(WithRoles(roles));
        AssertSameOutcome(WithRoles(roles, "Targets"));
    }

    /// <summary>
    /// RepositoryVerifier reads targets roles through the index: its verdict on each file must be the one the model
    /// gives for the same bytes, on a repository with a large delegated role, intact, tampered and under-signed.
    /// </summary>
    [Fact]
    public void Repository_verification_through_the_index_gives_the_models_verdicts()
    {
        var rootKey = NewKey(KeyAlgorithm.EcdsaP256);
        var targetsKey = NewKey(KeyAlgorithm.Ed25519);
        var binKeys = new[] { NewKey(KeyAlgorithm.EcdsaP256), NewKey(KeyAlgorithm.Rsa2048) };
        var root = Metadata<Root>.Create(Root.Create(Dialect.TufSpecification, Now.AddDays(365)));
        foreach (var r in Root.TopLevelRoles)
        {
            root.Signed.AddKey(r, r == "targets" ? targetsKey.Key : rootKey.Key);
        }

        root.SignWith(rootKey.Signer, rootKey.Key);
        var top = Metadata<Targets>.Create(Targets.Create(Dialect.TufSpecification, Now.AddDays(30)));
        top.Signed.AddDelegation("large", [.. binKeys.Select(k => k.Key)], 2, ["*"]);
        top.Signed.AddDelegation("other", [binKeys[0].Key], 1, ["other/*"]);
        top.SignWith(targetsKey.Signer, targetsKey.Key);
        var large = Document(LargeSigned(5_000));
        foreach (var (signer, key) in binKeys)
        {
            large.SignWith(signer, key);
        }

        var largeBytes = large.ToBytes();
        var tampered = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(largeBytes).Replace("\"version\":3", "\"version\":4", StringComparison.Ordinal));
        var underSigned = Document(LargeSigned(500));
        underSigned.SignWith(binKeys[1].Signer, binKeys[1].Key);

        foreach (var delegated in new[] { largeBytes, tampered, underSigned.ToBytes() })
        {
            var results = RepositoryVerifier.Verify(root, [("targets.json", top.ToBytes()), ("large.json", delegated)], Now);
            var byIndex = results.Single(r => r.Role == "large");
            var model = Metadata<Targets>.Parse(delegated, MetadataParseOptions.Default.WithMaxBytes(delegated.Length));
            var byModel = Verifier.VerifyDelegated("large", top.Signed, model);
            AssertSameVerdict(byModel, byIndex.Result!);
            Assert.Equal(byModel.Verified, byIndex.Verified);
            Assert.Equal(model.Signed.Version, byIndex.Version);
            var topResult = results.Single(r => r.Role == "targets");
            AssertSameVerdict(Verifier.VerifyTopLevel(root.Signed, top), topResult.Result!);
            Assert.True(topResult.Verified);
        }

        // A role nobody given delegates to, and an unparseable file, are reported as before.
        var lonely = RepositoryVerifier.Verify(root, [("nobody.json", largeBytes), ("broken.json", "{\"signed\":1}"u8.ToArray())], Now);
        Assert.Contains("no verified targets role given delegates to \"nobody\"", Assert.Single(lonely, r => r.Role == "nobody").Errors);
        Assert.Equal("$.signed: expected an object, found integer", Assert.Single(Assert.Single(lonely, r => r.Role == "?").Errors));
    }

    private static void AssertSameSummary(byte[] file)
    {
        var options = MetadataParseOptions.Default.WithMaxBytes(file.Length);
        var model = MetadataReader.Parse(file, options);
        using var text = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        MetadataSummary.Describe(IndexedTargets.Parse(file, options), Now, text);
        Assert.Equal(MetadataSummary.Describe(model, Now), text.ToString());
    }

    [Fact]
    public void The_summary_read_through_the_index_is_the_models()
    {
        var key = NewKey(KeyAlgorithm.EcdsaP256);
        var md = Document(LargeSigned(3_000));
        md.SignWith(key.Signer, key.Key);
        AssertSameSummary(md.ToBytes());

        // Succinct hash bins with keys, and no delegations at all.
        var bins = Targets.Create(Dialect.TufSpecification, Now.AddDays(3));
        bins.SetSuccinctDelegations([key.Key], 1, 10, "bin");
        bins.SetTarget("a", 1, new Dictionary<string, string> { ["sha256"] = "00" });
        AssertSameSummary(Metadata<Targets>.Create(bins).ToBytes());
        AssertSameSummary(Metadata<Targets>.Create(Targets.Create(Dialect.TufSpecification, Now.AddDays(-3))).ToBytes());
        AssertSameSummary(Metadata<Targets>.Create(Targets.Create(Dialect.Notary, Now.AddDays(3))).ToBytes());

        // Delegated roles with keys that are missing, unusable, and the same public key twice.
        var listed = Targets.Create(Dialect.TufSpecification, Now.AddDays(3));
        listed.AddDelegation("r1", [key.Key], 2, ["a/*", "b"], terminating: true);
        listed.AddDelegation("r2", [key.Key, NewKey(KeyAlgorithm.Ed25519).Key], 1, []);
        var text = Encoding.UTF8.GetString(Metadata<Targets>.Create(listed).ToBytes()).Replace("\"paths\":[]", "\"path_hash_prefixes\":[\"00\",\"ff\"]", StringComparison.Ordinal);
        AssertSameSummary(Encoding.UTF8.GetBytes(text));
    }

    private static void AssertSameChanges(byte[] before, byte[] after)
    {
        var options = MetadataParseOptions.Default.WithMaxBytes(Math.Max(before.Length, after.Length));
        var a = MetadataReader.Parse(before, options);
        var b = MetadataReader.Parse(after, options);
        var ia = IndexedTargets.Parse(before, options);
        var ib = IndexedTargets.Parse(after, options);
        Assert.Equal(MetadataSummary.Changes(a, b), MetadataSummary.Changes(ia, ib));
        Assert.Equal(MetadataSummary.DescribeChanges(a, b), MetadataSummary.DescribeChanges(ia, ib));
    }

    [Fact]
    public void The_changes_read_through_the_index_are_the_models()
    {
        var k1 = NewKey(KeyAlgorithm.EcdsaP256);
        var k2 = NewKey(KeyAlgorithm.Ed25519);
        var before = LargeSigned(2_000);
        var after = (JsonObject)before.DeepClone();
        var targets = (JsonObject)after["targets"];
        var paths = targets.Keys.ToList();
        for (var i = 0; i < 60; i++)
        {
            var path = paths[i * 31];
            switch (i % 4)
            {
                case 0:
                    targets.Remove(path);
                    break;
                case 1:
                    ((JsonObject)targets[path]).Set("length", 12345 + i);
                    break;
                case 2:
                    ((JsonObject)targets[path]).Set("custom", new JsonObject { { "changed", i } });
                    break;
                default:
                    targets.Add($"new/é/{i}", new JsonObject { { "hashes", new JsonObject { { "sha256", "ab" } } }, { "length", i } });
                    break;
            }
        }

        after.Set("version", 4);
        after.Set("expires", "2031-01-01T00:00:00Z");
        after.Set("x-unknown", new JsonObject { { "kept", false } });
        var roles = (JsonArray)((JsonObject)after["delegations"])["roles"];
        roles.Add(DelegatedRole.CreateJson("added", [k1.Key.KeyId], 1, ["added/*"], true, Dialect.TufSpecification));
        ((JsonObject)((JsonObject)after["delegations"])["keys"]).Add(k1.Key.KeyId, k1.Key.Json.DeepClone());
        AssertSameChanges(Document(before).ToBytes(), Document(after).ToBytes());
        AssertSameChanges(Document(after).ToBytes(), Document(before).ToBytes());
        AssertSameChanges(Document(before).ToBytes(), Document(before).ToBytes());

        // Delegated roles changed, reordered, removed; succinct bins replaced; delegations removed altogether.
        var x = Targets.Create(Dialect.TufSpecification, Now.AddDays(9));
        x.AddDelegation("r1", [k1.Key], 1, ["a/*"]);
        x.AddDelegation("r2", [k2.Key], 1, ["b/*"]);
        x.AddDelegation("r3", [k1.Key, k2.Key], 2, ["c/*"]);
        var y = Targets.Create(Dialect.TufSpecification, Now.AddDays(10));
        y.AddDelegation("r3", [k1.Key], 1, ["c/*", "d/*"], terminating: true);
        y.AddDelegation("r1", [k1.Key, k2.Key], 1, ["a/*"]);
        var z = Targets.Create(Dialect.TufSpecification, Now.AddDays(10));
        z.SetSuccinctDelegations([k2.Key], 1, 8, "bins");
        var none = Targets.Create(Dialect.TufSpecification, Now.AddDays(10));
        var notary = Targets.Create(Dialect.Notary, Now.AddDays(10));
        foreach (var (p, q) in new[] { (x, y), (y, x), (y, z), (z, y), (z, none), (none, x), (x, notary) })
        {
            AssertSameChanges(Metadata<Targets>.Create(p).ToBytes(), Metadata<Targets>.Create(q).ToBytes());
        }
    }

    [Theory]
    [InlineData("python-tuf-testdata/repository_data/repository/metadata/targets.json")]
    [InlineData("python-tuf-testdata/repository_data/repository/metadata/role1.json")]
    [InlineData("sigstore-root-chain/targets.json")]
    [InlineData("sigstore-root-chain/registry.npmjs.org.json")]
    [InlineData("notary-fixtures/notary0.3/tuf/docker.com/notary0.3/tst/metadata/targets.json")]
    [InlineData("notary-fixtures/notary0.3/tuf/docker.com/notary0.3/tst/metadata/targets/releases.json")]
    public void The_summary_of_public_vectors_read_through_the_index_is_the_models(string file)
    {
        var dir = TestEnvironment.RequireVectors(Path.GetDirectoryName(file)!);
        AssertSameSummary(File.ReadAllBytes(Path.Combine(dir, Path.GetFileName(file))));
    }

    /// <summary>Every targets file among the public vectors, against the role that delegates to it.</summary>
    [Theory]
    [InlineData("python-tuf-testdata/repository_data/repository/metadata", "root.json", "targets.json", "role1.json", "role1")]
    [InlineData("python-tuf-testdata/repository_data/repository/metadata", "root.json", "role1.json", "role2.json", "role2")]
    [InlineData("sigstore-root-chain", "15.root.json", "targets.json", "registry.npmjs.org.json", "registry.npmjs.org")]
    [InlineData("notary-fixtures/notary0.3/tuf/docker.com/notary0.3/tst/metadata", "root.json", "targets.json", "targets/releases.json", "targets/releases")]
    public void Public_vectors_verify_alike(string dir, string rootFile, string delegatorFile, string delegatedFile, string role)
    {
        var path = TestEnvironment.RequireVectors(dir);
        var root = Metadata<Root>.Parse(File.ReadAllBytes(Path.Combine(path, rootFile)));
        var targetsBytes = File.ReadAllBytes(Path.Combine(path, delegatorFile));
        var targets = Metadata<Targets>.Parse(targetsBytes);
        var indexedTargets = IndexedTargets.Parse(targetsBytes);
        Assert.Equal(targets.SignedBytes(), indexedTargets.SignedBytes());
        if (delegatorFile == "targets.json")
        {
            var topModel = Verifier.VerifyTopLevel(root.Signed, targets);
            AssertSameVerdict(topModel, Verifier.Verify("targets", root.Signed.Roles["targets"], root.Signed.Keys, indexedTargets));
            Assert.True(topModel.Verified);
        }

        var delegated = VerifyBoth(File.ReadAllBytes(Path.Combine(path, delegatedFile)), role, targets.Signed);
        Assert.True(delegated.Verified, string.Join("; ", delegated.Problems));
    }

    [Fact]
    public void Other_metadata_types_are_refused()
    {
        var dir = TestEnvironment.RequireVectors("python-tuf-testdata/repository_data/repository/metadata");
        foreach (var name in new[] { "root.json", "snapshot.json", "timestamp.json" })
        {
            var e = Assert.ThrowsAny<MetadataException>(() => IndexedTargets.Parse(File.ReadAllBytes(Path.Combine(dir, name))));
            Assert.Contains("expected targets metadata", e.Message, StringComparison.Ordinal);
        }
    }
}
