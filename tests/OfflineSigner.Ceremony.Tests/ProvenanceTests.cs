using OfflineSigner.Ceremony.Tests.Support;
using OfflineSigner.Ceremony.Transcripts;
using OfflineSigner.Tuf;
using Xunit;

namespace OfflineSigner.Ceremony.Tests;

public sealed class ProvenanceTests
{
    [Fact]
    public void The_exported_root_is_traced_to_its_holders_devices_and_evidence_and_a_foreign_root_is_not()
    {
        using var f = new CeremonyFixture();
        var v = TranscriptVerifier.Verify(f.RunAll());
        var root = Metadata<Root>.Parse(File.ReadAllBytes(Path.Combine(f.Actions.BundleDir!, "root-v1.json")));
        var check = RootProvenance.Check(v, root);
        Assert.True(check.Ok, string.Join("\n", check.Problems));
        Assert.Equal(["alice", "bob", "carol"], check.Keys.Where(k => k.Role == "root").Select(k => k.Holder));
        Assert.Equal(["20000001", "20000002", "20000003"], check.Keys.Where(k => k.Role == "root").Select(k => k.DeviceSerial));
        Assert.All(check.Keys, k => Assert.Equal(v.Record!.Keys.Single(r => r.Holder == k.Holder).AttestationSha256, k.AttestationSha256));

        using var stranger = Signing.SoftwareKeySigner.Generate(Signing.KeyAlgorithm.EcdsaP256);
        root.Signed.AddKey("root", Key.FromPublicKey(stranger.PublicKey, Dialect.TufSpecification));
        check = RootProvenance.Check(v, root);
        Assert.False(check.Ok);
        Assert.Contains(check.Problems, p => p.Contains("is not a root built in ceremony example-root-2026", StringComparison.Ordinal));
        Assert.Contains(check.Problems, p => p.Contains("was not enrolled in ceremony example-root-2026", StringComparison.Ordinal));
    }
}
