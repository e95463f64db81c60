using OfflineSigner.Audit;
using OfflineSigner.Daemon.Grpc;
using OfflineSigner.Protocol.Grpc;
using OfflineSigner.Daemon.Services;
using OfflineSigner.Daemon.Tests.Support;
using OfflineSigner.Protocol.V1;
using Xunit;

namespace OfflineSigner.Daemon.Tests;

/// <summary>The PKCS#11 attribute report of a key generated on SoftHSM, and the refusal for keys no backend holds.</summary>
public sealed class AttestationTests(SoftHsm hsm)
{
    [Fact]
    public void A_generated_key_reports_token_attributes_that_meet_policy()
    {
        using var daemon = new DaemonHarness(hsm);
        var key = daemon.Generate("attested", 0x31);
        var service = new AttestationService(daemon.Backends, daemon.Directory, daemon.Audit);
        var response = service.Attest(new AttestRequest { KeyUri = key.Uri }, DaemonHarness.Context("/offlinesigner.v1.AttestationService/Attest"));
        Assert.True(response.MeetsPolicy);
        Assert.True(response.Pkcs11.Local);
        Assert.True(response.Pkcs11.NeverExtractable);
        Assert.False(response.Pkcs11.Extractable);
        Assert.Equal(0x1040UL, response.Pkcs11.KeyGenMechanism);
        var attested = Assert.Single(daemon.Audit.Events, e => e.Kind == AuditEventKind.Attested);
        Assert.Equal(Convert.ToHexStringLower(response.EvidenceSha256.Span), attested.PayloadSha256);
    }

    [Fact]
    public void Piv_and_unknown_keys_are_refused_with_their_status()
    {
        using var daemon = new DaemonHarness(hsm);
        var service = new AttestationService(daemon.Backends, daemon.Directory, daemon.Audit);
        var piv = Assert.Throws<RpcException>(() => service.Attest(new AttestRequest { KeyUri = "yubikey:serial=12345678;slot=9c" }, DaemonHarness.Context("/x")));
        Assert.Equal(StatusCode.NotFound, piv.Status);
        Assert.Contains("no configured backend holds yubikey:serial=12345678;slot=9c", piv.Message, StringComparison.Ordinal);
        var unknown = Assert.Throws<RpcException>(() => service.Attest(new AttestRequest { KeyUri = "pkcs11:token=elsewhere;id=%01" }, DaemonHarness.Context("/x")));
        Assert.Equal(StatusCode.NotFound, unknown.Status);
    }
}
