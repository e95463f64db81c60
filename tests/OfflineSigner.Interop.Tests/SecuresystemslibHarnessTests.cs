using System.Security.Cryptography;
using System.Text;
using OfflineSigner.Interop.Tests.Fixtures;
using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Interop.Tests;

/// <summary>The securesystemslib peers (canonical.py, sslib_verify.py) against canonical bytes written by hand.</summary>
public class SecuresystemslibHarnessTests
{
    // Expected canonical forms written by hand: keys sorted by code point, no whitespace, only " and \ escaped,
    // everything else (control characters, non-ASCII) raw UTF-8.
    public static TheoryData<string, string> KnownCanonicalForms => new()
    {
        { "{ \"b\" : 1 ,\n \"a\" : [ true , false , null ] }", "{\"a\":[true,false,null],\"b\":1}" },
        { "{\"s\": \"quote \\\" backslash \\\\ slash \\/ tab \\t nl \\n ctl \\u0001 del \\u007f\"}", "{\"s\":\"quote \\\" backslash \\\\ slash / tab \t nl \n ctl \u0001 del \u007f\"}" },
        { "{\"\\ud83d\\ude00\": 1, \"\\uffff\": 2, \"\\u00e9\": \"\\u00fc\", \"z\": 0}", "{\"z\":0,\"\u00e9\":\"\u00fc\",\"\uffff\":2,\"\ud83d\ude00\":1}" },
        { "[123456789012345678901234567890, -9223372036854775809, 0, -0]", "[123456789012345678901234567890,-9223372036854775809,0,0]" },
        { "{\"nested\": {\"b\": {}, \"a\": []}, \"\": \"\"}", "{\"\":\"\",\"nested\":{\"a\":[],\"b\":{}}}" },
        { "\"just a string\"", "\"just a string\"" },
    };

    [Theory]
    [MemberData(nameof(KnownCanonicalForms))]
    public void Canonical_py_writes_the_hand_written_canonical_bytes(string json, string expected)
    {
        var bytes = Securesystemslib.Canonical(Encoding.UTF8.GetBytes(json));
        Assert.Equal(Encoding.UTF8.GetBytes(expected), bytes);
    }

    [Theory]
    [InlineData("{\"a\": 1.5}", "FormatError")]
    [InlineData("{\"a\": 1e3}", "FormatError")]
    [InlineData("[NaN]", "FormatError")]
    [InlineData("{\"a\": 1, \"a\": 2}", "DuplicateKeyError")]
    [InlineData("[\"\\ud800\"]", "UnicodeEncodeError")]
    [InlineData("{\"a\": ", "JSONDecodeError")]
    public void Canonical_py_refuses_what_canonical_json_cannot_hold(string json, string errorClass)
    {
        var result = Securesystemslib.TryCanonical(Encoding.UTF8.GetBytes(json));
        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith(errorClass + ":", result.StdErr, StringComparison.Ordinal);
        Assert.Throws<PeerToolException>(() => Securesystemslib.Canonical(Encoding.UTF8.GetBytes(json)));
    }

    [Fact]
    public void Canonical_py_signed_mode_and_hash_mode_agree_with_single_documents()
    {
        using var dir = TestEnvironment.CreateTempDir("sslib");
        var docs = new[]
        {
            "{\"signed\": {\"b\": 2, \"a\": 1}, \"signatures\": []}",
            "{\"signed\": {\"\\u00e9\": \"x\"}, \"signatures\": [{\"keyid\": \"k\", \"sig\": \"00\"}]}",
            "{\"signed\": 1.5}",
        };
        var files = docs.Select((d, i) => Path.Combine(dir.Path, $"{i}.json")).ToArray();
        for (var i = 0; i < docs.Length; i++)
        {
            File.WriteAllText(files[i], docs[i]);
        }

        Assert.Equal(Encoding.UTF8.GetBytes("{\"a\":1,\"b\":2}"), Securesystemslib.Canonical(Encoding.UTF8.GetBytes(docs[0]), signedOnly: true));

        var hashes = Securesystemslib.CanonicalSha256(files, signedOnly: true);
        Assert.Equal(Sha256Hex("{\"a\":1,\"b\":2}"), hashes[0]);
        Assert.Equal(Sha256Hex("{\"\u00e9\":\"x\"}"), hashes[1]);
        Assert.StartsWith("!FormatError", hashes[2], StringComparison.Ordinal);
    }

    [Fact]
    public void Sslib_verify_counts_the_python_tuf_targets_signature_and_refuses_a_changed_payload()
    {
        var source = TestEnvironment.RequireVectors("python-tuf-testdata/repository_data/repository/metadata");
        var root = Path.Combine(source, "root.json");
        var ok = Securesystemslib.VerifyWithRoot(root, "targets", Path.Combine(source, "targets.json"));
        Assert.True(ok.Ok, ok.Process.ToString());
        Assert.Single(ok.Valid);

        using var dir = TestEnvironment.CreateTempDir("sslib");
        var tampered = Path.Combine(dir.Path, "targets.json");
        File.WriteAllText(tampered, File.ReadAllText(Path.Combine(source, "targets.json")).Replace("\"length\": 31", "\"length\": 30", StringComparison.Ordinal));
        var bad = Securesystemslib.VerifyWithRoot(root, "targets", tampered);
        Assert.False(bad.Ok);
        Assert.Empty(bad.Valid);
        Assert.Single(bad.Invalid);

        // The wrong role's keys do not count either.
        Assert.False(Securesystemslib.VerifyWithRoot(root, "snapshot", Path.Combine(source, "targets.json")).Ok);
    }

    [Fact]
    public void Sslib_verify_checks_the_sigstore_rotation_5_to_6_against_root_5s_keys()
    {
        var chain = TestEnvironment.RequireVectors("sigstore-root-chain");
        var result = Securesystemslib.VerifyWithRoot(Path.Combine(chain, "5.root.json"), "root", Path.Combine(chain, "6.root.json"));
        Assert.True(result.Ok, result.Process.ToString());
        Assert.True(result.Valid.Count >= result.Threshold);
        Assert.Equal(3, result.Threshold);
    }

    [Fact]
    public void Sslib_verify_checks_one_key_given_as_a_file()
    {
        using var dir = TestEnvironment.CreateTempDir("sslib");
        using var repo = new SpecTestRepository(Path.Combine(dir.Path, "repo"));
        repo.Initialize();
        var rootFile = repo.RootFile(1);
        var rootText = File.ReadAllText(rootFile);
        using var doc = System.Text.Json.JsonDocument.Parse(rootText);
        var signed = doc.RootElement.GetProperty("signed");
        var keyId = signed.GetProperty("roles").GetProperty("root").GetProperty("keyids")[0].GetString()!;
        var keyFile = Path.Combine(dir.Path, "key.json");
        File.WriteAllText(keyFile, signed.GetProperty("keys").GetProperty(keyId).GetRawText());

        // Without --keyid the id is computed from the key: it must be the one the repository used.
        var ok = Securesystemslib.VerifyWithKey(keyFile, rootFile);
        Assert.True(ok.Ok, ok.Process.ToString());
        Assert.Equal(keyId, Assert.Single(ok.Valid));

        var other = signed.GetProperty("roles").GetProperty("targets").GetProperty("keyids")[0].GetString()!;
        File.WriteAllText(keyFile, signed.GetProperty("keys").GetProperty(other).GetRawText());
        Assert.False(Securesystemslib.VerifyWithKey(keyFile, rootFile, keyId).Ok);
    }

    private static string Sha256Hex(string s) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(s)));
}
