using OfflineSigner.Tests.Shared;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Crypto;
using OfflineSigner.Tuf.Json;

namespace OfflineSigner.Signing.Tests;

/// <summary>Reads the public vectors the way a verifier must: the signed bytes are the canonical JSON of "signed".</summary>
internal static class VectorData
{
    public static JsonObject Load(string path) => (JsonObject)JsonParser.Parse(File.ReadAllBytes(path));

    public static JsonObject Signed(JsonObject document) => (JsonObject)document["signed"];

    public static byte[] SignedBytes(JsonObject document) => CanonicalJson.Serialize(Signed(document));

    public static Dictionary<string, JsonObject> Keys(JsonObject keysObject) =>
        keysObject.ToDictionary(p => p.Key, p => (JsonObject)p.Value, StringComparer.Ordinal);

    public static Dictionary<string, JsonObject> RootKeys(JsonObject root) => Keys((JsonObject)Signed(root)["keys"]);

    public static Dictionary<string, JsonObject> DelegationKeys(JsonObject targets) =>
        Keys((JsonObject)((JsonObject)Signed(targets)["delegations"])["keys"]);

    /// <summary>One signature of a document: key id, method (notary) and the decoded signature bytes.</summary>
    public static IEnumerable<(string KeyId, string? Method, byte[] Sig)> Signatures(JsonObject document, Dialect dialect)
    {
        foreach (var node in (JsonArray)document["signatures"])
        {
            var sig = (JsonObject)node;
            var text = ((JsonString)sig["sig"]).Value;
            var bytes = dialect == Dialect.Notary ? Convert.FromBase64String(text) : Convert.FromHexString(text);
            var method = sig.TryGetValue("method", out var m) ? ((JsonString)m).Value : null;
            yield return (((JsonString)sig["keyid"]).Value, method, bytes);
        }
    }

    public static bool Verify(JsonObject keyObject, Dialect dialect, string? method, byte[] message, byte[] signature) =>
        Verifier(keyObject, dialect)(method, message, signature);

    /// <summary>Decodes the key once and returns a function that verifies with it.</summary>
    public static Func<string?, byte[], byte[], bool> Verifier(JsonObject keyObject, Dialect dialect)
    {
        var key = KeyFormats.Decode(keyObject, dialect, "$.key");
        var keyType = ((JsonString)keyObject["keytype"]).Value;
        var scheme = keyObject.TryGetValue("scheme", out var s) ? ((JsonString)s).Value : null;
        return (method, message, signature) => SignatureVerifier.Verify(key, dialect, keyType, scheme, method, message, signature);
    }

    public static string SigstoreRoot(int version) =>
        Path.Combine(TestEnvironment.RequireVectors("sigstore-root-chain"), $"{version}.root.json");

    public static int SigstoreRootCount() =>
        Directory.GetFiles(TestEnvironment.RequireVectors("sigstore-root-chain"), "*.root.json").Length;

    public static string NotaryMetadata(string version, string file)
    {
        var dir = TestEnvironment.RequireVectors("notary-fixtures");
        var repo = version == "0.1" ? "notary0.1/tuf/docker.com/notary0.1/samplerepo" : "notary0.3/tuf/docker.com/notary0.3/tst";
        return Path.Combine(dir, repo, "metadata", file);
    }
}
