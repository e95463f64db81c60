using OfflineSigner.Signing;
using OfflineSigner.Tuf.Crypto;
using Xunit;

namespace OfflineSigner.Tuf.Tests;

/// <summary>
/// RepositoryVerifier's walk of delegated roles: nested delegations resolve whatever order the files come in, and
/// hundreds of hash bins (checked on every core) give each bin its own verdict, in the order of the files.
/// </summary>
public sealed class DelegationWalkTests : IDisposable
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

    [Fact]
    public void Nested_delegations_verify_whatever_order_the_files_are_given_in()
    {
        var (root, rootKey) = NewRoot(out var targetsKey);
        var outerKey = NewKey();
        var innerKey = NewKey();
        var targets = Targets.Create(Dialect.TufSpecification, Now.AddDays(30));
        targets.AddDelegation("outer", [outerKey.Key], 1, ["*"]);
        var outer = Targets.Create(Dialect.TufSpecification, Now.AddDays(30));
        outer.AddDelegation("inner", [innerKey.Key], 1, ["*"]);
        var inner = Targets.Create(Dialect.TufSpecification, Now.AddDays(30));

        var files = new List<(string, byte[])>
        {
            ("inner.json", Signed(inner, innerKey)),
            ("outer.json", Signed(outer, outerKey)),
            ("targets.json", Signed(targets, targetsKey)),
        };
        var results = RepositoryVerifier.Verify(root, files, Now);
        Assert.All(results, r => Assert.True(r.Verified, $"{r.File}: {string.Join("; ", r.Errors)}"));
        Assert.Equal(["targets", "outer", "inner"], results.Select(r => r.Role));

        // inner signed by outer's key instead: only inner fails, and says why.
        files[0] = ("inner.json", Signed(inner, outerKey));
        results = RepositoryVerifier.Verify(root, files, Now);
        Assert.Equal(["targets", "outer", "inner"], results.Select(r => r.Role));
        Assert.True(results[1].Verified);
        Assert.False(results[2].Verified);
        Assert.Contains("0 of 1 required signatures", results[2].Errors[0], StringComparison.Ordinal);
        GC.KeepAlive(rootKey);
    }

    [Fact]
    public void Each_of_many_hash_bins_gets_its_own_verdict_in_file_order()
    {
        var (root, _) = NewRoot(out var targetsKey);
        var binKey = NewKey();
        var otherKey = NewKey();
        var targets = Targets.Create(Dialect.TufSpecification, Now.AddDays(30));
        targets.SetSuccinctDelegations([binKey.Key], 1, 8, "bin");
        var bins = Metadata<Targets>.Parse(Signed(targets, targetsKey)).Signed.Delegations!.Succinct!;
        Assert.True(bins.BinCount > Parallelism.Threshold, "too few bins to be checked on every core");

        // Bins in reverse name order, so that file order and name order differ; two are signed by the wrong key, and
        // one has expired.
        var bad = new HashSet<string>(StringComparer.Ordinal) { bins.RoleName(3), bins.RoleName(200) };
        var expired = bins.RoleName(100);
        var files = new List<(string, byte[])> { ("targets.json", Signed(targets, targetsKey)) };
        for (var i = bins.BinCount - 1; i >= 0; i--)
        {
            var name = bins.RoleName(i);
            var bin = Targets.Create(Dialect.TufSpecification, name == expired ? Now.AddDays(-1) : Now.AddDays(30));
            files.Add((name + ".json", Signed(bin, bad.Contains(name) ? otherKey : binKey)));
        }

        var results = RepositoryVerifier.Verify(root, files, Now);
        Assert.Equal(files.Select(f => Path.GetFileNameWithoutExtension(f.Item1)), results.Select(r => r.Role));
        foreach (var r in results)
        {
            if (bad.Contains(r.Role))
            {
                Assert.False(r.Verified, r.Role);
                Assert.Contains("0 of 1 required signatures", r.Errors[0], StringComparison.Ordinal);
            }
            else if (r.Role == expired)
            {
                Assert.False(r.Verified, r.Role);
                Assert.Single(r.Result!.Signers);
                Assert.Contains("expired", Assert.Single(r.Errors), StringComparison.Ordinal);
            }
            else
            {
                Assert.True(r.Verified, $"{r.File}: {string.Join("; ", r.Errors)}");
            }
        }
    }

    private (SoftwareKeySigner Signer, Key Key) NewKey()
    {
        var signer = SoftwareKeySigner.Generate(KeyAlgorithm.EcdsaP256);
        signers.Add(signer);
        return (signer, Key.FromPublicKey(PublicKey.FromSubjectPublicKeyInfo(signer.SubjectPublicKeyInfo.Span), Dialect.TufSpecification));
    }

    private (Metadata<Root> Root, (SoftwareKeySigner Signer, Key Key) RootKey) NewRoot(out (SoftwareKeySigner Signer, Key Key) targetsKey)
    {
        var rootKey = NewKey();
        targetsKey = NewKey();
        var root = Root.Create(Dialect.TufSpecification, Now.AddDays(365));
        root.AddKey("root", rootKey.Key);
        root.AddKey("targets", targetsKey.Key);
        root.AddKey("snapshot", rootKey.Key);
        root.AddKey("timestamp", rootKey.Key);
        var md = Metadata<Root>.Create(root);
        md.SignWith(rootKey.Signer, rootKey.Key);
        return (Metadata<Root>.Parse(md.ToBytes()), rootKey);
    }

    private static byte[] Signed(Targets targets, (SoftwareKeySigner Signer, Key Key) key)
    {
        var md = Metadata<Targets>.Create(Metadata<Targets>.Parse(Metadata<Targets>.Create(targets).ToBytes()).Signed);
        md.SignWith(key.Signer, key.Key);
        return md.ToBytes();
    }
}
