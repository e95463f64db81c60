using System.Security.Cryptography;
using System.Text.Json;
using OfflineSigner.Bundles.Tests.Support;
using OfflineSigner.Daemon.Tests.Support;
using OfflineSigner.Interop.Tests.Fixtures;
using OfflineSigner.Tuf;
using Xunit;

namespace OfflineSigner.Bundles.Tests;

/// <summary>
/// A notary repository made through the offline flow on a real notary-server (memory storage): root keys in
/// SoftHSM2 (x509 certificates, CN = GUN, made by the daemon), 2 of 3; the real notary CLI lists it from a fresh trust
/// directory and publishes targets with the (online) targets key; a root rotation and a delegation key rotation done
/// offline are followed by a client that cached the old root and by a fresh one.
/// </summary>
public sealed class NotaryWorkflowTests(SoftHsm hsm)
{
    private const string Gun = "example.com/offlinesigner/offline-flow";

    [Fact]
    public void A_notary_repository_made_rotated_and_delegated_offline_is_accepted_by_the_notary_cli()
    {
        using var server = NotaryServer.Start();
        using var w = new Workflow(hsm);
        w.Generate("root-a", "root-b", "root-c", "root-d", "rel-1", "rel-2");

        // The repository key (targets) stays online, as `docker trust` keeps it: one key, in our PEM and notary's.
        using var targetsKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var targetsPem = w.Path("targets.pem");
        File.WriteAllText(targetsPem, targetsKey.ExportPkcs8PrivateKeyPem() + "\n");
        var targetsNotaryPem = w.Path("targets.notary.pem");
        File.WriteAllText(targetsNotaryPem, targetsKey.ExportECPrivateKeyPem() + "\n");
        var notary = new[] { "--notary", server.Url, "--gun", Gun };

        // Online: the request, with the server's timestamp and snapshot keys and the targets key's public part.
        var b1 = w.Path("b1");
        w.Ok(["export", .. notary, "--new", "--online-key", targetsPem, "--out", b1]);

        // Air-gapped: root 1 with three root keys (2 of 3), signed by two holders.
        w.OkWithPin("ceremony", "init-root", "--bundle", b1, "--root-key", w.KeyUri("root-a"), "--root-key", w.KeyUri("root-b"), "--root-key", w.KeyUri("root-c"), "--threshold", "2");
        w.Sign(b1, "root-a");
        w.Sign(b1, "root-c");
        w.Ok(["import", "--bundle", b1, .. notary, "--online-key", targetsPem]);

        var root1 = Metadata<Root>.Parse(server.GetTrustFile(Gun, "root.json"));
        Assert.Equal(2, root1.Signed.Roles["root"].Threshold);
        Assert.Equal(3, root1.Signed.Roles["root"].KeyIds.Count);
        Assert.All(root1.Signed.RoleKeys("root"), k => Assert.Equal("ecdsa-x509", k.KeyType));

        // The real notary client, from a fresh trust directory, lists it, then publishes a target with the targets key.
        var cached = new NotaryCli(server, w.Path("trust-cached"));
        Assert.Empty(cached.List(Gun));
        cached.RunChecked("key import", ["key", "import", targetsNotaryPem, "--role", "targets", "--gun", Gun]);
        var file = w.Path("hello.txt");
        File.WriteAllText(file, "hello from the offline flow\n");
        cached.AddAndPublish(Gun, "hello.txt", file);
        var listed = Assert.Single(cached.List(Gun));
        Assert.Equal("hello.txt", listed.Name);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file))), listed.Sha256);

        // Root rotation offline: root-c replaced by root-d (a new x509 certificate made by the daemon); a and b sign.
        var rootD = w.Path("root-d.json");
        w.OkWithPin("keys", "public", "--key", w.KeyUri("root-d"), "--dialect", "notary", "--gun", Gun, "--out", rootD);
        var b2 = w.Path("b2");
        w.Ok(["export", .. notary, "--role", "root", "--remove-key", RootKeyIdOf(w, root1.Signed, "root-c"), "--add-key", rootD, "--out", b2]);
        w.Sign(b2, "root-a");
        w.Sign(b2, "root-b");
        w.Ok(["import", "--bundle", b2, .. notary]);

        // The client that cached root 1 follows the rotation; so does a fresh one; the target is still listed.
        Assert.Equal("hello.txt", Assert.Single(cached.List(Gun)).Name);
        Assert.Equal(2, CachedRootVersion(cached));
        var fresh = cached.WithTrustDir(w.Path("trust-fresh"));
        Assert.Equal("hello.txt", Assert.Single(fresh.List(Gun)).Name);
        Assert.Equal(2, CachedRootVersion(fresh));

        // A delegation made offline as `docker trust signer add` makes it (targets/releases, an x509 certificate made
        // by key rel-1 in SoftHSM2), then its key rotated to rel-2.
        var b3 = w.Path("b3");
        w.Ok(["export", .. notary, "--role", "targets", "--delegation", "targets/releases", "--paths", "releases/", "--add-key", DelegationCertificate(w, "rel-1"), "--out", b3]);
        w.Sign(b3, "rel-1");
        w.Ok(["import", "--bundle", b3, .. notary, "--online-key", targetsPem]);
        var delegation = Assert.Single(cached.ListDelegations(Gun));
        Assert.Equal("targets/releases", delegation.Role);
        Assert.Equal([w.KeyId("rel-1", notary: true)], delegation.KeyIds);

        var b4 = w.Path("b4");
        var targets3 = Metadata<Targets>.Parse(server.GetTrustFile(Gun, "targets.json"));
        var rel1 = Assert.Single(targets3.Signed.Delegations!.FindRole("targets/releases")!.KeyIds);
        Assert.Equal("ecdsa-x509", targets3.Signed.Delegations.Keys[rel1].KeyType);
        w.Ok(["export", .. notary, "--role", "targets", "--delegation", "targets/releases", "--remove-key", rel1, "--add-key", DelegationCertificate(w, "rel-2"), "--out", b4]);
        w.Sign(b4, "rel-2");
        w.Ok(["import", "--bundle", b4, .. notary, "--online-key", targetsPem]);
        Assert.Equal([w.KeyId("rel-2", notary: true)], Assert.Single(cached.ListDelegations(Gun)).KeyIds);
        Assert.Equal([w.KeyId("rel-2", notary: true)], Assert.Single(cached.WithTrustDir(w.Path("trust-fresh-2")).ListDelegations(Gun)).KeyIds);
        Assert.Equal("hello.txt", Assert.Single(cached.List(Gun)).Name);
    }

    private static string DelegationCertificate(Workflow w, string label)
    {
        var file = w.Path(label + ".x509.json");
        w.OkWithPin("keys", "public", "--key", w.KeyUri(label), "--dialect", "notary", "--certificate", label, "--out", file);
        return file;
    }

    /// <summary>The key id under which a root lists the certificate of a daemon key (matched by public key).</summary>
    private static string RootKeyIdOf(Workflow w, Root root, string label)
    {
        using var doc = JsonDocument.Parse(w.Ok("keys", "list", "--json").StdOut);
        var fingerprint = doc.RootElement.GetProperty("keys").EnumerateArray().First(k => k.GetProperty("label").GetString() == label).GetProperty("fingerprint").GetString();
        return root.RoleKeys("root").Single(k => k.PublicKey!.Fingerprint == fingerprint).KeyId;
    }

    private static int CachedRootVersion(NotaryCli cli)
    {
        var path = Path.Combine(cli.TrustDir, "tuf", Gun, "metadata", "root.json");
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        return doc.RootElement.GetProperty("signed").GetProperty("version").GetInt32();
    }
}
