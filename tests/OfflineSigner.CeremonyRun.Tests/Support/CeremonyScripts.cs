using System.Globalization;
using System.Text.Json.Nodes;
using OfflineSigner.Signing;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Crypto;
using CanonicalJson = OfflineSigner.Tuf.Json.CanonicalJson;
using JsonObject = System.Text.Json.Nodes.JsonObject;

namespace OfflineSigner.CeremonyRun.Tests.Support;

/// <summary>The sample ceremony script (tests/OfflineSigner.Ceremony.Tests/Scripts) with this rig's devices and fresh witness keys.</summary>
internal static class CeremonyScripts
{
    public static string SamplePath => Path.Combine(AppContext.BaseDirectory, "Scripts", "root-ceremony.json");

    /// <summary>The sample rotation of the releases delegation in the repository the sample root ceremony made.</summary>
    public static string RotationSamplePath => Path.Combine(AppContext.BaseDirectory, "Scripts", "delegation-rotation.json");

    /// <summary>Writes the script (and each witness's PKCS#8 key beside it, as WITNESS.pem); <paramref name="edit"/> changes it further.</summary>
    public static string Write(CeremonyRig rig, string name, string tokenSerial, Action<JsonObject>? edit = null) =>
        Write(rig, SamplePath, name, tokenSerial, edit);

    /// <summary>As <see cref="Write(CeremonyRig, string, string, Action{JsonObject}?)"/>, from <paramref name="sample"/>.</summary>
    public static string Write(CeremonyRig rig, string sample, string name, string tokenSerial, Action<JsonObject>? edit = null)
    {
        ArgumentNullException.ThrowIfNull(rig);
        var json = JsonNode.Parse(File.ReadAllText(sample))!.AsObject();

        // Holders keep their devices across the samples: alice, bob and carol the three YubiKeys, hsm-ops the token.
        string[] yubiKeyHolders = ["alice", "bob", "carol"];
        foreach (var holder in json["people"]!["key_holders"]!.AsArray())
        {
            var id = holder!["id"]!.GetValue<string>();
            var index = Array.IndexOf(yubiKeyHolders, id);
            holder["device"]!["serial"] = index >= 0 ? rig.Serials[index].ToString(CultureInfo.InvariantCulture) : tokenSerial;
        }
        foreach (var w in json["people"]!["witnesses"]!.AsArray())
        {
            using var key = SoftwareKeySigner.Generate(KeyAlgorithm.Ed25519);
            var pem = rig.Path(w!["id"]!.GetValue<string>() + ".pem");
            File.Delete(pem);
            key.SavePkcs8Pem(pem);
            var keyObject = KeyFormats.Encode(key.PublicKey, Dialect.TufSpecification);
            w["public_key"] = JsonNode.Parse(System.Text.Encoding.UTF8.GetString(CanonicalJson.Serialize(keyObject)));
        }

        edit?.Invoke(json);
        var path = rig.Path(name);
        File.WriteAllText(path, json.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        return path;
    }
}
