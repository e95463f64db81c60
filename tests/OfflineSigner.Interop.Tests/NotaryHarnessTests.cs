using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using OfflineSigner.Interop.Tests.Fixtures;
using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Interop.Tests;

/// <summary>The notary-server and notary CLI harnesses, proven against the real Debian notary 0.7.</summary>
public class NotaryHarnessTests
{
    [Fact]
    public async Task Server_starts_on_loopback_answers_health_and_stops_by_pid()
    {
        int pid;
        using (var server = NotaryServer.Start())
        {
            pid = server.Pid;
            Assert.StartsWith("http://127.0.0.1:", server.Url, StringComparison.Ordinal);
            using var http = new HttpClient();
            using var response = await http.GetAsync(new Uri(server.Url + "/_notary_server/health"), TestContext.Current.CancellationToken);
            Assert.True(response.IsSuccessStatusCode, $"health answered {(int)response.StatusCode}");

            // Memory storage: an unknown repository has no root.
            Assert.Null(server.TryGetTrustFile("example.com/nothing-here", "root.json"));
        }

        Assert.True(HasExited(pid), $"notary-server (pid {pid}) still runs after dispose");
    }

    [Fact]
    public void Init_publish_add_and_list_round_trip_with_fresh_trust_dirs()
    {
        using var server = NotaryServer.Start();
        using var work = TestEnvironment.CreateTempDir("notary-cli");
        var owner = new NotaryCli(server, Path.Combine(work.Path, "owner"));
        const string gun = "example.com/offlinesigner/roundtrip";

        owner.InitAndPublish(gun);
        Assert.Empty(FreshClient(owner, work, "empty").List(gun));

        var content = Encoding.UTF8.GetBytes("payload of v1\n");
        var file = Path.Combine(work.Path, "v1.txt");
        File.WriteAllBytes(file, content);
        owner.AddAndPublish(gun, "v1", file);

        foreach (var client in new[] { owner, FreshClient(owner, work, "fresh") })
        {
            var target = Assert.Single(client.List(gun));
            Assert.Equal("v1", target.Name);
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(content)), target.Sha256);
            Assert.Equal(content.Length, target.Size);
            Assert.Equal("targets", target.Role);
        }
    }

    [Fact]
    public void Listing_a_repository_never_published_fails_with_notary_output()
    {
        using var server = NotaryServer.Start();
        using var work = TestEnvironment.CreateTempDir("notary-cli");
        var client = new NotaryCli(server, Path.Combine(work.Path, "trust"));

        var e = Assert.Throws<PeerToolException>(() => client.List("example.com/never/published"));
        Assert.Contains("notary list failed", e.Message, StringComparison.Ordinal);
        Assert.Contains("stderr:", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Published_metadata_is_fetched_over_http_and_its_signatures_verify_independently()
    {
        using var server = NotaryServer.Start();
        using var work = TestEnvironment.CreateTempDir("notary-cli");
        var owner = new NotaryCli(server, Path.Combine(work.Path, "owner"));
        const string gun = "example.com/offlinesigner/fetch";
        owner.InitAndPublish(gun);
        var file = Path.Combine(work.Path, "a.txt");
        File.WriteAllText(file, "a");
        owner.AddAndPublish(gun, "a", file);

        var saved = Path.Combine(work.Path, "saved");
        var files = server.SaveTrustData(gun, saved);
        Assert.Contains(Path.Combine(saved, "1.root.json"), files);
        Assert.Equal(File.ReadAllBytes(Path.Combine(saved, "root.json")), File.ReadAllBytes(Path.Combine(saved, "1.root.json")));

        var root = File.ReadAllBytes(Path.Combine(saved, "root.json"));
        using var rootDoc = JsonDocument.Parse(root);
        var signed = rootDoc.RootElement.GetProperty("signed");
        Assert.Equal("Root", signed.GetProperty("_type").GetString());
        Assert.False(signed.GetProperty("consistent_snapshot").GetBoolean());

        // The root signs itself with its x509 root key; targets is signed by the targets key the root lists.
        var rootKeyIds = signed.GetProperty("roles").GetProperty("root").GetProperty("keyids").EnumerateArray().Select(k => k.GetString()!).ToList();
        var rootKey = signed.GetProperty("keys").GetProperty(Assert.Single(rootKeyIds));
        Assert.Equal("ecdsa-x509", rootKey.GetProperty("keytype").GetString());
        using (var cert = X509Certificate2.CreateFromPem(Encoding.ASCII.GetString(Convert.FromBase64String(rootKey.GetProperty("keyval").GetProperty("public").GetString()!))))
        {
            Assert.Equal("CN=" + gun, cert.Subject);
            using var publicKey = cert.GetECDsaPublicKey()!;
            Assert.True(NotaryEcdsaSignatureVerifies(root, rootKeyIds[0], publicKey), "notary's root signature does not verify over securesystemslib's canonical bytes");
            Assert.False(NotaryEcdsaSignatureVerifies(Tamper(root, "\"version\":1", "\"version\":7"), rootKeyIds[0], publicKey), "a tampered root still verified: the check cannot fail");
        }

        var targetsKeyId = Assert.Single(signed.GetProperty("roles").GetProperty("targets").GetProperty("keyids").EnumerateArray()).GetString()!;
        var targetsKey = signed.GetProperty("keys").GetProperty(targetsKeyId);
        Assert.Equal("ecdsa", targetsKey.GetProperty("keytype").GetString());
        using var targetsPublic = ECDsa.Create();
        targetsPublic.ImportSubjectPublicKeyInfo(Convert.FromBase64String(targetsKey.GetProperty("keyval").GetProperty("public").GetString()!), out _);
        var targets = File.ReadAllBytes(Path.Combine(saved, "targets.json"));
        Assert.True(NotaryEcdsaSignatureVerifies(targets, targetsKeyId, targetsPublic), "notary's targets signature does not verify");
        using var targetsDoc = JsonDocument.Parse(targets);
        Assert.Equal(1, targetsDoc.RootElement.GetProperty("signed").GetProperty("targets").GetProperty("a").GetProperty("length").GetInt32());
    }

    [Fact]
    public void Root_rotation_and_a_delegation_are_accepted_by_cached_and_fresh_clients()
    {
        using var server = NotaryServer.Start();
        using var work = TestEnvironment.CreateTempDir("notary-cli");
        var owner = new NotaryCli(server, Path.Combine(work.Path, "owner"));
        const string gun = "example.com/offlinesigner/rotation";
        owner.InitAndPublish(gun);
        var file = Path.Combine(work.Path, "a.txt");
        File.WriteAllText(file, "a");
        owner.AddAndPublish(gun, "a", file);

        var cached = FreshClient(owner, work, "cached");
        Assert.Single(cached.List(gun));

        owner.RotateKey(gun, "root");
        using (var root2 = JsonDocument.Parse(server.GetTrustFile(gun, "2.root.json")))
        {
            Assert.Equal(2, root2.RootElement.GetProperty("signed").GetProperty("version").GetInt32());
            // Signed by the old root key and the new one.
            Assert.Equal(2, root2.RootElement.GetProperty("signatures").GetArrayLength());
        }

        Assert.Single(cached.List(gun));
        Assert.Single(FreshClient(owner, work, "fresh").List(gun));

        // A delegation as `docker trust signer add` makes it: targets/<name> with an x509 key.
        using var delegationKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=releases", delegationKey, HashAlgorithmName.SHA256);
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddYears(1));
        var certFile = Path.Combine(work.Path, "releases.crt");
        var keyFile = Path.Combine(work.Path, "releases.key");
        File.WriteAllText(certFile, cert.ExportCertificatePem() + "\n");
        File.WriteAllText(keyFile, delegationKey.ExportECPrivateKeyPem() + "\n");
        owner.AddDelegationAndPublish(gun, "targets/releases", certFile);
        owner.ImportKey(keyFile, "targets/releases");

        var delegation = Assert.Single(FreshClient(owner, work, "fresh-delegation").ListDelegations(gun));
        Assert.Equal("targets/releases", delegation.Role);
        Assert.Equal(1, delegation.Threshold);
        // `delegation list` names the key by notary's canonical key id (the key written as plain ecdsa), while
        // targets.json lists it as ecdsa-x509 under its TUF key id (the hash of the certificate form).
        var spki = delegationKey.ExportSubjectPublicKeyInfo();
        var plainKey = Encoding.UTF8.GetBytes($"{{\"keytype\":\"ecdsa\",\"keyval\":{{\"private\":null,\"public\":\"{Convert.ToBase64String(spki)}\"}}}}");
        var canonicalKeyId = Convert.ToHexStringLower(SHA256.HashData(Securesystemslib.Canonical(plainKey)));
        Assert.Equal(canonicalKeyId, Assert.Single(delegation.KeyIds));
        using (var targets = JsonDocument.Parse(server.GetTrustFile(gun, "targets.json")))
        {
            var delegations = targets.RootElement.GetProperty("signed").GetProperty("delegations");
            var role = Assert.Single(delegations.GetProperty("roles").EnumerateArray());
            Assert.Equal("targets/releases", role.GetProperty("name").GetString());
            var tufKeyId = Assert.Single(role.GetProperty("keyids").EnumerateArray()).GetString()!;
            Assert.NotEqual(canonicalKeyId, tufKeyId);
            var key = delegations.GetProperty("keys").GetProperty(tufKeyId);
            Assert.Equal("ecdsa-x509", key.GetProperty("keytype").GetString());
            using var listed = X509Certificate2.CreateFromPem(Encoding.ASCII.GetString(Convert.FromBase64String(key.GetProperty("keyval").GetProperty("public").GetString()!)));
            Assert.Equal(spki, listed.PublicKey.ExportSubjectPublicKeyInfo());
        }

        owner.AddAndPublish(gun, "b", file, role: "targets/releases");
        var released = Assert.Single(cached.List(gun, role: "targets/releases"));
        Assert.Equal(("b", "targets/releases"), (released.Name, released.Role));
        Assert.Equal(2, cached.List(gun).Count);
    }

    private static NotaryCli FreshClient(NotaryCli owner, TempDir work, string name) => owner.WithTrustDir(Path.Combine(work.Path, name));

    // Notary's ecdsa method: raw r||s over SHA-256 of the canonical JSON of "signed", base64.
    private static bool NotaryEcdsaSignatureVerifies(byte[] metadata, string keyId, ECDsa publicKey)
    {
        using var doc = JsonDocument.Parse(metadata);
        var sig = doc.RootElement.GetProperty("signatures").EnumerateArray().Single(s => s.GetProperty("keyid").GetString() == keyId);
        Assert.Equal("ecdsa", sig.GetProperty("method").GetString());
        var payload = Securesystemslib.Canonical(metadata, signedOnly: true);
        return publicKey.VerifyData(payload, Convert.FromBase64String(sig.GetProperty("sig").GetString()!), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
    }

    private static byte[] Tamper(byte[] json, string from, string to)
    {
        var text = Encoding.UTF8.GetString(json);
        Assert.Contains(from, text, StringComparison.Ordinal);
        return Encoding.UTF8.GetBytes(text.Replace(from, to, StringComparison.Ordinal));
    }

    private static bool HasExited(int pid)
    {
        try
        {
            using var p = System.Diagnostics.Process.GetProcessById(pid);
            return p.HasExited;
        }
        catch (ArgumentException)
        {
            return true;
        }
    }
}
