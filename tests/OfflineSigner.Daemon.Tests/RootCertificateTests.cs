using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;
using OfflineSigner.Daemon.Grpc;
using OfflineSigner.Protocol.Grpc;
using OfflineSigner.Daemon.Tests.Support;
using OfflineSigner.Protocol.V1;
using OfflineSigner.Tuf.Crypto;
using Xunit;

namespace OfflineSigner.Daemon.Tests;

/// <summary>The one non-metadata signature: a notary root certificate, CN = GUN, made with a SoftHSM key.</summary>
public sealed class RootCertificateTests(SoftHsm hsm)
{
    [Fact]
    public void A_root_certificate_names_the_gun_and_passes_notarys_checks()
    {
        using var daemon = new DaemonHarness(hsm);
        var key = daemon.Generate("notary-root", 0x41);
        var response = daemon.Signing.SignRootCertificate(
            new SignRootCertificateRequest { KeyUri = key.Uri, Gun = "registry.example/app", Pin = ByteString.CopyFrom(SoftHsm.UserPin) },
            DaemonHarness.Context("/offlinesigner.v1.SigningService/SignRootCertificate"));
        using var certificate = X509CertificateLoader.LoadCertificate(response.CertificateDer.Span);
        Assert.Equal("registry.example/app", certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false));
        Assert.Empty(NotaryRootCertificate.Check(certificate, "registry.example/app", DateTimeOffset.UtcNow));
        Assert.Equal(key.SubjectPublicKeyInfo.ToByteArray(), certificate.PublicKey.ExportSubjectPublicKeyInfo());
        Assert.Contains("ecdsa-x509", response.KeyJson, StringComparison.Ordinal);

        var noGun = Assert.Throws<RpcException>(() => daemon.Signing.SignRootCertificate(
            new SignRootCertificateRequest { KeyUri = key.Uri, Pin = ByteString.CopyFrom(SoftHsm.UserPin) },
            DaemonHarness.Context("/offlinesigner.v1.SigningService/SignRootCertificate")));
        Assert.Equal(StatusCode.FailedPrecondition, noGun.Status);
        Assert.Contains("policy rule 'notary-gun'", noGun.Message, StringComparison.Ordinal);
    }
}
