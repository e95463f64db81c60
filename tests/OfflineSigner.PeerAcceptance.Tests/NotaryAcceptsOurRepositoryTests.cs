using System.Net;
using System.Security.Cryptography;
using OfflineSigner.Signing;
using OfflineSigner.Cli.Repositories;
using OfflineSigner.Interop.Tests.Fixtures;
using OfflineSigner.PeerAcceptance.Tests.Support;
using OfflineSigner.Tests.Shared;
using OfflineSigner.Tuf;
using Xunit;

namespace OfflineSigner.PeerAcceptance.Tests;

/// <summary>
/// Repositories written entirely by our code, published to a real notary-server (Debian notary 0.7) through
/// <see cref="NotaryServerClient"/>, and judged by the real notary CLI: fresh trust directories, a trust directory
/// that cached the previous root, and changes the server or the client must refuse.
/// </summary>
public class NotaryAcceptsOurRepositoryTests
{
    private static readonly Dictionary<string, string> TargetFiles = new(StringComparer.Ordinal)
    {
        ["hello.txt"] = "hello from OfflineSigner\n",
        ["app/1.0.tgz"] = "release 1.0 of an application\n",
    };

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Notary_lists_our_repository_and_follows_our_root_rotation_from_a_cached_and_a_fresh_trust_dir()
    {
        using var work = TestEnvironment.CreateTempDir("peer-notary");
        using var server = NotaryServer.Start();
        const string gun = "example.com/offlinesigner/ours";
        using var client = new NotaryServerClient(new Uri(server.Url), gun);
        using var repo = await OurNotaryRepository.CreateAsync(client, TargetFiles, cancellationToken: Cancel);

        await client.PublishAsync(repo.InitialFiles(), Cancel);

        var cached = new NotaryCli(server, Path.Combine(work.Path, "cached"));
        AssertListsOurTargets(repo, cached.List(gun));
        Assert.Equal(1, CachedRootVersion(cached, gun));

        // Root version 2: the root key replaced, signed by the old key and the new one; root and snapshot in one publish.
        var oldRootKeyId = repo.State.Roots[0].Signed.Roles["root"].KeyIds.Single();
        var root2 = repo.RotateRoot(replaceIndex: 0);
        await client.PublishAsync(repo.RootFiles(), Cancel);

        // The client that trusted version 1 walks to version 2 and replaces its cached root.
        AssertListsOurTargets(repo, cached.List(gun));
        Assert.Equal(2, CachedRootVersion(cached, gun));
        var fresh = cached.WithTrustDir(Path.Combine(work.Path, "fresh"));
        AssertListsOurTargets(repo, fresh.List(gun));
        Assert.Equal(2, CachedRootVersion(fresh, gun));

        // What the server now serves is the rotated root, signed by the old and the new key, and verifies with our core too.
        var served = Metadata<Root>.Parse(await client.GetRoleAsync("root", Cancel));
        Assert.Equal(2, served.Signed.Version);
        Assert.DoesNotContain(oldRootKeyId, served.Signed.Roles["root"].KeyIds);
        Assert.Contains(served.Signatures, s => s.KeyId == oldRootKeyId);
        var chain = (await client.GetRootChainAsync(cancellationToken: Cancel)).Select(b => Metadata<Root>.Parse(b)).ToList();
        Assert.True(RootChain.Walk(chain[0], chain.Skip(1), DateTimeOffset.UtcNow).Verified);
    }

    [Fact]
    public async Task A_targets_file_changed_after_signing_is_refused_by_the_server_and_the_repository_stays_as_it_was()
    {
        using var work = TestEnvironment.CreateTempDir("peer-notary");
        using var server = NotaryServer.Start();
        const string gun = "example.com/offlinesigner/tampered";
        using var client = new NotaryServerClient(new Uri(server.Url), gun);
        using var repo = await OurNotaryRepository.CreateAsync(client, TargetFiles, cancellationToken: Cancel);
        await client.PublishAsync(repo.InitialFiles(), Cancel);

        // Targets version 2 with a new target, correctly signed; then one byte of a signed field flipped.
        var targets2 = Metadata<Targets>.Parse(repo.State.Targets!.ToBytes());
        targets2.Signed.SetTarget("evil.txt", 4, repo.State.TargetHashes("evil"u8.ToArray()));
        targets2.Signed.SetVersion(2);
        targets2.ClearSignatures();
        targets2.SignWith(repo.TargetsSigner, repo.TargetsKey);
        var tampered = Tamper.FlipInside(RepositoryState.FileBytes(targets2), "\"evil.txt\"", 1);
        repo.State.Targets = Metadata<Targets>.Parse(tampered);
        repo.RefreshSnapshot();

        var refusal = await Assert.ThrowsAsync<NotaryServerException>(
            () => client.PublishAsync([("targets", tampered), ("snapshot", RepositoryState.FileBytes(repo.State.Snapshot!))], Cancel));

        Assert.Equal(HttpStatusCode.BadRequest, refusal.StatusCode);
        Assert.Contains(server.TrustUri(gun, string.Empty).ToString(), refusal.Message, StringComparison.Ordinal);
        Assert.Contains("valid signatures did not meet threshold for targets", refusal.Message, StringComparison.Ordinal);
        var listed = new NotaryCli(server, Path.Combine(work.Path, "fresh")).List(gun);
        AssertListsOurTargets(repo, listed);
        Assert.Equal(1, Metadata<Targets>.Parse(await client.GetRoleAsync("targets", Cancel)).Signed.Version);
    }

    [Fact]
    public async Task A_root_rotation_without_the_old_roots_signature_is_refused_by_the_server()
    {
        using var work = TestEnvironment.CreateTempDir("peer-notary");
        using var server = NotaryServer.Start();
        const string gun = "example.com/offlinesigner/unsigned-rotation";
        using var client = new NotaryServerClient(new Uri(server.Url), gun);
        using var repo = await OurNotaryRepository.CreateAsync(client, TargetFiles, cancellationToken: Cancel);
        await client.PublishAsync(repo.InitialFiles(), Cancel);
        var cached = new NotaryCli(server, Path.Combine(work.Path, "cached"));
        AssertListsOurTargets(repo, cached.List(gun));

        var root2 = repo.RotateRoot(replaceIndex: 0, oldSigners: []);

        var refusal = await Assert.ThrowsAsync<NotaryServerException>(
            () => client.PublishAsync(repo.RootFiles(), Cancel));

        Assert.Equal(HttpStatusCode.BadRequest, refusal.StatusCode);
        Assert.Contains("could not rotate trust to a new trusted root", refusal.Message, StringComparison.Ordinal);
        Assert.Equal(1, Metadata<Root>.Parse(await client.GetRoleAsync("root", Cancel)).Signed.Version);
        Assert.Null(await client.TryGetRootVersionAsync(2, Cancel));
        AssertListsOurTargets(repo, cached.List(gun));
        Assert.Equal(1, CachedRootVersion(cached, gun));
    }

    // Finding for the docs of the offline flow: notary 0.7 (client and server) accepts a root threshold above 1.
    // The server counts distinct root keys against the threshold on the first publish and on every rotation (against
    // the previous root's threshold and the new one's), and the notary client follows such a chain from its cache.
    [Fact]
    public async Task Notary_accepts_a_two_of_three_root_signed_by_two_keys_and_a_rotation_signed_by_two_of_the_old_keys()
    {
        using var work = TestEnvironment.CreateTempDir("peer-notary");
        using var server = NotaryServer.Start();
        const string gun = "example.com/offlinesigner/two-of-three";
        using var client = new NotaryServerClient(new Uri(server.Url), gun);
        using var repo = await OurNotaryRepository.CreateAsync(client, TargetFiles, rootKeyCount: 3, rootThreshold: 2, signWith: [0, 2], cancellationToken: Cancel);
        await client.PublishAsync(repo.InitialFiles(), Cancel);
        var cached = new NotaryCli(server, Path.Combine(work.Path, "cached"));
        AssertListsOurTargets(repo, cached.List(gun));
        var served = Metadata<Root>.Parse(await client.GetRoleAsync("root", Cancel));
        Assert.Equal(2, served.Signed.Roles["root"].Threshold);
        Assert.Equal(2, served.Signatures.Count);

        // Root 2: key 1 replaced; signed by exactly two of root 1's keys (0 and 2) and by the three keys of root 2.
        repo.RotateRoot(replaceIndex: 1, oldSigners: [0, 2]);
        await client.PublishAsync(repo.RootFiles(), Cancel);

        AssertListsOurTargets(repo, cached.List(gun));
        Assert.Equal(2, CachedRootVersion(cached, gun));
        var fresh = cached.WithTrustDir(Path.Combine(work.Path, "fresh"));
        AssertListsOurTargets(repo, fresh.List(gun));
        Assert.Equal(2, CachedRootVersion(fresh, gun));
    }

    [Fact]
    public async Task A_two_of_three_root_signed_by_one_key_is_refused_by_the_server()
    {
        using var work = TestEnvironment.CreateTempDir("peer-notary");
        using var server = NotaryServer.Start();
        const string gun = "example.com/offlinesigner/under-signed";
        using var client = new NotaryServerClient(new Uri(server.Url), gun);
        using var repo = await OurNotaryRepository.CreateAsync(client, TargetFiles, rootKeyCount: 3, rootThreshold: 2, signWith: [1], cancellationToken: Cancel);

        var refusal = await Assert.ThrowsAsync<NotaryServerException>(() => client.PublishAsync(repo.InitialFiles(), Cancel));

        Assert.Equal(HttpStatusCode.BadRequest, refusal.StatusCode);
        Assert.Contains("INVALID_UPDATE", refusal.Message, StringComparison.Ordinal);
        Assert.Contains("failed to validate integrity of roots", refusal.Message, StringComparison.Ordinal);
        Assert.Null(await client.TryGetRoleAsync("root", Cancel));
        var list = new NotaryCli(server, Path.Combine(work.Path, "fresh")).Run(["list", gun]);
        Assert.NotEqual(0, list.ExitCode);
    }

    [Fact]
    public async Task A_rotation_of_a_two_of_three_root_signed_by_one_old_key_is_refused_by_the_server()
    {
        using var work = TestEnvironment.CreateTempDir("peer-notary");
        using var server = NotaryServer.Start();
        const string gun = "example.com/offlinesigner/under-signed-rotation";
        using var client = new NotaryServerClient(new Uri(server.Url), gun);
        using var repo = await OurNotaryRepository.CreateAsync(client, TargetFiles, rootKeyCount: 3, rootThreshold: 2, cancellationToken: Cancel);
        await client.PublishAsync(repo.InitialFiles(), Cancel);

        // Root 2 keeps keys 0 and 2 and replaces key 1; only key 0 and the new key sign: 2 of the new root's keys, 1 of the old.
        repo.RotateRoot(replaceIndex: 1, oldSigners: [0], newSigners: [0, 1]);
        var refusal = await Assert.ThrowsAsync<NotaryServerException>(() => client.PublishAsync(repo.RootFiles(), Cancel));

        Assert.Equal(HttpStatusCode.BadRequest, refusal.StatusCode);
        Assert.Contains("could not rotate trust to a new trusted root", refusal.Message, StringComparison.Ordinal);
        Assert.Equal(1, Metadata<Root>.Parse(await client.GetRoleAsync("root", Cancel)).Signed.Version);
        AssertListsOurTargets(repo, new NotaryCli(server, Path.Combine(work.Path, "fresh")).List(gun));
    }

    [Fact]
    public async Task Notary_lists_targets_of_our_delegation_and_follows_our_delegation_key_rotation()
    {
        using var work = TestEnvironment.CreateTempDir("peer-notary");
        using var server = NotaryServer.Start();
        const string gun = "example.com/offlinesigner/delegation";
        const string role = "targets/releases";
        using var client = new NotaryServerClient(new Uri(server.Url), gun);
        using var repo = await OurNotaryRepository.CreateAsync(client, TargetFiles, cancellationToken: Cancel);
        await client.PublishAsync(repo.InitialFiles(), Cancel);
        var cached = new NotaryCli(server, Path.Combine(work.Path, "cached"));
        AssertListsOurTargets(repo, cached.List(gun));

        // Targets 2 delegating releases/ to targets/releases, the delegated role and the snapshot in one publish.
        repo.AddDelegation(role, "releases/", "releases/app-1.0.tgz", "release 1.0\n");
        await client.PublishAsync(repo.TargetsFiles(), Cancel);

        AssertListsOurTargets(repo, cached.List(gun));
        var firstKey = repo.DelegationKeys[role].Key;
        var delegation = Assert.Single(cached.ListDelegations(gun));
        Assert.Equal(role, delegation.Role);
        Assert.Equal(1, delegation.Threshold);
        Assert.Equal([firstKey.NotaryCanonicalKeyId!], delegation.KeyIds);

        // The delegation's key replaced: targets 3 lists the new key, targets/releases 2 is signed by it alone.
        repo.RotateDelegationKey(role, "releases/app-2.0.tgz", "release 2.0\n");
        await client.PublishAsync(repo.TargetsFiles(), Cancel);

        AssertListsOurTargets(repo, cached.List(gun));
        AssertListsOurTargets(repo, cached.WithTrustDir(Path.Combine(work.Path, "fresh")).List(gun));
        delegation = Assert.Single(cached.ListDelegations(gun));
        Assert.Equal([repo.DelegationKeys[role].Key.NotaryCanonicalKeyId!], delegation.KeyIds);
        Assert.NotEqual(firstKey.NotaryCanonicalKeyId, repo.DelegationKeys[role].Key.NotaryCanonicalKeyId);
    }

    // The real server never lets an under-signed root through, so the client's own check is shown against a server
    // that validates nothing (what a compromised server could send): the notary client refuses the root itself.
    [Fact]
    public void The_notary_client_refuses_an_under_signed_rotation_of_a_two_of_three_root_that_a_server_passes_on()
    {
        using var work = TestEnvironment.CreateTempDir("peer-notary");
        const string gun = "example.com/offlinesigner/client-check";
        using var server = new StaticNotaryServer(gun);
        using var repo = OurNotaryRepository.CreateWithOwnTimestampKey(gun, TargetFiles, rootKeyCount: 3, rootThreshold: 2);
        Serve(server, repo);
        var cached = new NotaryCli(server.Url, Path.Combine(work.Path, "cached"));
        AssertListsOurTargets(repo, cached.List(gun));

        // Root 2 keeps keys 0 and 2 and replaces key 1; only key 0 and the new key sign: 1 of root 1's two needed.
        var root2 = repo.RotateRoot(replaceIndex: 1, oldSigners: [0], newSigners: [0, 1]);
        Serve(server, repo);
        var refused = cached.Run(["list", gun]);

        // The client fetched root 2 by the checksum the snapshot lists, and refused it with the server's own words.
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("could not rotate trust to a new trusted root: failed to validate data with current trusted certificates", refused.StdOut, StringComparison.Ordinal);
        var root2Sha256 = Convert.ToHexStringLower(SHA256.HashData(RepositoryState.FileBytes(root2)));
        Assert.Contains($"200 /v2/{gun}/_trust/tuf/root.{root2Sha256}.json", server.Requests);
        Assert.Equal(1, CachedRootVersion(cached, gun));

        // The same root 2 with root 1's key 2 signing as well (2 of 2 needed) is accepted by the same client.
        root2.SignWith(repo.RootKeys[2].Signer, repo.RootKeys[2].Key);
        repo.RefreshSnapshot();
        Serve(server, repo);
        AssertListsOurTargets(repo, cached.List(gun));
        Assert.Equal(2, CachedRootVersion(cached, gun));
    }

    private static void Serve(StaticNotaryServer server, OurNotaryRepository repo)
    {
        foreach (var r in repo.State.Roots)
        {
            server.Files[$"{r.Signed.Version}.root.json"] = RepositoryState.FileBytes(r);
        }

        // Notary clients fetch what a signed listing names by checksum: ROLE.SHA256.json.
        foreach (var (role, bytes) in new[]
        {
            ("root", RepositoryState.FileBytes(repo.State.Root)),
            ("targets", RepositoryState.FileBytes(repo.State.Targets!)),
            ("snapshot", RepositoryState.FileBytes(repo.State.Snapshot!)),
            ("timestamp", RepositoryState.FileBytes(repo.State.Timestamp!)),
        })
        {
            server.Files[role + ".json"] = bytes;
            server.Files[$"{role}.{Convert.ToHexStringLower(SHA256.HashData(bytes))}.json"] = bytes;
        }
    }

    private static void AssertListsOurTargets(OurNotaryRepository repo, IReadOnlyList<NotaryTarget> listed)
    {
        Assert.Equal(repo.State.TargetContents.Keys.Order(StringComparer.Ordinal), listed.Select(t => t.Name).Order(StringComparer.Ordinal));
        foreach (var t in listed)
        {
            Assert.Equal(repo.TargetSha256(t.Name), t.Sha256);
            Assert.Equal(repo.State.TargetContents[t.Name].Length, t.Size);
            Assert.Equal(repo.TargetRoles[t.Name], t.Role);
        }
    }

    // The root a notary client trusts for a GUN: TRUSTDIR/tuf/GUN/metadata/root.json.
    private static long CachedRootVersion(NotaryCli cli, string gun)
    {
        var file = Path.Combine(cli.TrustDir, "tuf", gun, "metadata", "root.json");
        Assert.True(File.Exists(file), "notary cached no root at " + file);
        return Metadata<Root>.Parse(File.ReadAllBytes(file)).Signed.Version;
    }
}
