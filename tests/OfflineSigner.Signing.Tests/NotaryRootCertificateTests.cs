using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using OfflineSigner.Tests.Shared;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Crypto;
using OfflineSigner.Tuf.Json;
using Xunit;
using StjArray = System.Text.Json.Nodes.JsonArray;
using StjObject = System.Text.Json.Nodes.JsonObject;

namespace OfflineSigner.Signing.Tests;

/// <summary>The root certificate we build for notary, and notary's checks on root certificates.</summary>
public sealed class NotaryRootCertificateTests
{
    private const string Gun = "registry.example.com/team/app";

    [Theory]
    [InlineData(KeyAlgorithm.EcdsaP256, "ecdsa-with-SHA256")]
    [InlineData(KeyAlgorithm.EcdsaP384, "ecdsa-with-SHA384")]
    [InlineData(KeyAlgorithm.Rsa2048, "rsassaPss")]
    public void Built_certificate_passes_notarys_checks_and_openssl_shows_cn_and_code_signing(KeyAlgorithm algorithm, string signatureAlgorithm)
    {
        using var signer = SoftwareKeySigner.Generate(algorithm);
        var before = DateTimeOffset.UtcNow;
        using var certificate = NotaryRootCertificateBuilder.Build(signer, Gun);
        Assert.Empty(NotaryRootCertificate.Check(certificate, Gun, DateTimeOffset.UtcNow));
        Assert.Equal(Gun, certificate.GetNameInfo(X509NameType.SimpleName, false));
        Assert.Equal(certificate.SubjectName.RawData, certificate.IssuerName.RawData);
        Assert.Equal(signer.SubjectPublicKeyInfo.ToArray(), certificate.PublicKey.ExportSubjectPublicKeyInfo());
        var validity = certificate.NotAfter.ToUniversalTime() - certificate.NotBefore.ToUniversalTime();
        Assert.Equal(NotaryRootCertificateBuilder.DefaultValidity, validity);
        Assert.InRange(certificate.NotBefore.ToUniversalTime(), before.UtcDateTime.AddSeconds(-1), DateTime.UtcNow);

        // Usable as a notary x509 root key, with the signer's key.
        var keyObject = KeyFormats.EncodeNotaryCertificate(certificate);
        Assert.Equal(algorithm == KeyAlgorithm.Rsa2048 ? "rsa-x509" : "ecdsa-x509", ((JsonString)keyObject["keytype"]).Value);
        Assert.Equal(signer.PublicKey, KeyFormats.Decode(keyObject, Dialect.Notary, "$"));

        var openssl = TestEnvironment.RequireTool("openssl", "Debian package openssl");
        using var dir = TestEnvironment.CreateTempDir();
        var pemPath = Path.Combine(dir.Path, "root.crt");
        File.WriteAllText(pemPath, certificate.ExportCertificatePem());
        var text = ProcessRunner.Run(openssl, ["x509", "-in", pemPath, "-noout", "-text"]);
        Assert.True(text.ExitCode == 0, text.ToString());
        Assert.Contains($"Subject: CN = {Gun}", text.StdOut, StringComparison.Ordinal);
        Assert.Contains($"Issuer: CN = {Gun}", text.StdOut, StringComparison.Ordinal);
        Assert.Contains("Code Signing", text.StdOut, StringComparison.Ordinal);
        Assert.Contains("CA:FALSE", text.StdOut, StringComparison.Ordinal);
        Assert.Contains("Digital Signature, Key Encipherment", text.StdOut, StringComparison.Ordinal);
        Assert.Contains($"Signature Algorithm: {signatureAlgorithm}", text.StdOut, StringComparison.Ordinal);

        // openssl checks the self-signature when it treats the certificate as its own trust anchor.
        var verify = ProcessRunner.Run(openssl, ["verify", "-CAfile", pemPath, "-partial_chain", "-purpose", "any", pemPath]);
        Assert.True(verify.ExitCode == 0, verify.ToString());
    }

    [Fact]
    public void Python_cryptography_verifies_the_self_signature_and_sees_a_code_signing_leaf()
    {
        var certificates = new List<X509Certificate2>();
        try
        {
            foreach (var algorithm in new[] { KeyAlgorithm.EcdsaP256, KeyAlgorithm.EcdsaP384, KeyAlgorithm.Rsa2048 })
            {
                using var signer = SoftwareKeySigner.Generate(algorithm);
                certificates.Add(NotaryRootCertificateBuilder.Build(signer, Gun));
            }

            // A copy with one byte of the signature changed must fail the same check.
            var raw = certificates[0].RawData;
            raw[^5] ^= 0x01;
            var tamperedPem = PemEncoding.WriteString("CERTIFICATE", raw);

            var request = new StjArray([.. certificates.Select(c => new StjObject { ["pem"] = c.ExportCertificatePem() }), new StjObject { ["pem"] = tamperedPem }]);
            var answers = (StjArray)PythonPeer.Run(new StjObject { ["certificates"] = request })["certificates"]!;
            for (var i = 0; i < certificates.Count; i++)
            {
                var answer = (StjObject)answers[i]!;
                Assert.True(answer["error"] is null, answer["error"]?.ToString());
                Assert.True(answer["self_signature"]!.GetValue<bool>());
                Assert.True(answer["code_signing"]!.GetValue<bool>());
                Assert.False(answer["ca"]!.GetValue<bool>());
                Assert.Equal(Gun, answer["subject_cn"]!.GetValue<string>());
            }

            var tampered = (StjObject)answers[certificates.Count]!;
            Assert.True(tampered["error"] is not null || !tampered["self_signature"]!.GetValue<bool>());
        }
        finally
        {
            certificates.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public void Ed25519_keys_cannot_have_a_notary_root_certificate()
    {
        using var signer = SoftwareKeySigner.Generate(KeyAlgorithm.Ed25519);
        Assert.Throws<SigningException>(() => NotaryRootCertificateBuilder.Build(signer, Gun));
    }

    [Fact]
    public void A_signer_that_returns_a_wrong_signature_gets_no_certificate()
    {
        using var inner = SoftwareKeySigner.Generate(KeyAlgorithm.EcdsaP256);
        using var lying = new CorruptingSigner(inner);
        var e = Assert.Throws<SigningException>(() => NotaryRootCertificateBuilder.Build(lying, Gun));
        Assert.Contains("does not verify", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Notary_fixture_root_certificate_is_accepted_while_valid_and_refused_after_expiry_or_for_another_gun()
    {
        var keys = VectorData.RootKeys(VectorData.Load(VectorData.NotaryMetadata("0.3", "root.json")));
        var rootKey = keys.Values.Select(k => KeyFormats.Decode(k, Dialect.Notary, "$")).Single(k => k.CertificateChain.Count > 0);
        var leaf = rootKey.CertificateChain[0];
        const string gun = "docker.com/notary0.3/tst";
        var notAfter = new DateTimeOffset(leaf.NotAfter.ToUniversalTime(), TimeSpan.Zero);
        Assert.Empty(NotaryRootCertificate.Check(leaf, gun, notAfter.AddDays(-1)));
        var expired = Assert.Single(NotaryRootCertificate.Check(leaf, gun, notAfter.AddSeconds(1)));
        Assert.Contains("expired", expired, StringComparison.Ordinal);
        var otherGun = Assert.Single(NotaryRootCertificate.Check(leaf, "docker.com/other", notAfter.AddDays(-1)));
        Assert.Contains("common name", otherGun, StringComparison.Ordinal);
    }

    [Fact]
    public void Checks_find_each_problem_notary_refuses()
    {
        var now = DateTimeOffset.UtcNow;
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var good = SelfSigned(ec, "CN=" + Gun, HashAlgorithmName.SHA256, ca: false, now.AddDays(-1), now.AddYears(1));
        Assert.Empty(NotaryRootCertificate.Check(good, Gun, now));

        // Wildcard common names match GUNs with their prefix, as notary's MatchCNToGun does.
        using var wildcard = SelfSigned(ec, "CN=registry.example.com/team/*", HashAlgorithmName.SHA256, ca: false, now.AddDays(-1), now.AddYears(1));
        Assert.Empty(NotaryRootCertificate.Check(wildcard, Gun, now));
        Assert.NotEmpty(NotaryRootCertificate.Check(wildcard, "registry.example.com/other/app", now));

        using var sha1 = new CertificateRequest("CN=" + Gun, ec, HashAlgorithmName.SHA256)
            .Create(new X500DistinguishedName("CN=" + Gun), new EcdsaSha1Generator(ec), now.AddDays(-1), now.AddYears(1), [1]);
        Assert.Equal("1.2.840.10045.4.1", sha1.SignatureAlgorithm.Value);
        Assert.Contains(NotaryRootCertificate.Check(sha1, Gun, now), p => p.Contains("SHA1", StringComparison.OrdinalIgnoreCase));

        using var ca = SelfSigned(ec, "CN=" + Gun, HashAlgorithmName.SHA256, ca: true, now.AddDays(-1), now.AddYears(1));
        Assert.Contains(NotaryRootCertificate.Check(ca, Gun, now), p => p.Contains("CA certificate", StringComparison.Ordinal));

        using var future = SelfSigned(ec, "CN=" + Gun, HashAlgorithmName.SHA256, ca: false, now.AddDays(3), now.AddYears(1));
        Assert.Contains(NotaryRootCertificate.Check(future, Gun, now), p => p.Contains("not valid before", StringComparison.Ordinal));

        // One day of clock skew is allowed, as notary allows it.
        using var soon = SelfSigned(ec, "CN=" + Gun, HashAlgorithmName.SHA256, ca: false, now.AddHours(12), now.AddYears(1));
        Assert.Empty(NotaryRootCertificate.Check(soon, Gun, now));

        using var rsa = RSA.Create(1024);
        using var weak = SelfSigned(rsa, "CN=" + Gun, HashAlgorithmName.SHA256, ca: false, now.AddDays(-1), now.AddYears(1));
        Assert.Contains(NotaryRootCertificate.Check(weak, Gun, now), p => p.Contains("1024 bits", StringComparison.Ordinal));
    }

    private static X509Certificate2 SelfSigned(AsymmetricAlgorithm key, string subject, HashAlgorithmName hash, bool ca, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        var request = key is ECDsa ec
            ? new CertificateRequest(subject, ec, hash)
            : new CertificateRequest(subject, (RSA)key, hash, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(ca, false, 0, true));
        return request.CreateSelfSigned(notBefore, notAfter);
    }

    /// <summary>Signs certificates with ecdsa-with-SHA1, which .NET's own generator no longer offers.</summary>
    private sealed class EcdsaSha1Generator(ECDsa key) : X509SignatureGenerator
    {
        public override byte[] GetSignatureAlgorithmIdentifier(HashAlgorithmName hashAlgorithm) => [0x30, 0x09, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01];

        public override byte[] SignData(byte[] data, HashAlgorithmName hashAlgorithm) =>
            key.SignData(data, HashAlgorithmName.SHA1, DSASignatureFormat.Rfc3279DerSequence);

        protected override System.Security.Cryptography.X509Certificates.PublicKey BuildPublicKey() => X509SignatureGenerator.CreateForECDsa(key).PublicKey;
    }

    /// <summary>A backend that breaks the contract: its signatures do not verify.</summary>
    private sealed class CorruptingSigner(IKeySigner inner) : IKeySigner
    {
        public KeyAlgorithm Algorithm => inner.Algorithm;

        public ReadOnlyMemory<byte> SubjectPublicKeyInfo => inner.SubjectPublicKeyInfo;

        public string KeyReference => "test:corrupting";

        public byte[] Sign(ReadOnlySpan<byte> message, HashAlgorithmName hash)
        {
            var signature = inner.Sign(message, hash);
            signature[^1] ^= 0x01;
            return signature;
        }

        public void Dispose()
        {
        }
    }
}
