using Google.Protobuf;
using OfflineSigner.Audit;
using OfflineSigner.Daemon.Tests.Support;
using OfflineSigner.Protocol.V1;
using OfflineSigner.Tuf;
using Xunit;
using ProtoAlgorithm = OfflineSigner.Protocol.V1.KeyAlgorithm;
using ProtoDialect = OfflineSigner.Protocol.V1.Dialect;
using TufDialect = OfflineSigner.Tuf.Dialect;

namespace OfflineSigner.Daemon.Tests;

/// <summary>Generate, list, get the public key, preview and sign on a SoftHSM token; the TUF core verifies the result.</summary>
public sealed class SigningFlowTests(SoftHsm hsm)
{
    public static TheoryData<ProtoAlgorithm, TufDialect> Cases => new()
    {
        { ProtoAlgorithm.EcdsaP256, TufDialect.TufSpecification },
        { ProtoAlgorithm.EcdsaP256, TufDialect.Notary },
        { ProtoAlgorithm.Ed25519, TufDialect.TufSpecification },
        { ProtoAlgorithm.Ed25519, TufDialect.Notary },
        { ProtoAlgorithm.Rsa3072, TufDialect.TufSpecification },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Targets_signed_through_the_services_verify_in_the_tuf_core(ProtoAlgorithm algorithm, TufDialect dialect)
    {
        using var daemon = new DaemonHarness(hsm);
        var generated = daemon.Generate("targets-key", 0x01, algorithm);
        Assert.Empty(generated.Pkcs11Protection.Violations);
        Assert.True(generated.Pkcs11Protection.Local);
        Assert.False(generated.Pkcs11Protection.Extractable);

        var listed = daemon.KeyService.ListKeys(new ListKeysRequest { Backend = DaemonHarness.Backend }, DaemonHarness.Context("/offlinesigner.v1.KeyService/ListKeys"));
        Assert.Contains(listed.Keys, k => k.Uri == generated.Uri && k.Fingerprint == generated.Fingerprint);

        var protoDialect = dialect == TufDialect.Notary ? ProtoDialect.Notary : ProtoDialect.Tuf;
        var publicKey = daemon.KeyService.GetPublicKey(new GetPublicKeyRequest { KeyUri = generated.Uri, Dialect = protoDialect }, DaemonHarness.Context("/offlinesigner.v1.KeyService/GetPublicKey"));
        var key = DaemonHarness.KeyOf(generated, dialect);
        Assert.Equal(key.KeyId, publicKey.KeyId);
        Assert.Equal(dialect == TufDialect.Notary ? generated.NotaryKeyId : generated.TufKeyId, publicKey.KeyId);

        var root = Root.Create(dialect, DateTimeOffset.UtcNow.AddDays(300));
        foreach (var role in Root.TopLevelRoles)
        {
            root.AddKey(role, key);
        }

        var targets = Targets.Create(dialect, DateTimeOffset.UtcNow.AddDays(90));
        targets.SetTarget("app.tar.gz", 12, new Dictionary<string, string> { ["sha256"] = dialect == TufDialect.Notary ? "AAAA" : "abcd" });
        var document = Metadata<Targets>.Create(targets).ToBytes();
        var request = new SigningRequest
        {
            Metadata = ByteString.CopyFrom(document),
            Role = "targets",
            TrustedRoot = ByteString.CopyFrom(Metadata<Root>.Create(root).ToBytes()),
            KeyUri = generated.Uri,
        };

        var preview = daemon.Preview(request);
        Assert.Equal(1, preview.Version);
        Assert.Equal(key.KeyId, preview.KeyId);
        Assert.Contains("app.tar.gz", preview.Summary, StringComparison.Ordinal);
        Assert.Equal(System.Security.Cryptography.SHA256.HashData(targets.CanonicalBytes()), preview.SignedSha256.ToByteArray());

        var signed = daemon.Sign(request, preview.SignedSha256.Span);
        Assert.Equal(key.KeyId, signed.KeyId);
        Assert.Equal(dialect == TufDialect.Notary, signed.Method.Length > 0);

        var md = Metadata<Targets>.Parse(document);
        md.AddSignature(Signature.Create(signed.KeyId, signed.Signature.ToByteArray(), signed.Method.Length == 0 ? null : signed.Method, dialect));
        var result = Verifier.VerifyTopLevel(root, Metadata<Targets>.Parse(md.ToBytes()));
        Assert.True(result.Verified, string.Join("; ", result.Problems));

        // The signature covers exactly the previewed bytes: another document does not verify with it.
        targets.SetTarget("app.tar.gz", 13, new Dictionary<string, string> { ["sha256"] = dialect == TufDialect.Notary ? "AAAA" : "abcd" });
        var other = Metadata<Targets>.Create(targets);
        other.AddSignature(Signature.Create(signed.KeyId, signed.Signature.ToByteArray(), signed.Method.Length == 0 ? null : signed.Method, dialect));
        Assert.False(Verifier.VerifyTopLevel(root, other).Verified);

        var audited = daemon.Audit.Events;
        Assert.Contains(audited, e => e.Kind == AuditEventKind.KeyGenerated && e.KeyUri == generated.Uri && e.CallerUid == 4242);
        var signedEvent = Assert.Single(audited, e => e.Kind == AuditEventKind.Signed);
        Assert.Equal(Convert.ToHexStringLower(preview.SignedSha256.Span), signedEvent.PayloadSha256);
        Assert.Equal("targets", signedEvent.Role);
        Assert.Equal(1, signedEvent.Version);
    }

    [Fact]
    public void Generating_over_an_existing_key_is_refused()
    {
        using var daemon = new DaemonHarness(hsm);
        daemon.Generate("taken", 0x05);
        var e = Assert.Throws<Grpc.RpcException>(() => daemon.Generate("taken", 0x05));
        Assert.Equal(OfflineSigner.Protocol.Grpc.StatusCode.FailedPrecondition, e.Status);
        Assert.Contains("already holds", e.Message, StringComparison.Ordinal);
    }
}
