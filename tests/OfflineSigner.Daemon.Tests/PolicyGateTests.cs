using System.Text;
using Google.Protobuf;
using OfflineSigner.Audit;
using OfflineSigner.Daemon.Grpc;
using OfflineSigner.Protocol.Grpc;
using OfflineSigner.Daemon.Policy;
using OfflineSigner.Daemon.Tests.Support;
using OfflineSigner.Protocol.V1;
using OfflineSigner.Tuf;
using Xunit;
using TufDialect = OfflineSigner.Tuf.Dialect;

namespace OfflineSigner.Daemon.Tests;

/// <summary>Every rule of the gate refuses with FAILED_PRECONDITION naming it, and the refusal is audited.</summary>
public sealed class PolicyGateTests : IDisposable
{
    private static readonly TufDialect Spec = TufDialect.TufSpecification;
    private readonly DaemonHarness _daemon;
    private readonly KeyInfo _rootKey;
    private readonly KeyInfo _targetsKey;
    private readonly KeyInfo _snapshotKey;
    private readonly Root _root;

    public PolicyGateTests(SoftHsm hsm)
        : this(hsm, null)
    {
    }

    private PolicyGateTests(SoftHsm hsm, SigningPolicyOptions? policy)
    {
        _daemon = new DaemonHarness(hsm, policy);
        _rootKey = _daemon.Generate("root", 0x01);
        _targetsKey = _daemon.Generate("targets", 0x02);
        _snapshotKey = _daemon.Generate("snapshot", 0x03);
        _root = Root.Create(Spec, DateTimeOffset.UtcNow.AddDays(300));
        _root.AddKey("root", Key(_rootKey));
        _root.AddKey("targets", Key(_targetsKey));
        _root.AddKey("snapshot", Key(_snapshotKey));
        _root.AddKey("timestamp", Key(_snapshotKey));
    }

    public void Dispose() => _daemon.Dispose();

    [Fact]
    public void Raw_bytes_that_are_not_tuf_metadata_are_refused()
    {
        var request = TargetsRequest(Encoding.UTF8.GetBytes("please sign these bytes"));
        AssertRefused("parse", () => _daemon.Preview(request));
    }

    [Fact]
    public void A_float_in_the_document_is_refused()
    {
        var text = Encoding.UTF8.GetString(TargetsDocument(1));
        Assert.Contains("\"version\":1}", text, StringComparison.Ordinal);
        var request = TargetsRequest(Encoding.UTF8.GetBytes(text.Replace("\"version\":1}", "\"version\":1.0}", StringComparison.Ordinal)));
        AssertRefused("parse", () => _daemon.Preview(request));
    }

    [Fact]
    public void A_duplicate_object_key_is_refused()
    {
        var text = Encoding.UTF8.GetString(TargetsDocument(1));
        Assert.Contains("\"version\":1}", text, StringComparison.Ordinal);
        var request = TargetsRequest(Encoding.UTF8.GetBytes(text.Replace("\"version\":1}", "\"version\":1,\"version\":1}", StringComparison.Ordinal)));
        AssertRefused("parse", () => _daemon.Preview(request));
    }

    [Theory]
    [InlineData(5)]
    [InlineData(4)]
    public void A_version_not_newer_than_the_previous_is_a_rollback(long version)
    {
        var request = TargetsRequest(TargetsDocument(version), previous: TargetsDocument(5));
        var e = AssertRefused("rollback", () => _daemon.Preview(request));
        Assert.Contains("trusted version 5", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_version_skip_is_refused_unless_the_role_allows_a_bump()
    {
        var request = TargetsRequest(TargetsDocument(3), previous: TargetsDocument(1));
        AssertRefused("version-step", () => _daemon.Preview(request));

        var options = new SigningPolicyOptions { MaxVersionBump = new Dictionary<string, long> { ["targets"] = 2 } };
        var decision = new SigningGate(options, TimeProvider.System).Evaluate(Input(request), PublicKeyOf(_targetsKey));
        Assert.Equal(3, decision.Metadata.Signed.Version);
        Assert.Throws<PolicyViolationException>(() => new SigningGate(options, TimeProvider.System).Evaluate(Input(TargetsRequest(TargetsDocument(4), previous: TargetsDocument(1))), PublicKeyOf(_targetsKey)));
    }

    [Fact]
    public void An_update_without_its_previous_version_is_refused()
    {
        AssertRefused("previous-required", () => _daemon.Preview(TargetsRequest(TargetsDocument(2))));
    }

    [Fact]
    public void Expiry_beyond_the_roles_maximum_or_in_the_past_is_refused()
    {
        var timestamp = Timestamp.Create(Spec, DateTimeOffset.UtcNow.AddDays(30), SnapshotEntry());
        var request = new SigningRequest { Metadata = Bytes(Metadata<Timestamp>.Create(timestamp).ToBytes()), Role = "timestamp", TrustedRoot = Bytes(RootBytes(_root)), KeyUri = _snapshotKey.Uri };
        var e = AssertRefused("expiry-max", () => _daemon.Preview(request));
        Assert.Contains("7 days", e.Message, StringComparison.Ordinal);

        timestamp.SetExpires(DateTimeOffset.UtcNow.AddDays(6));
        request.Metadata = Bytes(Metadata<Timestamp>.Create(timestamp).ToBytes());
        Assert.Equal(1, _daemon.Preview(request).Version);

        timestamp.SetExpires(DateTimeOffset.UtcNow.AddMinutes(-1));
        request.Metadata = Bytes(Metadata<Timestamp>.Create(timestamp).ToBytes());
        AssertRefused("expiry-past", () => _daemon.Preview(request));
    }

    [Fact]
    public void A_threshold_of_zero_is_refused()
    {
        var text = Encoding.UTF8.GetString(RootBytes(_root));
        Assert.Contains("\"threshold\":1", text, StringComparison.Ordinal);
        var request = RootRequest(Encoding.UTF8.GetBytes(text.Replace("\"threshold\":1", "\"threshold\":0", StringComparison.Ordinal)), previous: null, _rootKey);
        // The TUF core already refuses it while parsing; the gate reports that as the parse rule, naming the field.
        var e = AssertRefused("parse", () => _daemon.Preview(request));
        Assert.Contains("threshold", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_threshold_the_keys_cannot_meet_is_refused()
    {
        _root.SetThreshold("targets", 2);
        var e = AssertRefused("threshold", () => _daemon.Preview(RootRequest(RootBytes(_root), previous: null, _rootKey)));
        Assert.Contains("only 1 distinct usable keys", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_key_listed_twice_in_a_role_is_refused()
    {
        var id = Key(_targetsKey).KeyId;
        var text = Encoding.UTF8.GetString(RootBytes(_root));
        var listed = $"\"keyids\":[\"{id}\"]";
        Assert.Contains(listed, text, StringComparison.Ordinal);
        var request = RootRequest(Encoding.UTF8.GetBytes(text.Replace(listed, $"\"keyids\":[\"{id}\",\"{id}\"]", StringComparison.Ordinal)), previous: null, _rootKey);
        var e = Assert.Throws<RpcException>(() => _daemon.Preview(request));
        Assert.Equal(StatusCode.FailedPrecondition, e.Status);
        Assert.Contains("twice", e.Message, StringComparison.Ordinal);
        Assert.Contains(_daemon.Audit.Events, a => a.Kind == AuditEventKind.PolicyRefused);
    }

    [Fact]
    public void A_key_that_is_not_a_key_of_the_role_is_refused()
    {
        var request = TargetsRequest(TargetsDocument(1));
        request.KeyUri = _snapshotKey.Uri;
        AssertRefused("key-not-in-role", () => _daemon.Preview(request));
    }

    [Fact]
    public void A_key_the_configuration_keeps_from_a_role_is_refused()
    {
        var options = new SigningPolicyOptions { KeyRoles = new Dictionary<string, IReadOnlyList<string>> { [_snapshotKey.Uri] = ["snapshot"] } };
        var timestamp = Timestamp.Create(Spec, DateTimeOffset.UtcNow.AddDays(1), SnapshotEntry());
        var request = new SigningRequest { Metadata = Bytes(Metadata<Timestamp>.Create(timestamp).ToBytes()), Role = "timestamp", TrustedRoot = Bytes(RootBytes(_root)), KeyUri = _snapshotKey.Uri };
        var e = Assert.Throws<PolicyViolationException>(() => new SigningGate(options, TimeProvider.System).Evaluate(Input(request), PublicKeyOf(_snapshotKey)));
        Assert.Equal("key-role-allowed", e.Rule);
    }

    [Fact]
    public void A_new_root_without_the_previous_root_is_refused()
    {
        var next = Root.Create(Spec, DateTimeOffset.UtcNow.AddDays(300));
        CopyKeys(_root, next);
        next.SetVersion(2);
        AssertRefused("previous-root-required", () => _daemon.Preview(RootRequest(RootBytes(next), previous: null, _rootKey)));
    }

    [Fact]
    public void A_root_rotation_may_be_signed_by_old_and_new_root_keys_but_no_other()
    {
        var newRootKey = _daemon.Generate("root-2", 0x11);
        var next = Root.Create(Spec, DateTimeOffset.UtcNow.AddDays(300));
        next.AddKey("root", Key(newRootKey));
        next.AddKey("targets", Key(_targetsKey));
        next.AddKey("snapshot", Key(_snapshotKey));
        next.AddKey("timestamp", Key(_snapshotKey));
        next.SetVersion(2);
        var previous = RootBytes(_root);

        var byOld = _daemon.Preview(RootRequest(RootBytes(next), previous, _rootKey));
        Assert.Equal(Key(_rootKey).KeyId, byOld.KeyId);
        Assert.NotEmpty(byOld.Changes);
        var byNew = _daemon.Preview(RootRequest(RootBytes(next), previous, newRootKey));
        Assert.Equal(byOld.SignedSha256, byNew.SignedSha256);

        AssertRefused("key-not-in-role", () => _daemon.Preview(RootRequest(RootBytes(next), previous, _targetsKey)));
        AssertRefused("rollback", () => _daemon.Preview(RootRequest(previous, RootBytes(next), _rootKey)));

        // Both signatures together satisfy the rotation rule of the TUF core.
        var md = Metadata<Root>.Parse(RootBytes(next));
        foreach (var (key, preview) in new[] { (_rootKey, byOld), (newRootKey, byNew) })
        {
            var signed = _daemon.Sign(RootRequest(RootBytes(next), previous, key), preview.SignedSha256.Span);
            md.AddSignature(Signature.Create(signed.KeyId, signed.Signature.ToByteArray(), null, Spec));
        }

        var result = Verifier.VerifyRootUpdate(Metadata<Root>.Parse(previous), md);
        Assert.True(result.Verified, string.Join("; ", result.ByTrusted.Problems.Concat(result.ByNew.Problems)));
    }

    [Fact]
    public void A_delegated_role_is_signed_only_with_a_key_its_delegator_lists()
    {
        var releasesKey = _daemon.Generate("releases", 0x21);
        var delegator = Targets.Create(Spec, DateTimeOffset.UtcNow.AddDays(90));
        delegator.AddDelegation("releases", [Key(releasesKey)], 1, ["releases/*"]);
        var releases = Targets.Create(Spec, DateTimeOffset.UtcNow.AddDays(90));
        releases.SetTarget("releases/v1.tgz", 3, new Dictionary<string, string> { ["sha256"] = "abcd" });
        var request = new SigningRequest
        {
            Metadata = Bytes(Metadata<Targets>.Create(releases).ToBytes()),
            Role = "releases",
            Delegator = Bytes(Metadata<Targets>.Create(delegator).ToBytes()),
            KeyUri = releasesKey.Uri,
        };

        var preview = _daemon.Preview(request);
        var signed = _daemon.Sign(request, preview.SignedSha256.Span);
        var md = Metadata<Targets>.Parse(request.Metadata.Span);
        md.AddSignature(Signature.Create(signed.KeyId, signed.Signature.ToByteArray(), null, Spec));
        Assert.True(Verifier.VerifyDelegated("releases", delegator, Metadata<Targets>.Parse(md.ToBytes())).Verified);

        request.KeyUri = _targetsKey.Uri;
        AssertRefused("key-not-in-role", () => _daemon.Preview(request));
        request.KeyUri = releasesKey.Uri;
        request.Role = "nightly";
        AssertRefused("delegator", () => _daemon.Preview(request));
        request.Role = "releases";
        request.Delegator = ByteString.Empty;
        AssertRefused("delegator", () => _daemon.Preview(request));
    }

    [Fact]
    public void A_large_delegator_is_read_through_the_index_and_refused_as_before()
    {
        // A bins-like delegator: thousands of roles, the one asked for among them; a second key lists all the others.
        var binKey = _daemon.Generate("bin-n", 0x22);
        var otherKey = _daemon.Generate("other", 0x23);
        var delegator = Targets.Create(Spec, DateTimeOffset.UtcNow.AddDays(90));
        for (var i = 0; i < 3000; i++)
        {
            var name = i.ToString("x4", System.Globalization.CultureInfo.InvariantCulture);
            delegator.AddDelegation(name, [Key(name == "0bb8" ? binKey : otherKey)], 1, [name + "/*"]);
        }

        delegator.AddDelegation("0bb8", [Key(binKey)], 1, ["0bb8/*"]);
        var bin = Targets.Create(Spec, DateTimeOffset.UtcNow.AddDays(30));
        bin.SetTarget("0bb8/file.tgz", 3, new Dictionary<string, string> { ["sha256"] = "abcd" });
        var delegatorBytes = Metadata<Targets>.Create(delegator).ToBytes();
        var request = new SigningRequest
        {
            Metadata = Bytes(Metadata<Targets>.Create(bin).ToBytes()),
            Role = "0bb8",
            Delegator = Bytes(delegatorBytes),
            KeyUri = binKey.Uri,
        };

        var preview = _daemon.Preview(request);
        var signed = _daemon.Sign(request, preview.SignedSha256.Span);
        var md = Metadata<Targets>.Parse(request.Metadata.Span);
        md.AddSignature(Signature.Create(signed.KeyId, signed.Signature.ToByteArray(), null, Spec));
        Assert.True(Verifier.VerifyDelegated("0bb8", delegator, Metadata<Targets>.Parse(md.ToBytes())).Verified);

        // A key the delegator lists, but for other roles; a role it does not list.
        request.KeyUri = otherKey.Uri;
        AssertRefused("key-not-in-role", () => _daemon.Preview(request));
        request.KeyUri = binKey.Uri;
        request.Role = "ffff";
        AssertRefused("delegator", () => _daemon.Preview(request));
        request.Role = "0bb8";

        // A delegator the strict parser refuses, one of another dialect, one of another type, one without delegations.
        var text = Encoding.UTF8.GetString(delegatorBytes);
        var refusals = new (byte[] Bytes, string Message)[]
        {
            (Encoding.UTF8.GetBytes(text.Replace("\"threshold\":1}", "\"threshold\":1.5}", StringComparison.Ordinal)), "floating point numbers are not allowed"),
            (Encoding.UTF8.GetBytes(text.Replace("\"name\":\"0001\"", "\"name\":\"0000\"", StringComparison.Ordinal)), "listed twice"),
            (Metadata<Targets>.Create(Targets.Create(TufDialect.Notary, DateTimeOffset.UtcNow.AddDays(9))).ToBytes(), "same dialect with delegations"),
            (Metadata<Root>.Create(_root).ToBytes(), "same dialect with delegations"),
            (Metadata<Targets>.Create(Targets.Create(Spec, DateTimeOffset.UtcNow.AddDays(9))).ToBytes(), "same dialect with delegations"),
        };
        foreach (var (bytes, message) in refusals)
        {
            request.Delegator = Bytes(bytes);
            var e = AssertRefused("delegator", () => _daemon.Preview(request));
            Assert.Contains(message, e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Sign_refuses_when_the_document_differs_from_the_previewed_one()
    {
        var request = TargetsRequest(TargetsDocument(1));
        var preview = _daemon.Preview(request);
        request.Metadata = Bytes(TargetsDocument(1, "other.txt"));
        var e = AssertRefused("digest-mismatch", () => _daemon.Sign(request, preview.SignedSha256.Span));
        Assert.Contains(Convert.ToHexStringLower(preview.SignedSha256.Span), e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(_daemon.Audit.Events, a => a.Kind == AuditEventKind.Signed);
    }

    [Fact]
    public void A_wrong_pin_is_unauthenticated_audited_without_the_pin_and_the_right_one_still_works()
    {
        var request = TargetsRequest(TargetsDocument(1));
        var preview = _daemon.Preview(request);
        var wrongPin = "98765"u8.ToArray();
        var sign = new SignRequest { Request = request, ExpectedSha256 = preview.SignedSha256, Pin = ByteString.CopyFrom(wrongPin) };
        var e = Assert.Throws<RpcException>(() => _daemon.Signing.Sign(sign, DaemonHarness.Context("/offlinesigner.v1.SigningService/Sign")));
        Assert.Equal(StatusCode.Unauthenticated, e.Status);
        Assert.DoesNotContain("98765", e.Message, StringComparison.Ordinal);
        Assert.All(sign.Pin.ToByteArray(), b => Assert.Equal(0, b));

        var failed = Assert.Single(_daemon.Audit.Events, a => a.Kind == AuditEventKind.LoginFailed);
        Assert.DoesNotContain("98765", failed.ToString(), StringComparison.Ordinal);
        Assert.Equal(_targetsKey.Uri, failed.KeyUri);

        // One refused PIN does not stop the next, correct one: no lockout loop, and no retry with the wrong PIN.
        var signed = _daemon.Sign(request, preview.SignedSha256.Span);
        Assert.Equal(preview.KeyId, signed.KeyId);
        Assert.Single(_daemon.Audit.Events, a => a.Kind == AuditEventKind.LoginFailed);
    }

    private RpcException AssertRefused(string rule, Action call)
    {
        var before = _daemon.Audit.Events.Count;
        var e = Assert.Throws<RpcException>(call);
        Assert.Equal(StatusCode.FailedPrecondition, e.Status);
        Assert.Contains($"policy rule '{rule}'", e.Message, StringComparison.Ordinal);
        var refused = _daemon.Audit.Events.Skip(before).Where(a => a.Kind == AuditEventKind.PolicyRefused).ToList();
        Assert.Equal(rule, Assert.Single(refused).Detail);
        return e;
    }

    private static Key Key(KeyInfo info) => DaemonHarness.KeyOf(info, Spec);

    private static OfflineSigner.Tuf.Crypto.PublicKey PublicKeyOf(KeyInfo info) => OfflineSigner.Tuf.Crypto.PublicKey.FromSubjectPublicKeyInfo(info.SubjectPublicKeyInfo.Span);

    private static ByteString Bytes(byte[] bytes) => ByteString.CopyFrom(bytes);

    private static byte[] RootBytes(Root root) => Metadata<Root>.Create(root).ToBytes();

    private static void CopyKeys(Root from, Root to)
    {
        foreach (var role in Root.TopLevelRoles)
        {
            foreach (var key in from.RoleKeys(role))
            {
                to.AddKey(role, key);
            }
        }
    }

    private static OfflineSigner.Tuf.Json.JsonObject SnapshotEntry() => new() { { "version", new OfflineSigner.Tuf.Json.JsonInteger(1) } };

    private static byte[] TargetsDocument(long version, string path = "app.tar.gz")
    {
        var targets = Targets.Create(Spec, DateTimeOffset.UtcNow.AddDays(90));
        targets.SetVersion(version);
        targets.SetTarget(path, 12, new Dictionary<string, string> { ["sha256"] = "abcd" });
        return Metadata<Targets>.Create(targets).ToBytes();
    }

    private static SigningInput Input(SigningRequest request) =>
        new(request.Metadata.Memory, request.Role, request.TrustedRoot.Memory, request.Previous.Memory, request.Delegator.Memory, request.KeyUri, null);

    private SigningRequest TargetsRequest(byte[] document, byte[]? previous = null) => new()
    {
        Metadata = Bytes(document),
        Role = "targets",
        TrustedRoot = Bytes(RootBytes(_root)),
        Previous = previous is null ? ByteString.Empty : Bytes(previous),
        KeyUri = _targetsKey.Uri,
    };

    private static SigningRequest RootRequest(byte[] document, byte[]? previous, KeyInfo key) => new()
    {
        Metadata = Bytes(document),
        Role = "root",
        Previous = previous is null ? ByteString.Empty : Bytes(previous),
        KeyUri = key.Uri,
    };
}
