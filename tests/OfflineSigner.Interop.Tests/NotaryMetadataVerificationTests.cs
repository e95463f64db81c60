using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using OfflineSigner.Interop.Tests.Fixtures;
using OfflineSigner.Tests.Shared;
using OfflineSigner.Tuf;
using Xunit;

namespace OfflineSigner.Interop.Tests;

/// <summary>
/// Metadata the real notary 0.7 client and server wrote (root rotation and a targets/releases delegation included),
/// fetched over the server's HTTP API and verified by OfflineSigner.Tuf in notary's dialect; and the same files
/// changed after signing, which must be refused.
/// </summary>
public class NotaryMetadataVerificationTests
{
    private const string Gun = "example.com/offlinesigner/verify";

    [Fact]
    public void Our_verifier_accepts_a_notary_repository_with_a_root_rotation_and_a_delegation()
    {
        using var work = TestEnvironment.CreateTempDir("notary-verify");
        var saved = PublishAndSave(work.Path);

        var results = Verify(saved, ["2.root.json", "targets.json", "snapshot.json", "timestamp.json", "targets/releases.json"]);

        Assert.All(results, r => Assert.True(r.Verified, Describe(results)));
        Assert.All(results, r => Assert.Equal(Dialect.Notary, r.Dialect));
        Assert.Equal(
            ["root", "snapshot", "targets", "targets/releases", "timestamp"],
            results.Select(r => r.Role).Order(StringComparer.Ordinal));
        Assert.Equal(2, results.Single(r => r.Role == "root").Version);
    }

    [Fact]
    public void Our_verifier_refuses_notary_metadata_changed_after_signing()
    {
        using var work = TestEnvironment.CreateTempDir("notary-verify");
        var saved = PublishAndSave(work.Path);

        // A target's length in the delegated role: its delegator still verifies, the role itself does not.
        Replace(Path.Combine(saved, "targets", "releases.json"), "\"length\":1}", "\"length\":2}");
        var results = Verify(saved, ["2.root.json", "targets.json", "targets/releases.json"]);
        Assert.True(results.Single(r => r.Role == "root").Verified, Describe(results));
        Assert.True(results.Single(r => r.Role == "targets").Verified, Describe(results));
        Assert.False(results.Single(r => r.Role == "targets/releases").Verified, Describe(results));

        // The top-level targets' expiry.
        Replace(Path.Combine(saved, "targets.json"), "\"expires\":\"20", "\"expires\":\"21");
        results = Verify(saved, ["2.root.json", "targets.json"]);
        Assert.True(results.Single(r => r.Role == "root").Verified, Describe(results));
        Assert.False(results.Single(r => r.Role == "targets").Verified, Describe(results));
    }

    [Fact]
    public void Our_verifier_refuses_a_notary_root_rotation_missing_the_old_roots_signature()
    {
        using var work = TestEnvironment.CreateTempDir("notary-verify");
        var saved = PublishAndSave(work.Path);
        var root1 = Metadata<Root>.Parse(File.ReadAllBytes(Path.Combine(saved, "1.root.json")));
        var oldRootKeyIds = root1.Signed.Roles["root"].KeyIds.ToHashSet(StringComparer.Ordinal);

        // Drop the old root key's signature from root 2: the new root alone cannot rotate.
        var text = File.ReadAllText(Path.Combine(saved, "2.root.json"));
        var doc = System.Text.Json.Nodes.JsonNode.Parse(text)!.AsObject();
        var signatures = doc["signatures"]!.AsArray();
        var before = signatures.Count;
        foreach (var s in signatures.ToList())
        {
            if (oldRootKeyIds.Contains(s!["keyid"]!.GetValue<string>()))
            {
                signatures.Remove(s);
            }
        }

        Assert.True(signatures.Count < before, "root 2 carried no signature by root 1's key");
        File.WriteAllText(Path.Combine(saved, "2.root.json"), doc.ToJsonString());

        var results = Verify(saved, ["2.root.json"]);
        var root = Assert.Single(results);
        Assert.False(root.Verified, Describe(results));
        Assert.Contains(root.Errors, e => e.Contains("root version 1", StringComparison.Ordinal));
    }

    [Fact]
    public void Our_verifier_refuses_a_notary_root_under_another_repository_name()
    {
        using var work = TestEnvironment.CreateTempDir("notary-verify");
        var saved = PublishAndSave(work.Path);

        var results = Verify(saved, ["2.root.json"], gun: "example.com/someone/else");

        Assert.False(Assert.Single(results).Verified, Describe(results));
    }

    // A notary repository: init, a target, a root key rotation, a targets/releases delegation with a target of its
    // own; everything the server serves for it is saved under work/saved.
    private static string PublishAndSave(string work)
    {
        using var server = NotaryServer.Start();
        var owner = new NotaryCli(server, Path.Combine(work, "owner"));
        owner.InitAndPublish(Gun);
        var file = Path.Combine(work, "a.txt");
        File.WriteAllText(file, "a");
        owner.AddAndPublish(Gun, "a", file);
        owner.RotateKey(Gun, "root");

        using var delegationKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=releases", delegationKey, HashAlgorithmName.SHA256);
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddYears(1));
        File.WriteAllText(Path.Combine(work, "releases.crt"), cert.ExportCertificatePem() + "\n");
        File.WriteAllText(Path.Combine(work, "releases.key"), delegationKey.ExportECPrivateKeyPem() + "\n");
        owner.AddDelegationAndPublish(Gun, "targets/releases", Path.Combine(work, "releases.crt"));
        owner.ImportKey(Path.Combine(work, "releases.key"), "targets/releases");
        owner.AddAndPublish(Gun, "b", file, role: "targets/releases");

        var saved = Path.Combine(work, "saved");
        server.SaveTrustData(Gun, saved, "targets/releases");
        Assert.True(File.Exists(Path.Combine(saved, "2.root.json")), "the root rotation was not published");
        return saved;
    }

    private static IReadOnlyList<FileVerification> Verify(string saved, IEnumerable<string> files, string gun = Gun)
    {
        var trusted = Metadata<Root>.Parse(File.ReadAllBytes(Path.Combine(saved, "1.root.json")));
        var list = files.Select(f => (f, File.ReadAllBytes(Path.Combine(saved, f)))).ToList();
        return RepositoryVerifier.Verify(trusted, list, DateTimeOffset.UtcNow, gun: gun);
    }

    private static void Replace(string file, string from, string to)
    {
        var text = File.ReadAllText(file);
        Assert.Contains(from, text, StringComparison.Ordinal);
        var at = text.IndexOf(from, StringComparison.Ordinal);
        File.WriteAllText(file, string.Concat(text.AsSpan(0, at), to, text.AsSpan(at + from.Length)));
    }

    private static string Describe(IEnumerable<FileVerification> results) =>
        string.Join("\n", results.Select(r => $"{r.File} ({r.Role} v{r.Version}): {(r.Verified ? "verified" : "NOT verified")} {r.Result} {string.Join("; ", r.Errors)}"));
}
