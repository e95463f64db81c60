using OfflineSigner.Cli.Repositories;
using OfflineSigner.Interop.Tests.Fixtures;
using OfflineSigner.Tests.Shared;
using OfflineSigner.Tuf;
using Xunit;

namespace OfflineSigner.PeerAcceptance.Tests;

/// <summary>
/// What the real notary CLI publishes, read back through <see cref="NotaryServerClient"/> (the path
/// <c>offline-signer import --notary</c> takes) and verified by our core. The interop tests check one root rotation
/// from files the fixture saved; this walks two rotations from the chain the client fetches.
/// </summary>
public class NotaryWritesVerifiedByUsTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_root_chain_notary_makes_with_two_key_rotations_walks_and_every_role_verifies()
    {
        using var work = TestEnvironment.CreateTempDir("peer-notary-theirs");
        using var server = NotaryServer.Start();
        const string gun = "example.com/offlinesigner/theirs";
        var owner = new NotaryCli(server, Path.Combine(work.Path, "owner"));
        owner.InitAndPublish(gun);
        var file = Path.Combine(work.Path, "a.txt");
        await File.WriteAllTextAsync(file, "a target notary signed\n", Cancel);
        owner.AddAndPublish(gun, "a.txt", file);
        owner.RotateKey(gun, "root");
        owner.RotateKey(gun, "root");

        using var client = new NotaryServerClient(new Uri(server.Url), gun);
        var chainBytes = await client.GetRootChainAsync(cancellationToken: Cancel);
        var chain = chainBytes.Select(b => Metadata<Root>.Parse(b)).ToList();
        var now = DateTimeOffset.UtcNow;

        Assert.Equal([1L, 2L, 3L], chain.Select(r => r.Signed.Version));
        Assert.All(chain, r => Assert.Equal(Dialect.Notary, r.Dialect));
        var walk = RootChain.Walk(chain[0], chain.Skip(1), now);
        Assert.True(walk.Verified, string.Join("; ", walk.Steps.Select(s => $"{s.FromVersion}->{s.ToVersion}: {s.Result?.ByTrusted} {s.Result?.ByNew} {s.Error}")));
        Assert.Equal(2, walk.Steps.Count);
        Assert.All(walk.Steps, s => Assert.True(s.Result!.ByTrusted.Verified && s.Result.ByNew.Verified));

        // Each rotation replaced the root key: no key of root 1 is a root key of root 3.
        Assert.Empty(chain[0].Signed.Roles["root"].KeyIds.Intersect(chain[2].Signed.Roles["root"].KeyIds));

        // The bytes as served: notary's snapshot lists the length and hashes of root.json as published.
        var files = new List<(string, byte[])> { ("2.root.json", chainBytes[1]), ("3.root.json", chainBytes[2]) };
        foreach (var role in new[] { "targets", "snapshot", "timestamp" })
        {
            files.Add((role + ".json", await client.GetRoleAsync(role, Cancel)));
        }

        var results = RepositoryVerifier.Verify(chain[0], files, now, gun: gun);
        Assert.All(results, r => Assert.True(r.Verified, $"{r.File}: {string.Join("; ", r.Errors)}"));
        Assert.Equal(["root", "root", "snapshot", "targets", "timestamp"], results.Select(r => r.Role).Order(StringComparer.Ordinal));
        var targets = Metadata<Targets>.Parse(files.Single(f => f.Item1 == "targets.json").Item2);
        Assert.Equal(["a.txt"], targets.Signed.TargetFiles.Keys);

        // Our notary writer lays files out byte for byte as notary does (the server hashes its own re-serialization).
        foreach (var (name, bytes) in files.Append(("1.root.json", chainBytes[0])))
        {
            Assert.True(bytes.AsSpan().SequenceEqual(RepositoryState.FileBytes(MetadataReader.Parse(bytes))), $"{name} is not written back byte for byte");
        }

        // The same chain under another repository name is refused: notary root certificates name the GUN.
        Assert.Contains(RepositoryVerifier.Verify(chain[0], files, now, gun: "example.com/someone/else"), r => !r.Verified);
    }
}
