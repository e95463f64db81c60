using System.Security.Cryptography;
using Google.Protobuf;
using OfflineSigner.Audit;
using OfflineSigner.Daemon.Services;
using OfflineSigner.Daemon.Tests.Support;
using OfflineSigner.Protocol.V1;
using OfflineSigner.Tuf;
using Xunit;
using Dialect = OfflineSigner.Tuf.Dialect;
using StatusCode = OfflineSigner.Protocol.Grpc.StatusCode;

namespace OfflineSigner.Daemon.Tests;

/// <summary>
/// PreviewBatch and SignBatch on a SoftHSM token: every item of a batch of hash bins is gated as a single request
/// is, the signatures verify in the TUF core under the delegation, every signature has its own audit entry, and a
/// refusal of any one item (named in the message) refuses the whole batch with nothing signed.
/// </summary>
public sealed class BatchSigningTests(SoftHsm hsm)
{
    private const int Bins = 100;

    [Fact]
    public void A_batch_of_hash_bins_is_previewed_signed_and_audited_item_by_item()
    {
        using var daemon = new DaemonHarness(hsm);
        var fixture = Fixture.Create(daemon, "bins-batch", 0x31);
        var batch = fixture.Batch();

        var previews = daemon.Signing.PreviewBatch(batch, DaemonHarness.Context("/offlinesigner.v1.SigningService/PreviewBatch")).Previews;
        Assert.Equal(Bins, previews.Count);
        for (var i = 0; i < Bins; i++)
        {
            Assert.Equal(fixture.Names[i], previews[i].Role);
            Assert.Equal(2, previews[i].Version);
            Assert.Equal(SHA256.HashData(fixture.Next[i].SignedBytes()), previews[i].SignedSha256.ToByteArray());
            Assert.Contains("version 1 -> 2", previews[i].Changes);
        }

        // The same item alone, through Preview: the same description and digest.
        var single = daemon.Preview(fixture.Single(7));
        Assert.Equal(single.Summary, previews[7].Summary);
        Assert.Equal(single.SignedSha256, previews[7].SignedSha256);
        Assert.Equal(single.Changes, previews[7].Changes);

        var signed = daemon.Signing.SignBatch(Fixture.SignRequest(batch, previews.Select(p => p.SignedSha256)), DaemonHarness.Context("/offlinesigner.v1.SigningService/SignBatch")).Signatures;
        Assert.Equal(Bins, signed.Count);
        for (var i = 0; i < Bins; i++)
        {
            var md = Metadata<Targets>.Parse(fixture.Next[i].ToBytes());
            md.AddSignature(Signature.Create(signed[i].KeyId, signed[i].Signature.ToByteArray(), null, Dialect.TufSpecification));
            var result = Verifier.VerifyDelegated(fixture.Names[i], fixture.Delegator, md);
            Assert.True(result.Verified, $"{fixture.Names[i]}: {string.Join("; ", result.Problems)}");

            // Each signature is over its own item: it does not verify on its neighbour.
            var other = Metadata<Targets>.Parse(fixture.Next[(i + 1) % Bins].ToBytes());
            other.AddSignature(Signature.Create(signed[i].KeyId, signed[i].Signature.ToByteArray(), null, Dialect.TufSpecification));
            Assert.False(Verifier.VerifyDelegated(fixture.Names[(i + 1) % Bins], fixture.Delegator, other).Verified);
        }

        var events = daemon.Audit.Events.Where(e => e.Kind == AuditEventKind.Signed).ToList();
        Assert.Equal(Bins, events.Count);
        for (var i = 0; i < Bins; i++)
        {
            Assert.Equal(fixture.Names[i], events[i].Role);
            Assert.Equal(2, events[i].Version);
            Assert.Equal(Convert.ToHexStringLower(previews[i].SignedSha256.Span), events[i].PayloadSha256);
            Assert.Equal(4242u, events[i].CallerUid);
        }
    }

    [Fact]
    public void One_bad_item_refuses_the_whole_batch_and_names_the_item()
    {
        using var daemon = new DaemonHarness(hsm);
        var fixture = Fixture.Create(daemon, "bins-refuse", 0x32);
        var good = fixture.Batch();
        var digests = daemon.Signing.PreviewBatch(good, DaemonHarness.Context("/offlinesigner.v1.SigningService/PreviewBatch")).Previews.Select(p => p.SignedSha256).ToList();

        // A rollback at item 70: the preview and the signing are both refused, naming it.
        var rollback = fixture.Batch();
        var old = Targets.Create(Dialect.TufSpecification, DateTimeOffset.UtcNow.AddDays(30));
        rollback.Items[70].Metadata = ByteString.CopyFrom(Metadata<Targets>.Create(old).ToBytes());
        var refused = Assert.Throws<Grpc.RpcException>(() => daemon.Signing.PreviewBatch(rollback, DaemonHarness.Context("/offlinesigner.v1.SigningService/PreviewBatch")));
        Assert.Equal(StatusCode.FailedPrecondition, refused.Status);
        Assert.Contains("'rollback'", refused.Message, StringComparison.Ordinal);
        Assert.Contains($"item 70 ({fixture.Names[70]})", refused.Message, StringComparison.Ordinal);
        refused = Assert.Throws<Grpc.RpcException>(() => daemon.Signing.SignBatch(Fixture.SignRequest(rollback, digests), DaemonHarness.Context("/offlinesigner.v1.SigningService/SignBatch")));
        Assert.Equal(StatusCode.FailedPrecondition, refused.Status);
        Assert.Contains($"item 70 ({fixture.Names[70]})", refused.Message, StringComparison.Ordinal);

        // A digest other than the previewed one at item 80.
        var wrong = digests.ToList();
        wrong[80] = ByteString.CopyFrom(new byte[32]);
        refused = Assert.Throws<Grpc.RpcException>(() => daemon.Signing.SignBatch(Fixture.SignRequest(good, wrong), DaemonHarness.Context("/offlinesigner.v1.SigningService/SignBatch")));
        Assert.Equal(StatusCode.FailedPrecondition, refused.Status);
        Assert.Contains("'digest-mismatch'", refused.Message, StringComparison.Ordinal);
        Assert.Contains($"item 80 ({fixture.Names[80]})", refused.Message, StringComparison.Ordinal);

        // One digest short; a wrong PIN; an empty batch; too many items.
        var invalid = Assert.Throws<Grpc.RpcException>(() => daemon.Signing.SignBatch(Fixture.SignRequest(good, digests.Take(Bins - 1)), DaemonHarness.Context("/offlinesigner.v1.SigningService/SignBatch")));
        Assert.Equal(StatusCode.InvalidArgument, invalid.Status);
        var pin = Assert.Throws<Grpc.RpcException>(() => daemon.Signing.SignBatch(Fixture.SignRequest(good, digests, "9999"u8.ToArray()), DaemonHarness.Context("/offlinesigner.v1.SigningService/SignBatch")));
        Assert.Equal(StatusCode.Unauthenticated, pin.Status);
        var empty = new SigningBatch { KeyUri = fixture.KeyUri, TrustedRoot = good.TrustedRoot, Delegator = good.Delegator };
        Assert.Equal(StatusCode.InvalidArgument, Assert.Throws<Grpc.RpcException>(() => daemon.Signing.PreviewBatch(empty, DaemonHarness.Context("/offlinesigner.v1.SigningService/PreviewBatch"))).Status);
        var huge = empty.Clone();
        huge.Items.AddRange(Enumerable.Repeat(good.Items[0], SigningService.MaxBatchItems + 1));
        var tooMany = Assert.Throws<Grpc.RpcException>(() => daemon.Signing.PreviewBatch(huge, DaemonHarness.Context("/offlinesigner.v1.SigningService/PreviewBatch")));
        Assert.Equal(StatusCode.InvalidArgument, tooMany.Status);
        Assert.Contains($"at most {SigningService.MaxBatchItems}", tooMany.Message, StringComparison.Ordinal);

        // Nothing was signed; the refusals and the failed login are on record.
        Assert.DoesNotContain(daemon.Audit.Events, e => e.Kind == AuditEventKind.Signed);
        Assert.Contains(daemon.Audit.Events, e => e.Kind == AuditEventKind.PolicyRefused && e.Detail == "rollback");
        Assert.Contains(daemon.Audit.Events, e => e.Kind == AuditEventKind.PolicyRefused && e.Detail == "digest-mismatch");
        Assert.Contains(daemon.Audit.Events, e => e.Kind == AuditEventKind.LoginFailed);

        // The daemon still signs the good batch afterwards.
        Assert.Equal(Bins, daemon.Signing.SignBatch(Fixture.SignRequest(good, digests), DaemonHarness.Context("/offlinesigner.v1.SigningService/SignBatch")).Signatures.Count);
    }

    /// <summary>A root, a targets delegating to 128 succinct hash bins, and version 1 and 2 of the first 100 bins.</summary>
    private sealed record Fixture(string KeyUri, byte[] RootBytes, Targets Delegator, byte[] DelegatorBytes, List<string> Names, List<Metadata<Targets>> Previous, List<Metadata<Targets>> Next)
    {
        public static Fixture Create(DaemonHarness daemon, string label, byte id)
        {
            var generated = daemon.Generate(label, id);
            var key = DaemonHarness.KeyOf(generated, Dialect.TufSpecification);
            var root = Root.Create(Dialect.TufSpecification, DateTimeOffset.UtcNow.AddDays(300));
            foreach (var role in Root.TopLevelRoles)
            {
                root.AddKey(role, key);
            }

            var delegator = Targets.Create(Dialect.TufSpecification, DateTimeOffset.UtcNow.AddDays(90));
            delegator.SetSuccinctDelegations([key], 1, 7, "bins");
            var names = delegator.Delegations!.RoleNames().Take(Bins).ToList();
            var previous = new List<Metadata<Targets>>();
            var next = new List<Metadata<Targets>>();
            foreach (var name in names)
            {
                var v1 = Targets.Create(Dialect.TufSpecification, DateTimeOffset.UtcNow.AddDays(30));
                v1.SetTarget(name + "/file", 10, new Dictionary<string, string> { ["sha256"] = new string('a', 64) });
                previous.Add(Metadata<Targets>.Create(v1));
                var v2 = Targets.Create(Dialect.TufSpecification, DateTimeOffset.UtcNow.AddDays(30));
                v2.SetVersion(2);
                v2.SetTarget(name + "/file", 11, new Dictionary<string, string> { ["sha256"] = new string('b', 64) });
                next.Add(Metadata<Targets>.Create(v2));
            }

            return new Fixture(generated.Uri, Metadata<Root>.Create(root).ToBytes(), delegator, Metadata<Targets>.Create(delegator).ToBytes(), names, previous, next);
        }

        public SigningBatch Batch()
        {
            var batch = new SigningBatch { KeyUri = KeyUri, TrustedRoot = ByteString.CopyFrom(RootBytes), Delegator = ByteString.CopyFrom(DelegatorBytes) };
            for (var i = 0; i < Names.Count; i++)
            {
                batch.Items.Add(new SigningBatchItem { Metadata = ByteString.CopyFrom(Next[i].ToBytes()), Role = Names[i], Previous = ByteString.CopyFrom(Previous[i].ToBytes()) });
            }

            return batch;
        }

        public SigningRequest Single(int i) => new()
        {
            Metadata = ByteString.CopyFrom(Next[i].ToBytes()),
            Role = Names[i],
            TrustedRoot = ByteString.CopyFrom(RootBytes),
            Previous = ByteString.CopyFrom(Previous[i].ToBytes()),
            Delegator = ByteString.CopyFrom(DelegatorBytes),
            KeyUri = KeyUri,
        };

        public static SignBatchRequest SignRequest(SigningBatch batch, IEnumerable<ByteString> digests, byte[]? pin = null)
        {
            var request = new SignBatchRequest { Batch = batch, Pin = ByteString.CopyFrom(pin ?? SoftHsm.UserPin) };
            request.ExpectedSha256.AddRange(digests);
            return request;
        }
    }
}
