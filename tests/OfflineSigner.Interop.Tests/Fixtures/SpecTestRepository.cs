using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace OfflineSigner.Interop.Tests.Fixtures;

/// <summary>
/// A small TUF specification repository written only to exercise the peers (tuf-js, securesystemslib): ECDSA P-256
/// keys from the BCL, canonical bytes from securesystemslib (not from OfflineSigner.Tuf, so a fault in our core
/// cannot hide a fault in the harness), consistent snapshots, laid out as python-tuf does (metadata/, targets/).
/// </summary>
internal sealed class SpecTestRepository : IDisposable
{
    private readonly Dictionary<string, List<ECDsa>> keys = [];
    private readonly SortedDictionary<string, byte[]> targets = new(StringComparer.Ordinal);

    public SpecTestRepository(string dir)
    {
        Dir = dir;
        Directory.CreateDirectory(MetadataDir);
        Directory.CreateDirectory(TargetsDir);
        foreach (var role in new[] { "root", "targets", "snapshot", "timestamp" })
        {
            keys[role] = [ECDsa.Create(ECCurve.NamedCurves.nistP256)];
        }
    }

    public string Dir { get; }

    public string MetadataDir => Path.Combine(Dir, "metadata");

    public string TargetsDir => Path.Combine(Dir, "targets");

    public int RootVersion { get; private set; }

    public int TargetsVersion { get; private set; }

    public DateTimeOffset Expires { get; set; } = DateTimeOffset.UtcNow.AddDays(30);

    public string RootFile(int version) => Path.Combine(MetadataDir, $"{version}.root.json");

    public string TimestampFile => Path.Combine(MetadataDir, "timestamp.json");

    public void AddTarget(string name, byte[] content) => targets[name] = content;

    /// <summary>Writes root version 1 and the first targets, snapshot and timestamp.</summary>
    public void Initialize()
    {
        WriteRoot(1, keys["root"]);
        RootVersion = 1;
        PublishTargets();
    }

    /// <summary>Writes targets (with the target files), snapshot and timestamp, each one version up.</summary>
    public void PublishTargets()
    {
        TargetsVersion++;
        var targetsObj = new JsonObject();
        foreach (var (name, content) in targets)
        {
            var hash = Convert.ToHexStringLower(SHA256.HashData(content));
            targetsObj[name] = new JsonObject
            {
                ["length"] = content.Length,
                ["hashes"] = new JsonObject { ["sha256"] = hash },
            };
            File.WriteAllBytes(Path.Combine(TargetsDir, $"{hash}.{name}"), content);
        }

        WriteSigned($"{TargetsVersion}.targets.json", Signed("targets", TargetsVersion, new() { ["targets"] = targetsObj }), keys["targets"]);
        var meta = new JsonObject { ["targets.json"] = new JsonObject { ["version"] = TargetsVersion } };
        WriteSigned($"{TargetsVersion}.snapshot.json", Signed("snapshot", TargetsVersion, new() { ["meta"] = meta }), keys["snapshot"]);
        var tsMeta = new JsonObject { ["snapshot.json"] = new JsonObject { ["version"] = TargetsVersion } };
        WriteSigned("timestamp.json", Signed("timestamp", TargetsVersion, new() { ["meta"] = tsMeta }), keys["timestamp"]);
    }

    /// <summary>
    /// Replaces the root key and writes root N+1, signed by the new key and, when <paramref name="crossSign"/>, by the
    /// old one too (the TUF rule: a threshold of the previous root's keys and of its own).
    /// </summary>
    public void RotateRoot(bool crossSign = true)
    {
        var old = keys["root"];
        keys["root"] = [ECDsa.Create(ECCurve.NamedCurves.nistP256)];
        RootVersion++;
        WriteRoot(RootVersion, crossSign ? [.. keys["root"], .. old] : keys["root"]);
    }

    public void Dispose()
    {
        foreach (var k in keys.Values.SelectMany(k => k))
        {
            k.Dispose();
        }
    }

    private static JsonObject KeyObject(ECDsa key) => new()
    {
        ["keytype"] = "ecdsa",
        ["scheme"] = "ecdsa-sha2-nistp256",
        ["keyval"] = new JsonObject { ["public"] = key.ExportSubjectPublicKeyInfoPem() + "\n" },
    };

    private static string KeyId(ECDsa key) =>
        Convert.ToHexStringLower(SHA256.HashData(Securesystemslib.Canonical(JsonSerializer.SerializeToUtf8Bytes(KeyObject(key)))));

    private void WriteRoot(int version, IReadOnlyList<ECDsa> signers)
    {
        var keysObj = new JsonObject();
        var roles = new JsonObject();
        foreach (var (role, roleKeys) in keys)
        {
            var ids = new JsonArray();
            foreach (var k in roleKeys)
            {
                var id = KeyId(k);
                keysObj[id] = KeyObject(k);
                ids.Add(id);
            }

            roles[role] = new JsonObject { ["keyids"] = ids, ["threshold"] = 1 };
        }

        var signed = Signed("root", version, new()
        {
            ["consistent_snapshot"] = true,
            ["keys"] = keysObj,
            ["roles"] = roles,
        });
        WriteSigned($"{version}.root.json", signed, signers);
    }

    private JsonObject Signed(string type, int version, Dictionary<string, JsonNode> fields)
    {
        var o = new JsonObject
        {
            ["_type"] = type,
            ["spec_version"] = "1.0.31",
            ["version"] = version,
            ["expires"] = Expires.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
        };
        foreach (var (k, v) in fields)
        {
            o[k] = v;
        }

        return o;
    }

    private void WriteSigned(string file, JsonObject signed, IReadOnlyList<ECDsa> signers)
    {
        var payload = Securesystemslib.Canonical(JsonSerializer.SerializeToUtf8Bytes(signed));
        var signatures = new JsonArray();
        foreach (var key in signers)
        {
            var sig = key.SignData(payload, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
            signatures.Add(new JsonObject { ["keyid"] = KeyId(key), ["sig"] = Convert.ToHexStringLower(sig) });
        }

        var doc = new JsonObject { ["signatures"] = signatures, ["signed"] = signed };
        File.WriteAllText(Path.Combine(MetadataDir, file), doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n", new UTF8Encoding(false));
    }
}
