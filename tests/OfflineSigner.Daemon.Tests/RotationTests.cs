using System.Security.Cryptography;
using System.Text.Json;
using Google.Protobuf;
using OfflineSigner.Audit;
using OfflineSigner.Daemon.Policy;
using OfflineSigner.Daemon.Services;
using OfflineSigner.Daemon.Tests.Support;
using OfflineSigner.Protocol.V1;
using OfflineSigner.Tests.Shared;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Json;
using Xunit;
using GrpcStatus = OfflineSigner.Protocol.Grpc.StatusCode;
using ProtoAlgorithm = OfflineSigner.Protocol.V1.KeyAlgorithm;
using RpcException = OfflineSigner.Daemon.Grpc.RpcException;
using TufDialect = OfflineSigner.Tuf.Dialect;

namespace OfflineSigner.Daemon.Tests;

/// <summary>
/// Root and delegation rotations through RotationService on a SoftHSM token: the TUF core's root chain walk (and
/// securesystemslib, when installed) accept what it signs, and the signing gate's rules refuse what they must.
/// </summary>
public sealed class RotationTests(SoftHsm hsm)
{
    public static TheoryData<ProtoAlgorithm> Algorithms => new() { ProtoAlgorithm.EcdsaP256, ProtoAlgorithm.Ed25519 };

    [Theory]
    [MemberData(nameof(Algorithms))]
    public void A_root_rotated_by_old_and_new_keys_walks_from_the_current_root(ProtoAlgorithm algorithm)
    {
        using var daemon = new DaemonHarness(hsm);
        var old = daemon.Generate("root-old", 0x01, algorithm);
        var fresh = daemon.Generate("root-new", 0x02, algorithm);
        var v1 = RootWith(old);
        RootRotationRequest Request() => new()
        {
            CurrentRoot = ByteString.CopyFrom(v1),
            RemoveKeyIds = { Tuf(old).KeyId },
            AddKeys = { KeyJson(Tuf(fresh)) },
            SignWith = { Signer(old), Signer(fresh) },
        };

        var preview = daemon.Rotation.RotateRoot(Request(), Ctx("PreviewRootRotation"), sign: false);
        var unsigned = Metadata<Root>.Parse(preview.Metadata.Span);
        Assert.Empty(unsigned.Signatures);
        Assert.Equal(SHA256.HashData(unsigned.SignedBytes()), preview.SignedSha256.ToByteArray());
        Assert.Equal(0, preview.SignaturesNeeded);
        Assert.Equal(0, preview.CrossSignaturesNeeded);
        Assert.DoesNotContain(daemon.Audit.Events, e => e.Kind is AuditEventKind.Signed or AuditEventKind.Rotated);

        var request = Request();
        request.ExpectedSha256 = preview.SignedSha256;
        var rotated = daemon.Rotation.RotateRoot(request, Ctx("RotateRoot"), sign: true);
        Assert.All(request.SignWith, k => Assert.True(k.Pin.Span.IndexOfAnyExcept((byte)0) < 0, "a PIN was not wiped"));
        Assert.Equal(preview.SignedSha256, rotated.SignedSha256);
        Assert.Equal(0, rotated.SignaturesNeeded);
        Assert.Equal(0, rotated.CrossSignaturesNeeded);

        var v2 = Metadata<Root>.Parse(rotated.Metadata.Span);
        Assert.Equal(unsigned.SignedBytes(), v2.SignedBytes());
        Assert.Equal(2, v2.Signed.Version);
        Assert.Equal([Tuf(fresh).KeyId], v2.Signed.Roles["root"].KeyIds);
        Assert.Equal(new[] { Tuf(old).KeyId, Tuf(fresh).KeyId }.Order(), v2.Signatures.Select(s => s.KeyId).Order());
        Assert.Equal(rotated.SignedBy.Order(), v2.Signatures.Select(s => s.KeyId).Order());

        var walk = RootChain.Walk(Metadata<Root>.Parse(v1), [v2], DateTimeOffset.UtcNow);
        Assert.True(walk.Verified, walk.FailedStep?.ToString());

        // Each signature is needed: without the old key's, clients trusting root 1 refuse root 2; without the new
        // key's, root 2 does not meet its own threshold.
        foreach (var dropped in new[] { Tuf(old).KeyId, Tuf(fresh).KeyId })
        {
            var partial = WithoutSignature(v2, dropped);
            Assert.False(RootChain.Walk(Metadata<Root>.Parse(v1), [partial], DateTimeOffset.UtcNow).Verified, "root 2 verifies without the signature of " + dropped);
        }

        var digest = Convert.ToHexStringLower(preview.SignedSha256.Span);
        var signedEvents = daemon.Audit.Events.Where(e => e.Kind == AuditEventKind.Signed).ToList();
        Assert.Equal(2, signedEvents.Count);
        Assert.All(signedEvents, e => Assert.Equal(digest, e.PayloadSha256));
        var rotatedEvent = Assert.Single(daemon.Audit.Events, e => e.Kind == AuditEventKind.Rotated);
        Assert.Equal("root", rotatedEvent.Role);
        Assert.Equal(2, rotatedEvent.Version);
        Assert.Equal(digest, rotatedEvent.PayloadSha256);
        Assert.Equal(4242u, rotatedEvent.CallerUid);
        Assert.Contains(Tuf(old).KeyId, rotatedEvent.KeyId, StringComparison.Ordinal);
        Assert.Contains(Tuf(fresh).KeyId, rotatedEvent.KeyId, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Algorithms))]
    public void Securesystemslib_counts_the_cross_signature_and_the_new_signature(ProtoAlgorithm algorithm)
    {
        var python = TestEnvironment.RequirePythonModule("securesystemslib.signer", "python3-securesystemslib");
        using var daemon = new DaemonHarness(hsm);
        var old = daemon.Generate("root-old", 0x01, algorithm);
        var fresh = daemon.Generate("root-new", 0x02, algorithm);
        var v1 = RootWith(old);
        var v2 = RotateRoot(daemon, v1, [Tuf(old).KeyId], [Tuf(fresh)], [old, fresh]);

        using var dir = TestEnvironment.CreateTempDir("rotation-sslib");
        var v1File = Write(dir, "1.root.json", v1);
        var v2File = Write(dir, "2.root.json", v2.ToBytes());
        var byOld = Sslib(python, v1File, "root", v2File);
        Assert.True(byOld.Ok, "securesystemslib: root 2 is not signed by root 1's threshold: " + byOld.Output);
        Assert.Equal([Tuf(old).KeyId], byOld.Valid);
        var byNew = Sslib(python, v2File, "root", v2File);
        Assert.True(byNew.Ok, "securesystemslib: root 2 is not signed by its own threshold: " + byNew.Output);
        Assert.Equal([Tuf(fresh).KeyId], byNew.Valid);

        // The same peer refuses root 2 without the cross-signature.
        var uncrossed = Write(dir, "2.uncrossed.json", WithoutSignature(v2, Tuf(old).KeyId).ToBytes());
        Assert.False(Sslib(python, v1File, "root", uncrossed).Ok);
    }

    [Fact]
    public void A_ceremony_collects_the_missing_signatures_in_turn()
    {
        using var daemon = new DaemonHarness(hsm);
        var old1 = daemon.Generate("root-old-1", 0x01);
        var old2 = daemon.Generate("root-old-2", 0x02);
        var new1 = daemon.Generate("root-new-1", 0x03);
        var new2 = daemon.Generate("root-new-2", 0x04);
        var v1 = RootWith([old1, old2], threshold: 2);
        RootRotationRequest Request() => new()
        {
            CurrentRoot = ByteString.CopyFrom(v1),
            RemoveKeyIds = { Tuf(old1).KeyId, Tuf(old2).KeyId },
            AddKeys = { KeyJson(Tuf(new1)), KeyJson(Tuf(new2)) },
            Threshold = 2,
            SignWith = { Signer(old1), Signer(new1) },
        };

        // First holders: one old key and one new key; each threshold still needs one signature.
        var preview = daemon.Rotation.RotateRoot(Request(), Ctx("PreviewRootRotation"), sign: false);
        Assert.Equal(1, preview.CrossSignaturesNeeded);
        Assert.Equal(1, preview.SignaturesNeeded);
        var request = Request();
        request.ExpectedSha256 = preview.SignedSha256;
        var first = daemon.Rotation.RotateRoot(request, Ctx("RotateRoot"), sign: true);
        Assert.Equal(1, first.CrossSignaturesNeeded);
        Assert.Equal(1, first.SignaturesNeeded);
        Assert.Equal(2, first.Warnings.Count(w => w.Contains("1 more key holder", StringComparison.Ordinal)));
        var v2 = Metadata<Root>.Parse(first.Metadata.Span);
        Assert.False(RootChain.Walk(Metadata<Root>.Parse(v1), [v2], DateTimeOffset.UtcNow).Verified, "a half-signed root verifies");

        // The other holders sign the returned document through SigningService, against the digest they preview.
        foreach (var holder in new[] { old2, new2 })
        {
            var signing = new SigningRequest { Metadata = first.Metadata, Role = "root", TrustedRoot = ByteString.CopyFrom(v1), Previous = ByteString.CopyFrom(v1), KeyUri = holder.Uri };
            var holderPreview = daemon.Preview(signing);
            Assert.Equal(first.SignedSha256, holderPreview.SignedSha256);
            var signed = daemon.Sign(signing, holderPreview.SignedSha256.Span);
            v2.AddSignature(Signature.Create(signed.KeyId, signed.Signature.ToByteArray(), null, TufDialect.TufSpecification));
        }

        var walk = RootChain.Walk(Metadata<Root>.Parse(v1), [Metadata<Root>.Parse(v2.ToBytes())], DateTimeOffset.UtcNow);
        Assert.True(walk.Verified, walk.FailedStep?.ToString());
    }

    [Fact]
    public void A_root_without_a_cross_signature_is_refused_before_anything_is_signed()
    {
        using var daemon = new DaemonHarness(hsm);
        var old = daemon.Generate("root-old", 0x01);
        var fresh = daemon.Generate("root-new", 0x02);
        var v1 = RootWith(old);
        RootRotationRequest Request(params KeyInfo[] signers)
        {
            var r = new RootRotationRequest { CurrentRoot = ByteString.CopyFrom(v1), RemoveKeyIds = { Tuf(old).KeyId }, AddKeys = { KeyJson(Tuf(fresh)) } };
            r.SignWith.AddRange(signers.Select(Signer));
            return r;
        }

        // The digest is the right one (the document does not depend on who signs): only the signers are wrong.
        var digest = daemon.Rotation.RotateRoot(Request(old, fresh), Ctx("PreviewRootRotation"), sign: false).SignedSha256;
        var preview = Assert.Throws<RpcException>(() => daemon.Rotation.RotateRoot(Request(fresh), Ctx("PreviewRootRotation"), sign: false));
        Assert.Equal(GrpcStatus.FailedPrecondition, preview.Status);
        Assert.Contains("policy rule 'cross-signature'", preview.Message, StringComparison.Ordinal);

        var request = Request(fresh);
        request.ExpectedSha256 = digest;
        var rotate = Assert.Throws<RpcException>(() => daemon.Rotation.RotateRoot(request, Ctx("RotateRoot"), sign: true));
        Assert.Equal(GrpcStatus.FailedPrecondition, rotate.Status);
        Assert.Contains("policy rule 'cross-signature'", rotate.Message, StringComparison.Ordinal);
        Assert.True(request.SignWith[0].Pin.Span.IndexOfAnyExcept((byte)0) < 0, "the PIN of a refused request was not wiped");

        Assert.DoesNotContain(daemon.Audit.Events, e => e.Kind is AuditEventKind.Signed or AuditEventKind.Rotated);
        var refusals = daemon.Audit.Events.Where(e => e.Kind == AuditEventKind.PolicyRefused).ToList();
        Assert.Equal(2, refusals.Count);
        Assert.All(refusals, e => Assert.Equal(("cross-signature", "root", 4242u), (e.Detail, e.Role, e.CallerUid ?? 0)));
    }

    [Fact]
    public void A_rotation_signs_only_the_previewed_document()
    {
        using var daemon = new DaemonHarness(hsm);
        var old = daemon.Generate("root-old", 0x01);
        var fresh = daemon.Generate("root-new", 0x02);
        var other = daemon.Generate("root-other", 0x03);
        var v1 = RootWith(old);
        RootRotationRequest Request(params KeyInfo[] added)
        {
            var r = new RootRotationRequest { CurrentRoot = ByteString.CopyFrom(v1), SignWith = { Signer(old), Signer(fresh) } };
            r.AddKeys.AddRange(added.Select(k => KeyJson(Tuf(k))));
            return r;
        }

        var preview = daemon.Rotation.RotateRoot(Request(fresh), Ctx("PreviewRootRotation"), sign: false);

        // The operator previewed "add one key" but the request now adds two: the digest no longer matches.
        var changed = Request(fresh, other);
        changed.ExpectedSha256 = preview.SignedSha256;
        var e1 = Assert.Throws<RpcException>(() => daemon.Rotation.RotateRoot(changed, Ctx("RotateRoot"), sign: true));
        Assert.Equal(GrpcStatus.FailedPrecondition, e1.Status);
        Assert.Contains("policy rule 'digest-mismatch'", e1.Message, StringComparison.Ordinal);

        // The same document with one bit of the digest changed.
        var flipped = preview.SignedSha256.ToByteArray();
        flipped[^1] ^= 1;
        var tampered = Request(fresh);
        tampered.ExpectedSha256 = ByteString.CopyFrom(flipped);
        var e2 = Assert.Throws<RpcException>(() => daemon.Rotation.RotateRoot(tampered, Ctx("RotateRoot"), sign: true));
        Assert.Contains("policy rule 'digest-mismatch'", e2.Message, StringComparison.Ordinal);

        var missing = Request(fresh);
        Assert.Equal(GrpcStatus.InvalidArgument, Assert.Throws<RpcException>(() => daemon.Rotation.RotateRoot(missing, Ctx("RotateRoot"), sign: true)).Status);
        Assert.DoesNotContain(daemon.Audit.Events, e => e.Kind is AuditEventKind.Signed or AuditEventKind.Rotated);
        Assert.Equal(2, daemon.Audit.Events.Count(e => e.Kind == AuditEventKind.PolicyRefused && e.Detail == "digest-mismatch"));

        // The previewed request itself goes through.
        var same = Request(fresh);
        same.ExpectedSha256 = preview.SignedSha256;
        Assert.Equal(2, daemon.Rotation.RotateRoot(same, Ctx("RotateRoot"), sign: true).SignedBy.Count);
    }

    public static TheoryData<string> GateRules => new() { "rollback", "version-step", "expiry-max", "expiry-past", "threshold", "duplicate-key", "key-role-allowed" };

    [Theory]
    [MemberData(nameof(GateRules))]
    public void The_signing_gate_refuses_a_rotated_root_that_breaks_its_rules(string rule)
    {
        // The policy holds this dictionary: only key-role-allowed fills it, once the key's URI is known.
        var keyRoles = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        using var daemon = new DaemonHarness(hsm, new SigningPolicyOptions { KeyRoles = keyRoles });
        var old = daemon.Generate("root-old", 0x01);
        var fresh = daemon.Generate("root-new", 0x02);
        var v1 = RootWith(old);
        RootRotationRequest Request() => new()
        {
            CurrentRoot = ByteString.CopyFrom(v1),
            RemoveKeyIds = { Tuf(old).KeyId },
            AddKeys = { KeyJson(Tuf(fresh)) },
            SignWith = { Signer(old), Signer(fresh) },
        };

        var request = Request();
        var now = DateTimeOffset.UtcNow;
        switch (rule)
        {
            case "rollback":
                request.Version = Metadata<Root>.Parse(v1).Signed.Version;
                break;
            case "version-step":
                request.Version = Metadata<Root>.Parse(v1).Signed.Version + 2;
                break;
            case "expiry-max":
                request.Expires = Rfc3339.Format(now + daemon.Policy.MaxExpiryFor("root") + TimeSpan.FromDays(2));
                break;
            case "expiry-past":
                request.Expires = Rfc3339.Format(now - TimeSpan.FromDays(1));
                break;
            case "threshold":
                request.Threshold = 2;
                break;
            case "duplicate-key":
                // The new key's public key once more, under another key id (an extra member changes the key object).
                var again = (JsonObject)Tuf(fresh).Json.DeepClone();
                again.Add("x-comment", "the same key");
                request.AddKeys.Add(System.Text.Encoding.UTF8.GetString(CanonicalJson.Serialize(again)));
                break;
            case "key-role-allowed":
                keyRoles[KeyDirectory.Normalize(old.Uri)] = ["targets"];
                break;
        }

        var e = Assert.Throws<RpcException>(() => daemon.Rotation.RotateRoot(request, Ctx("PreviewRootRotation"), sign: false));
        Assert.Equal(GrpcStatus.FailedPrecondition, e.Status);
        Assert.Contains($"policy rule '{rule}'", e.Message, StringComparison.Ordinal);
        var refusal = Assert.Single(daemon.Audit.Events, x => x.Kind == AuditEventKind.PolicyRefused);
        Assert.Equal(rule, refusal.Detail);

        // Control: the same rotation without the breach is accepted.
        keyRoles.Clear();
        var control = daemon.Rotation.RotateRoot(Request(), Ctx("PreviewRootRotation"), sign: false);
        Assert.Equal((0, 0), (control.SignaturesNeeded, control.CrossSignaturesNeeded));
    }

    [Fact]
    public void A_delegation_of_targets_is_rotated_and_signed_by_the_targets_keys()
    {
        using var daemon = new DaemonHarness(hsm);
        var targets1 = daemon.Generate("targets-1", 0x01);
        var targets2 = daemon.Generate("targets-2", 0x02);
        var rootOnly = daemon.Generate("root", 0x03);
        using var oldDelegate = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var newDelegate = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var root = Root.Create(TufDialect.TufSpecification, DateTimeOffset.UtcNow.AddDays(300));
        foreach (var role in Root.TopLevelRoles)
        {
            root.AddKey(role, Tuf(role == "targets" ? targets1 : rootOnly));
        }

        root.AddKey("targets", Tuf(targets2));
        root.SetThreshold("targets", 2);
        var trustedRoot = Metadata<Root>.Create(root).ToBytes();
        var targets = Targets.Create(TufDialect.TufSpecification, DateTimeOffset.UtcNow.AddDays(60));
        targets.AddDelegation("releases", [SoftKey(oldDelegate)], 1, ["releases/*"]);
        var v1 = Metadata<Targets>.Create(targets).ToBytes();
        DelegationRotationRequest Request(params KeyInfo[] signers)
        {
            var r = new DelegationRotationRequest
            {
                TrustedRoot = ByteString.CopyFrom(trustedRoot),
                Delegator = ByteString.CopyFrom(v1),
                DelegatorRole = "targets",
                Delegation = "releases",
                RemoveKeyIds = { SoftKey(oldDelegate).KeyId },
                AddKeys = { KeyJson(SoftKey(newDelegate)) },
            };
            r.SignWith.AddRange(signers.Select(Signer));
            return r;
        }

        // A key that targets does not list is refused by the gate.
        var wrong = Assert.Throws<RpcException>(() => daemon.Rotation.RotateDelegation(Request(rootOnly), Ctx("PreviewDelegationRotation"), sign: false));
        Assert.Contains("policy rule 'key-not-in-role'", wrong.Message, StringComparison.Ordinal);

        // First holder: one of the two targets signatures.
        var preview = daemon.Rotation.RotateDelegation(Request(targets1), Ctx("PreviewDelegationRotation"), sign: false);
        Assert.Equal(1, preview.SignaturesNeeded);
        var request = Request(targets1);
        request.ExpectedSha256 = preview.SignedSha256;
        var rotated = daemon.Rotation.RotateDelegation(request, Ctx("RotateDelegation"), sign: true);
        Assert.Equal(1, rotated.SignaturesNeeded);
        var v2 = Metadata<Targets>.Parse(rotated.Metadata.Span);
        Assert.Equal(2, v2.Signed.Version);
        var releases = Assert.Single(v2.Signed.Delegations!.Roles!);
        Assert.Equal([SoftKey(newDelegate).KeyId], releases.KeyIds);
        Assert.Equal(["releases/*"], releases.Paths!);
        Assert.False(Verifier.VerifyTopLevel(root, v2).Verified, "targets verifies with one of its two signatures");

        // Second holder, through SigningService on the returned document.
        var signing = new SigningRequest { Metadata = rotated.Metadata, Role = "targets", TrustedRoot = ByteString.CopyFrom(trustedRoot), Previous = ByteString.CopyFrom(v1), KeyUri = targets2.Uri };
        var signed = daemon.Sign(signing, daemon.Preview(signing).SignedSha256.Span);
        v2.AddSignature(Signature.Create(signed.KeyId, signed.Signature.ToByteArray(), null, TufDialect.TufSpecification));
        var verified = Verifier.VerifyTopLevel(root, Metadata<Targets>.Parse(v2.ToBytes()));
        Assert.True(verified.Verified, string.Join("; ", verified.Problems));

        // The delegation now trusts the new key only.
        Assert.True(Verifier.VerifyDelegated("releases", targets, SignedBy(oldDelegate)).Verified, "the old delegate did not verify under the old delegation (the checks below would prove nothing)");
        Assert.False(Verifier.VerifyDelegated("releases", v2.Signed, SignedBy(oldDelegate)).Verified);
        Assert.True(Verifier.VerifyDelegated("releases", v2.Signed, SignedBy(newDelegate)).Verified);

        var rotatedEvent = Assert.Single(daemon.Audit.Events, e => e.Kind == AuditEventKind.Rotated);
        Assert.Equal(("targets", 2L, Convert.ToHexStringLower(preview.SignedSha256.Span), Tuf(targets1).KeyId), (rotatedEvent.Role, rotatedEvent.Version ?? 0, rotatedEvent.PayloadSha256, rotatedEvent.KeyId));
        Assert.Contains("releases", rotatedEvent.Detail, StringComparison.Ordinal);

        // An independent implementation counts the same two targets signatures (skips when it is not installed).
        var python = TestEnvironment.RequirePythonModule("securesystemslib.signer", "python3-securesystemslib");
        using var dir = TestEnvironment.CreateTempDir("rotation-sslib");
        var byPeer = Sslib(python, Write(dir, "root.json", trustedRoot), "targets", Write(dir, "targets.json", v2.ToBytes()));
        Assert.True(byPeer.Ok, "securesystemslib refuses the rotated targets: " + byPeer.Output);
        Assert.Equal(new[] { Tuf(targets1).KeyId, Tuf(targets2).KeyId }.Order(), byPeer.Valid.Order());
    }

    [Fact]
    public void A_delegation_of_a_delegated_role_is_signed_by_the_keys_its_parent_lists()
    {
        using var daemon = new DaemonHarness(hsm);
        var releasesKey = daemon.Generate("releases", 0x01);
        var targetsKey = daemon.Generate("targets", 0x02);
        using var nightlyOld = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var nightlyA = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var nightlyB = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var parent = Targets.Create(TufDialect.TufSpecification, DateTimeOffset.UtcNow.AddDays(60));
        parent.AddDelegation("releases", [Tuf(releasesKey)], 1, ["releases/*"]);
        var parentBytes = Metadata<Targets>.Create(parent).ToBytes();
        var releases = Targets.Create(TufDialect.TufSpecification, DateTimeOffset.UtcNow.AddDays(60));
        releases.SetVersion(4);
        releases.AddDelegation("nightly", [SoftKey(nightlyOld)], 1, ["releases/nightly/*"]);
        var v4 = Metadata<Targets>.Create(releases).ToBytes();
        DelegationRotationRequest Request(KeyInfo signer, bool withParent = true) => new()
        {
            Delegator = ByteString.CopyFrom(v4),
            DelegatorRole = "releases",
            DelegatorParent = withParent ? ByteString.CopyFrom(parentBytes) : ByteString.Empty,
            Delegation = "nightly",
            RemoveKeyIds = { SoftKey(nightlyOld).KeyId },
            AddKeys = { KeyJson(SoftKey(nightlyA)), KeyJson(SoftKey(nightlyB)) },
            Threshold = 2,
            SignWith = { Signer(signer) },
        };

        Assert.Equal(GrpcStatus.InvalidArgument, Assert.Throws<RpcException>(() => daemon.Rotation.RotateDelegation(Request(releasesKey, withParent: false), Ctx("PreviewDelegationRotation"), sign: false)).Status);
        Assert.Contains("policy rule 'key-not-in-role'", Assert.Throws<RpcException>(() => daemon.Rotation.RotateDelegation(Request(targetsKey), Ctx("PreviewDelegationRotation"), sign: false)).Message, StringComparison.Ordinal);
        var rollback = Request(releasesKey);
        rollback.Version = 3;
        Assert.Contains("policy rule 'rollback'", Assert.Throws<RpcException>(() => daemon.Rotation.RotateDelegation(rollback, Ctx("PreviewDelegationRotation"), sign: false)).Message, StringComparison.Ordinal);

        var preview = daemon.Rotation.RotateDelegation(Request(releasesKey), Ctx("PreviewDelegationRotation"), sign: false);
        var request = Request(releasesKey);
        request.ExpectedSha256 = preview.SignedSha256;
        var rotated = daemon.Rotation.RotateDelegation(request, Ctx("RotateDelegation"), sign: true);
        Assert.Equal(0, rotated.SignaturesNeeded);
        Assert.Equal([Tuf(releasesKey).KeyId], rotated.SignedBy);

        var v5 = Metadata<Targets>.Parse(rotated.Metadata.Span);
        Assert.Equal(5, v5.Signed.Version);
        Assert.True(v5.Signed.Expires <= DateTimeOffset.UtcNow + daemon.Policy.MaxExpiryFor("delegated"));
        var verified = Verifier.VerifyDelegated("releases", parent, v5);
        Assert.True(verified.Verified, string.Join("; ", verified.Problems));
        var nightly = Assert.Single(v5.Signed.Delegations!.Roles!);
        Assert.Equal(2, nightly.Threshold);
        Assert.Equal(new[] { SoftKey(nightlyA).KeyId, SoftKey(nightlyB).KeyId }.Order(), nightly.KeyIds.Order());

        // Threshold 2 of the new keys: one nightly signature is not enough, two are.
        var doc = SignedBy(nightlyA);
        Assert.False(Verifier.VerifyDelegated("nightly", v5.Signed, doc).Verified);
        doc.AddSignature(SignatureBy(nightlyB, doc));
        Assert.True(Verifier.VerifyDelegated("nightly", v5.Signed, doc).Verified);
        Assert.False(Verifier.VerifyDelegated("nightly", v5.Signed, SignedBy(nightlyOld)).Verified);
    }

    private static Metadata<Root> RotateRoot(DaemonHarness daemon, byte[] current, string[] remove, Key[] add, KeyInfo[] signers)
    {
        RootRotationRequest Request()
        {
            var r = new RootRotationRequest { CurrentRoot = ByteString.CopyFrom(current) };
            r.RemoveKeyIds.AddRange(remove);
            r.AddKeys.AddRange(add.Select(KeyJson));
            r.SignWith.AddRange(signers.Select(Signer));
            return r;
        }

        var preview = daemon.Rotation.RotateRoot(Request(), Ctx("PreviewRootRotation"), sign: false);
        var request = Request();
        request.ExpectedSha256 = preview.SignedSha256;
        return Metadata<Root>.Parse(daemon.Rotation.RotateRoot(request, Ctx("RotateRoot"), sign: true).Metadata.Span);
    }

    private static byte[] RootWith(KeyInfo key) => RootWith([key], 1);

    private static byte[] RootWith(KeyInfo[] rootKeys, int threshold)
    {
        var root = Root.Create(TufDialect.TufSpecification, DateTimeOffset.UtcNow.AddDays(300));
        foreach (var role in Root.TopLevelRoles)
        {
            foreach (var key in role == "root" ? rootKeys : rootKeys[..1])
            {
                root.AddKey(role, Tuf(key));
            }
        }

        root.SetThreshold("root", threshold);
        return Metadata<Root>.Create(root).ToBytes();
    }

    private static Metadata<Root> WithoutSignature(Metadata<Root> root, string keyId)
    {
        var copy = Metadata<Root>.Parse(root.ToBytes());
        copy.ClearSignatures();
        foreach (var signature in root.Signatures.Where(s => s.KeyId != keyId))
        {
            copy.AddSignature(signature);
        }

        return copy;
    }

    private static Key Tuf(KeyInfo info) => DaemonHarness.KeyOf(info, TufDialect.TufSpecification);

    private static Key SoftKey(ECDsa key) =>
        Key.FromPublicKey(OfflineSigner.Tuf.Crypto.PublicKey.FromSubjectPublicKeyInfo(key.ExportSubjectPublicKeyInfo()), TufDialect.TufSpecification);

    private static Metadata<Targets> SignedBy(ECDsa key)
    {
        var doc = Metadata<Targets>.Create(Targets.Create(TufDialect.TufSpecification, DateTimeOffset.UtcNow.AddDays(7)));
        doc.AddSignature(SignatureBy(key, doc));
        return doc;
    }

    private static Signature SignatureBy(ECDsa key, Metadata<Targets> doc) =>
        Signature.Create(SoftKey(key).KeyId, key.SignData(doc.SignedBytes(), HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence), null, TufDialect.TufSpecification);

    private static string KeyJson(Key key) => System.Text.Encoding.UTF8.GetString(CanonicalJson.Serialize(key.Json));

    private static SigningKey Signer(KeyInfo info) => new() { KeyUri = info.Uri, Pin = ByteString.CopyFrom(SoftHsm.UserPin) };

    private static Grpc.CallContext Ctx(string method) => DaemonHarness.Context("/offlinesigner.v1.RotationService/" + method);

    private static string Write(TempDir dir, string name, byte[] bytes)
    {
        var path = Path.Combine(dir.Path, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static (bool Ok, string[] Valid, string Output) Sslib(string python, string rootFile, string role, string metadataFile)
    {
        var script = Path.Combine(TestEnvironment.RepoRoot, "tests", "peers", "sslib_verify.py");
        var result = ProcessRunner.Run(python, [script, "--root", rootFile, "--role", role, metadataFile], TimeSpan.FromMinutes(2));
        Assert.True(result.ExitCode is 0 or 1, "sslib_verify.py did not run: " + result);
        using var json = JsonDocument.Parse(result.StdOut);
        var ok = json.RootElement.GetProperty("ok").GetBoolean();
        Assert.Equal(ok ? 0 : 1, result.ExitCode);
        return (ok, [.. json.RootElement.GetProperty("valid").EnumerateArray().Select(e => e.GetString()!)], result.ToString());
    }
}
