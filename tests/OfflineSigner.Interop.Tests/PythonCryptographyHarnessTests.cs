using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using OfflineSigner.Interop.Tests.Fixtures;
using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Interop.Tests;

/// <summary>crypto_verify.py (python3-cryptography) accepts .NET's signatures in every scheme and refuses altered ones.</summary>
public class PythonCryptographyHarnessTests
{
    private static readonly byte[] Data = Encoding.UTF8.GetBytes("{\"_type\":\"targets\",\"version\":1}");

    [Theory]
    [InlineData("ecdsa-sha256-der")]
    [InlineData("ecdsa-sha256-raw")]
    [InlineData("ecdsa-sha384-der")]
    [InlineData("ecdsa-sha384-raw")]
    public void Ecdsa_signatures_verify_in_both_encodings_and_fail_when_altered(string scheme)
    {
        var p384 = scheme.Contains("384", StringComparison.Ordinal);
        using var key = ECDsa.Create(p384 ? ECCurve.NamedCurves.nistP384 : ECCurve.NamedCurves.nistP256);
        var format = scheme.EndsWith("-raw", StringComparison.Ordinal) ? DSASignatureFormat.IeeeP1363FixedFieldConcatenation : DSASignatureFormat.Rfc3279DerSequence;
        var signature = key.SignData(Data, p384 ? HashAlgorithmName.SHA384 : HashAlgorithmName.SHA256, format);

        Assert.True(PythonCryptography.Verify(key.ExportSubjectPublicKeyInfo(), scheme, signature, Data));
        Assert.False(PythonCryptography.Verify(key.ExportSubjectPublicKeyInfo(), scheme, signature, [.. Data, (byte)' ']));
    }

    [Fact]
    public void Rsa_pss_signature_verifies_with_a_pem_certificate_and_fails_with_another_key()
    {
        using var key = RSA.Create(2048);
        var signature = key.SignData(Data, HashAlgorithmName.SHA256, RSASignaturePadding.Pss);
        using var cert = new CertificateRequest("CN=example.com/repo", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddYears(1));

        Assert.True(PythonCryptography.Verify(Encoding.ASCII.GetBytes(cert.ExportCertificatePem()), "rsa-pss-sha256", signature, Data));
        using var other = RSA.Create(2048);
        Assert.False(PythonCryptography.Verify(other.ExportSubjectPublicKeyInfo(), "rsa-pss-sha256", signature, Data));
    }

    [Fact]
    public void Ed25519_signature_made_by_openssl_verifies_and_fails_when_altered()
    {
        // The BCL has no Ed25519: the openssl command line makes the key and the signature.
        var openssl = TestEnvironment.RequireTool("openssl", "Debian package openssl");
        using var dir = TestEnvironment.CreateTempDir("ed25519");
        string P(string name) => Path.Combine(dir.Path, name);
        File.WriteAllBytes(P("data"), Data);
        Run(openssl, "genpkey", "-algorithm", "ed25519", "-out", P("key.pem"));
        Run(openssl, "pkey", "-in", P("key.pem"), "-pubout", "-out", P("pub.pem"));
        Run(openssl, "pkeyutl", "-sign", "-inkey", P("key.pem"), "-rawin", "-in", P("data"), "-out", P("sig"));
        var publicKey = File.ReadAllBytes(P("pub.pem"));
        var signature = File.ReadAllBytes(P("sig"));
        Assert.Equal(64, signature.Length);

        Assert.True(PythonCryptography.Verify(publicKey, "ed25519", signature, Data));
        signature[10] ^= 1;
        Assert.False(PythonCryptography.Verify(publicKey, "ed25519", signature, Data));
    }

    private static void Run(string exe, params string[] args)
    {
        var result = ProcessRunner.Run(exe, args, TimeSpan.FromMinutes(1));
        Assert.True(result.ExitCode == 0, result.ToString());
    }
}
