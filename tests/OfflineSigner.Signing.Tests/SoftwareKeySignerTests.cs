using System.Security.Cryptography;
using System.Text;
using OfflineSigner.Tests.Shared;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Crypto;
using OfflineSigner.Tuf.Json;
using Xunit;

namespace OfflineSigner.Signing.Tests;

/// <summary>Software keys: the IKeySigner contract, PKCS #8 files, and the dialect-aware signatures made with them.</summary>
public sealed class SoftwareKeySignerTests
{
    public static TheoryData<KeyAlgorithm> Algorithms() =>
        [KeyAlgorithm.Ed25519, KeyAlgorithm.EcdsaP256, KeyAlgorithm.EcdsaP384, KeyAlgorithm.Rsa2048];

    [Theory]
    [MemberData(nameof(Algorithms))]
    public void Signatures_follow_the_IKeySigner_formats(KeyAlgorithm algorithm)
    {
        using var signer = SoftwareKeySigner.Generate(algorithm);
        Assert.Equal(algorithm, signer.Algorithm);
        Assert.StartsWith("software:", signer.KeyReference, StringComparison.Ordinal);
        var message = "the signed bytes"u8.ToArray();
        var signature = signer.Sign(message, HashAlgorithmName.SHA256);
        switch (algorithm)
        {
            case KeyAlgorithm.Ed25519:
                Assert.Equal(64, signature.Length);
                Assert.True(Ed25519.Verify(signer.PublicKey.Ed25519RawKey, message, signature));
                break;
            case KeyAlgorithm.EcdsaP256 or KeyAlgorithm.EcdsaP384:
            {
                Assert.Equal(2 * signer.PublicKey.FieldSizeBytes, signature.Length);
                using var ecdsa = ECDsa.Create();
                ecdsa.ImportSubjectPublicKeyInfo(signer.SubjectPublicKeyInfo.Span, out _);
                Assert.True(ecdsa.VerifyData(message, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
                Assert.False(ecdsa.VerifyData(message, signature, HashAlgorithmName.SHA384, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
                break;
            }

            default:
            {
                using var rsa = RSA.Create();
                rsa.ImportSubjectPublicKeyInfo(signer.SubjectPublicKeyInfo.Span, out _);
                Assert.True(rsa.VerifyData(message, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pss));
                Assert.False(rsa.VerifyData(message, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
                break;
            }
        }

        if (algorithm != KeyAlgorithm.Ed25519)
        {
            Assert.Throws<SigningException>(() => signer.Sign(message, HashAlgorithmName.MD5));
        }

        signer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => signer.Sign(message, HashAlgorithmName.SHA256));
    }

    [Theory]
    [MemberData(nameof(Algorithms))]
    public void Pkcs8_pem_file_round_trip_keeps_the_key_and_is_private_to_its_owner(KeyAlgorithm algorithm)
    {
        using var dir = TestEnvironment.CreateTempDir();
        var path = Path.Combine(dir.Path, "key.pem");
        using var signer = SoftwareKeySigner.Generate(algorithm);
        signer.SavePkcs8Pem(path);
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----\n", File.ReadAllText(path), StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }

        Assert.Throws<IOException>(() => signer.SavePkcs8Pem(path));
        using var loaded = SoftwareKeySigner.LoadPkcs8Pem(path);
        Assert.Equal(signer.PublicKey, loaded.PublicKey);
        Assert.Equal(algorithm, loaded.Algorithm);
        var message = "m"u8.ToArray();
        var (signature, _) = MetadataSigner.Sign(loaded, Dialect.TufSpecification, KeyFormats.Encode(signer.PublicKey, Dialect.TufSpecification), message);
        Assert.NotEmpty(signature);
    }

    [Theory]
    [InlineData("ed25519", KeyAlgorithm.Ed25519)]
    [InlineData("ec:P-256", KeyAlgorithm.EcdsaP256)]
    [InlineData("ec:P-384", KeyAlgorithm.EcdsaP384)]
    [InlineData("rsa:3072", KeyAlgorithm.Rsa3072)]
    public void Keys_generated_by_openssl_import_and_keep_their_public_key(string kind, KeyAlgorithm expected)
    {
        var openssl = TestEnvironment.RequireTool("openssl", "Debian package openssl");
        using var dir = TestEnvironment.CreateTempDir();
        var keyPath = Path.Combine(dir.Path, "key.pem");
        var pubPath = Path.Combine(dir.Path, "pub.der");
        string[] args = kind switch
        {
            "ed25519" => ["genpkey", "-algorithm", "ed25519", "-out", keyPath],
            "rsa:3072" => ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072", "-out", keyPath],
            _ => ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:" + kind[3..], "-pkeyopt", "ec_param_enc:named_curve", "-out", keyPath],
        };
        var generated = ProcessRunner.Run(openssl, args);
        Assert.True(generated.ExitCode == 0, generated.ToString());
        var exported = ProcessRunner.Run(openssl, ["pkey", "-in", keyPath, "-pubout", "-outform", "DER", "-out", pubPath]);
        Assert.True(exported.ExitCode == 0, exported.ToString());

        using var signer = SoftwareKeySigner.LoadPkcs8Pem(keyPath);
        Assert.Equal(expected, signer.Algorithm);
        Assert.Equal(PublicKey.FromSubjectPublicKeyInfo(File.ReadAllBytes(pubPath)), signer.PublicKey);
    }

    [Fact]
    public void Import_refuses_what_is_not_a_supported_pkcs8_key()
    {
        Assert.Throws<SigningException>(() => SoftwareKeySigner.ImportPkcs8Pem(Encoding.ASCII.GetBytes("no pem here")));
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        Assert.Throws<SigningException>(() => SoftwareKeySigner.ImportPkcs8Pem(Encoding.ASCII.GetBytes(ec.ExportECPrivateKeyPem())));
        Assert.Throws<SigningException>(() => SoftwareKeySigner.ImportPkcs8([0x30, 0x03, 0x02, 0x01, 0x00]));
        using var p521 = ECDsa.Create(ECCurve.NamedCurves.nistP521);
        Assert.Throws<SigningException>(() => SoftwareKeySigner.ImportPkcs8(p521.ExportPkcs8PrivateKey()));
        using var rsa1024 = RSA.Create(1024);
        Assert.Throws<SigningException>(() => SoftwareKeySigner.ImportPkcs8(rsa1024.ExportPkcs8PrivateKey()));
        var der = ec.ExportPkcs8PrivateKey();
        Assert.Throws<SigningException>(() => SoftwareKeySigner.ImportPkcs8([.. der, 0]));
    }

    [Theory]
    [InlineData(KeyAlgorithm.EcdsaP256, "ecdsa-sha2-nistp256")]
    [InlineData(KeyAlgorithm.EcdsaP384, "ecdsa-sha2-nistp384")]
    public void Spec_ecdsa_signatures_are_der_over_the_schemes_hash(KeyAlgorithm algorithm, string scheme)
    {
        using var signer = SoftwareKeySigner.Generate(algorithm);
        var keyObject = KeyFormats.Encode(signer.PublicKey, Dialect.TufSpecification);
        Assert.Equal(scheme, ((JsonString)keyObject["scheme"]).Value);
        var message = "canonical bytes"u8.ToArray();
        var (signature, method) = MetadataSigner.Sign(signer, Dialect.TufSpecification, keyObject, message);
        Assert.Null(method);
        Assert.Equal(0x30, signature[0]);
        using var ecdsa = signer.PublicKey.CreateECDsa();
        var hash = algorithm == KeyAlgorithm.EcdsaP384 ? HashAlgorithmName.SHA384 : HashAlgorithmName.SHA256;
        var other = algorithm == KeyAlgorithm.EcdsaP384 ? HashAlgorithmName.SHA256 : HashAlgorithmName.SHA384;
        Assert.True(ecdsa.VerifyData(message, signature, hash, DSASignatureFormat.Rfc3279DerSequence));
        Assert.False(ecdsa.VerifyData(message, signature, other, DSASignatureFormat.Rfc3279DerSequence));
    }

    [Theory]
    [InlineData(KeyAlgorithm.EcdsaP256, "ecdsa", 64)]
    [InlineData(KeyAlgorithm.EcdsaP384, "ecdsa", 96)]
    [InlineData(KeyAlgorithm.Rsa2048, "rsapss", 256)]
    [InlineData(KeyAlgorithm.Ed25519, "eddsa", 64)]
    public void Notary_signatures_carry_the_method_and_raw_encoding(KeyAlgorithm algorithm, string expectedMethod, int length)
    {
        using var signer = SoftwareKeySigner.Generate(algorithm);
        var keyObject = KeyFormats.Encode(signer.PublicKey, Dialect.Notary);
        var message = "canonical bytes"u8.ToArray();
        var (signature, method) = MetadataSigner.Sign(signer, Dialect.Notary, keyObject, message);
        Assert.Equal(expectedMethod, method);
        Assert.Equal(length, signature.Length);
        if (algorithm == KeyAlgorithm.EcdsaP384)
        {
            // notary hashes with SHA-256 whatever the curve.
            using var ecdsa = signer.PublicKey.CreateECDsa();
            Assert.True(ecdsa.VerifyData(message, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
        }

        Assert.True(SignatureVerifier.Verify(signer.PublicKey, Dialect.Notary, ((JsonString)keyObject["keytype"]).Value, null, method, message, signature));
    }

    [Theory]
    [InlineData(KeyAlgorithm.EcdsaP256, "ecdsa")]
    [InlineData(KeyAlgorithm.Rsa2048, "rsapss")]
    public void Notary_root_key_signs_under_its_x509_key_object(KeyAlgorithm algorithm, string expectedMethod)
    {
        using var signer = SoftwareKeySigner.Generate(algorithm);
        using var certificate = NotaryRootCertificateBuilder.Build(signer, "example.com/app");
        var keyObject = KeyFormats.EncodeNotaryCertificate(certificate);
        var message = "root bytes"u8.ToArray();
        var (signature, method) = MetadataSigner.Sign(signer, Dialect.Notary, keyObject, message);
        Assert.Equal(expectedMethod, method);
        var key = KeyFormats.Decode(keyObject, Dialect.Notary, "$");
        var keyType = ((JsonString)keyObject["keytype"]).Value;
        Assert.EndsWith("-x509", keyType, StringComparison.Ordinal);
        Assert.True(SignatureVerifier.Verify(key, Dialect.Notary, keyType, null, method, message, signature));
        Assert.False(SignatureVerifier.Verify(key, Dialect.Notary, keyType, null, method, [.. message, 0], signature));
    }

    [Fact]
    public void Metadata_signer_refuses_a_key_object_of_another_key_and_a_scheme_it_cannot_make()
    {
        using var signer = SoftwareKeySigner.Generate(KeyAlgorithm.EcdsaP256);
        using var other = SoftwareKeySigner.Generate(KeyAlgorithm.EcdsaP256);
        using var rsa = SoftwareKeySigner.Generate(KeyAlgorithm.Rsa2048);
        var message = "m"u8.ToArray();
        var e = Assert.Throws<SigningException>(() => MetadataSigner.Sign(signer, Dialect.TufSpecification, KeyFormats.Encode(other.PublicKey, Dialect.TufSpecification), message));
        Assert.Contains("does not hold", e.Message, StringComparison.Ordinal);

        var pkcs1 = KeyFormats.Encode(rsa.PublicKey, Dialect.TufSpecification);
        pkcs1["scheme"] = "rsa-pkcs1v15-sha256";
        Assert.Throws<SigningException>(() => MetadataSigner.Sign(rsa, Dialect.TufSpecification, pkcs1, message));
        Assert.Throws<SigningException>(() => MetadataSigner.Sign(signer, Dialect.TufSpecification, "ed25519", "ed25519", message));
        Assert.Throws<SigningException>(() => MetadataSigner.Sign(signer, Dialect.TufSpecification, "ecdsa", "ecdsa-sha2-nistp384", message));
    }

    [Fact]
    public void Metadata_signer_refuses_a_backend_whose_signature_does_not_verify()
    {
        using var inner = SoftwareKeySigner.Generate(KeyAlgorithm.Ed25519);
        using var broken = new FlippingSigner(inner);
        var keyObject = KeyFormats.Encode(inner.PublicKey, Dialect.TufSpecification);
        var e = Assert.Throws<SigningException>(() => MetadataSigner.Sign(broken, Dialect.TufSpecification, keyObject, "m"u8));
        Assert.Contains("does not verify", e.Message, StringComparison.Ordinal);
    }

    private sealed class FlippingSigner(IKeySigner inner) : IKeySigner
    {
        public KeyAlgorithm Algorithm => inner.Algorithm;

        public ReadOnlyMemory<byte> SubjectPublicKeyInfo => inner.SubjectPublicKeyInfo;

        public string KeyReference => "test:flipping";

        public byte[] Sign(ReadOnlySpan<byte> message, HashAlgorithmName hash)
        {
            var signature = inner.Sign(message, hash);
            signature[0] ^= 0x01;
            return signature;
        }

        public void Dispose()
        {
        }
    }
}
