using System.Security.Cryptography;
using OfflineSigner.Tests.Shared;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Crypto;
using OfflineSigner.Tuf.Json;
using Xunit;

namespace OfflineSigner.Signing.Tests;

/// <summary>Key objects of both dialects: what we write is what the other implementations write, and bad ones are refused by field.</summary>
public sealed class KeyFormatTests
{
    public static TheoryData<KeyAlgorithm, Dialect> AlgorithmsAndDialects()
    {
        var data = new TheoryData<KeyAlgorithm, Dialect>();
        foreach (var algorithm in new[] { KeyAlgorithm.Ed25519, KeyAlgorithm.EcdsaP256, KeyAlgorithm.EcdsaP384, KeyAlgorithm.Rsa2048 })
        {
            data.Add(algorithm, Dialect.TufSpecification);
            data.Add(algorithm, Dialect.Notary);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(AlgorithmsAndDialects))]
    public void Encode_then_decode_gives_the_same_key(KeyAlgorithm algorithm, Dialect dialect)
    {
        using var signer = SoftwareKeySigner.Generate(algorithm);
        var json = KeyFormats.Encode(signer.PublicKey, dialect);
        var decoded = KeyFormats.Decode((JsonObject)json.DeepClone(), dialect, "$");
        Assert.Equal(signer.PublicKey, decoded);
        Assert.Equal(signer.PublicKey.Fingerprint, decoded.Fingerprint);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(signer.SubjectPublicKeyInfo.Span)), decoded.Fingerprint);
        Assert.Equal(KeyFormats.ComputeKeyId(json), Convert.ToHexStringLower(SHA256.HashData(CanonicalJson.Serialize(json))));
        if (dialect == Dialect.Notary)
        {
            Assert.DoesNotContain("scheme", json.Keys);
            Assert.Equal(JsonKind.Null, ((JsonObject)json["keyval"])["private"].Kind);
            Assert.Equal(KeyFormats.ComputeKeyId(json), KeyFormats.NotaryCanonicalKeyId(decoded));
        }
        else
        {
            Assert.Contains("scheme", json.Keys);
        }
    }

    [Theory]
    [InlineData("0.1")]
    [InlineData("0.3")]
    public void Notary_key_objects_we_write_are_byte_identical_to_notarys(string version)
    {
        var keys = VectorData.RootKeys(VectorData.Load(VectorData.NotaryMetadata(version, "root.json")));
        foreach (var (keyId, keyObject) in keys)
        {
            var key = KeyFormats.Decode(keyObject, Dialect.Notary, "$");
            var ours = KeyFormats.Encode(key, Dialect.Notary);
            Assert.Equal(CanonicalJson.Serialize(keyObject), CanonicalJson.Serialize(ours));
            Assert.Equal(keyId, KeyFormats.ComputeKeyId(ours));
        }
    }

    [Fact]
    public void Notary_rsa_x509_delegation_key_is_written_back_identically()
    {
        var keys = VectorData.DelegationKeys(VectorData.Load(VectorData.NotaryMetadata("0.3", "targets.json")));
        foreach (var (keyId, keyObject) in keys)
        {
            var key = KeyFormats.Decode(keyObject, Dialect.Notary, "$");
            Assert.Equal(keyId, KeyFormats.ComputeKeyId(KeyFormats.Encode(key, Dialect.Notary)));
            Assert.Equal(keyId, KeyFormats.ComputeKeyId(KeyFormats.EncodeNotaryCertificate(key.CertificateChain[0])));
        }
    }

    [Fact]
    public void Spec_key_objects_we_write_match_python_tuf_and_sigstore_encodings()
    {
        var dir = TestEnvironment.RequireVectors("python-tuf-testdata/generated_data/ed25519_metadata");
        // (python-tuf's generated test keys are listed under arbitrary ids, so the objects are compared, not the ids.)
        foreach (var keyObject in VectorData.RootKeys(VectorData.Load(Path.Combine(dir, "root_with_ed25519.json"))).Values)
        {
            var ours = KeyFormats.Encode(KeyFormats.Decode(keyObject, Dialect.TufSpecification, "$"), Dialect.TufSpecification);
            Assert.Equal(CanonicalJson.Serialize(keyObject), CanonicalJson.Serialize(ours));
        }

        // sigstore's PEM keys (written by securesystemslib / tuf-on-ci) carry extra fields; the PEM text itself must be the same.
        foreach (var keyObject in VectorData.RootKeys(VectorData.Load(VectorData.SigstoreRoot(15))).Values)
        {
            var ours = KeyFormats.Encode(KeyFormats.Decode(keyObject, Dialect.TufSpecification, "$"), Dialect.TufSpecification);
            Assert.Equal(((JsonString)((JsonObject)keyObject["keyval"])["public"]).Value, ((JsonString)((JsonObject)ours["keyval"])["public"]).Value);
            Assert.Equal(((JsonString)keyObject["scheme"]).Value, ((JsonString)ours["scheme"]).Value);
        }
    }

    [Fact]
    public void Notary_canonical_key_id_survives_reissuing_the_certificate()
    {
        using var signer = SoftwareKeySigner.Generate(KeyAlgorithm.EcdsaP256);
        using var first = NotaryRootCertificateBuilder.Build(signer, "example.com/app");
        using var second = NotaryRootCertificateBuilder.Build(signer, "example.com/app", DateTimeOffset.UtcNow.AddDays(-1));
        var a = KeyFormats.Decode(KeyFormats.EncodeNotaryCertificate(first), Dialect.Notary, "$");
        var b = KeyFormats.Decode(KeyFormats.EncodeNotaryCertificate(second), Dialect.Notary, "$");
        Assert.NotEqual(KeyFormats.ComputeKeyId(KeyFormats.EncodeNotaryCertificate(first)), KeyFormats.ComputeKeyId(KeyFormats.EncodeNotaryCertificate(second)));
        Assert.Equal(KeyFormats.NotaryCanonicalKeyId(a), KeyFormats.NotaryCanonicalKeyId(b));
        Assert.Equal(KeyFormats.ComputeKeyId(KeyFormats.Encode(signer.PublicKey, Dialect.Notary)), KeyFormats.NotaryCanonicalKeyId(a));
        Assert.Equal(a, b);
        Assert.Equal(a, signer.PublicKey);
    }

    public static TheoryData<string, Dialect, string, string> BadKeyObjects()
    {
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        using var p256 = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var p521 = ECDsa.Create(ECCurve.NamedCurves.nistP521);
        using var rsa1024 = RSA.Create(1024);
        using var rsa2048 = RSA.Create(2048);
        var p384Pem = Json(p384.ExportSubjectPublicKeyInfoPem() + "\n");
        var p256Pem = Json(p256.ExportSubjectPublicKeyInfoPem() + "\n");
        var p521Pem = Json(p521.ExportSubjectPublicKeyInfoPem());
        var rsa1024Pem = Json(rsa1024.ExportSubjectPublicKeyInfoPem());
        var rsaPem = Json(rsa2048.ExportSubjectPublicKeyInfoPem());
        var privatePem = Json(p256.ExportPkcs8PrivateKeyPem());
        var p256Base64 = Convert.ToBase64String(p256.ExportSubjectPublicKeyInfo());
        var rsa1024Base64 = Convert.ToBase64String(rsa1024.ExportSubjectPublicKeyInfo());
        var point = p256.ExportParameters(false).Q;
        var offCurve = "04" + Convert.ToHexStringLower(point.X!) + Convert.ToHexStringLower(point.X!);
        var compressed = "02" + Convert.ToHexStringLower(point.X!);
        var onCurve = "04" + Convert.ToHexStringLower(point.X!) + Convert.ToHexStringLower(point.Y!);
        const string Spec = "ed25519";
        var hex32 = new string('a', 64);

        return new TheoryData<string, Dialect, string, string>
        {
            // Structure.
            { "{\"keytype\":\"ed25519\",\"scheme\":\"ed25519\"}", Dialect.TufSpecification, ".keyval", "missing" },
            { "{\"keytype\":\"ed25519\",\"scheme\":\"ed25519\",\"keyval\":\"aa\"}", Dialect.TufSpecification, ".keyval", "expected an object" },
            { "{\"keytype\":\"ed25519\",\"scheme\":\"ed25519\",\"keyval\":{}}", Dialect.TufSpecification, ".keyval.public", "missing" },
            { "{\"keytype\":\"ed25519\",\"scheme\":\"ed25519\",\"keyval\":{\"public\":1}}", Dialect.TufSpecification, ".keyval.public", "expected a string" },
            { "{\"scheme\":\"ed25519\",\"keyval\":{\"public\":\"" + hex32 + "\"}}", Dialect.TufSpecification, ".keytype", "missing" },
            { "{\"keytype\":7,\"scheme\":\"ed25519\",\"keyval\":{\"public\":\"" + hex32 + "\"}}", Dialect.TufSpecification, ".keytype", "expected a string" },
            { "{\"keytype\":\"ed25519\",\"keyval\":{\"public\":\"" + hex32 + "\"}}", Dialect.TufSpecification, ".scheme", "missing" },
            { "{\"keytype\":\"ed25519\",\"scheme\":null,\"keyval\":{\"public\":\"" + hex32 + "\"}}", Dialect.TufSpecification, ".scheme", "expected a string" },

            // Unknown key types and schemes.
            { "{\"keytype\":\"dsa\",\"scheme\":\"dsa\",\"keyval\":{\"public\":\"" + hex32 + "\"}}", Dialect.TufSpecification, ".keytype", "not supported" },
            { "{\"keytype\":\"sigstore-oidc\",\"scheme\":\"Fulcio\",\"keyval\":{\"identity\":\"a\",\"issuer\":\"b\"}}", Dialect.TufSpecification, ".keyval.public", "missing" },
            { "{\"keytype\":\"ecdsa-x509\",\"scheme\":\"ecdsa-sha2-nistp256\",\"keyval\":{\"public\":" + p256Pem + "}}", Dialect.TufSpecification, ".keytype", "not supported" },
            { "{\"keytype\":\"ed25519-x509\",\"keyval\":{\"private\":null,\"public\":\"AAAA\"}}", Dialect.Notary, ".keytype", "not supported" },
            { "{\"keytype\":\"" + Spec + "\",\"scheme\":\"ed448\",\"keyval\":{\"public\":\"" + hex32 + "\"}}", Dialect.TufSpecification, ".scheme", "not valid for an ed25519 key" },
            { "{\"keytype\":\"ecdsa\",\"scheme\":\"ecdsa-sha2-nistp521\",\"keyval\":{\"public\":" + p521Pem + "}}", Dialect.TufSpecification, ".scheme", "not supported" },
            { "{\"keytype\":\"rsa\",\"scheme\":\"rsassa-pss-md5\",\"keyval\":{\"public\":" + rsaPem + "}}", Dialect.TufSpecification, ".scheme", "not supported" },
            { "{\"keytype\":\"ecdsa-sha2-nistp256\",\"scheme\":\"ecdsa-sha2-nistp384\",\"keyval\":{\"public\":" + p384Pem + "}}", Dialect.TufSpecification, ".scheme", "contradicts" },

            // Bad encodings.
            { "{\"keytype\":\"ed25519\",\"scheme\":\"ed25519\",\"keyval\":{\"public\":\"" + hex32[..62] + "\"}}", Dialect.TufSpecification, ".keyval.public", "64 hex" },
            { "{\"keytype\":\"ed25519\",\"scheme\":\"ed25519\",\"keyval\":{\"public\":\"" + hex32[..62] + "zz\"}}", Dialect.TufSpecification, ".keyval.public", "64 hex" },
            { "{\"keytype\":\"ecdsa\",\"scheme\":\"ecdsa-sha2-nistp256\",\"keyval\":{\"public\":\"-----BEGIN PUBLIC KEY-----\\nnot base64!\\n-----END PUBLIC KEY-----\\n\"}}", Dialect.TufSpecification, ".keyval.public", "PEM" },
            { "{\"keytype\":\"ecdsa\",\"scheme\":\"ecdsa-sha2-nistp256\",\"keyval\":{\"public\":\"-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----\\n\"}}", Dialect.TufSpecification, ".keyval.public", "SubjectPublicKeyInfo" },
            { "{\"keytype\":\"ecdsa\",\"scheme\":\"ecdsa-sha2-nistp256\",\"keyval\":{\"public\":" + privatePem + "}}", Dialect.TufSpecification, ".keyval.public", "PUBLIC KEY" },
            { "{\"keytype\":\"ecdsa-sha2-nistp256\",\"scheme\":\"ecdsa-sha2-nistp256\",\"keyval\":{\"public\":\"xyz\"}}", Dialect.TufSpecification, ".keyval.public", "neither a PEM" },
            { "{\"keytype\":\"ecdsa\",\"scheme\":\"ecdsa-sha2-nistp256\",\"keyval\":{\"public\":\"" + onCurve + "\"}}", Dialect.TufSpecification, ".keyval.public", "legacy key types" },
            { "{\"keytype\":\"ecdsa-sha2-nistp256\",\"scheme\":\"ecdsa-sha2-nistp256\",\"keyval\":{\"public\":\"" + offCurve + "\"}}", Dialect.TufSpecification, ".keyval.public", "hex EC point" },
            { "{\"keytype\":\"ecdsa-sha2-nistp256\",\"scheme\":\"ecdsa-sha2-nistp256\",\"keyval\":{\"public\":\"" + compressed + "\"}}", Dialect.TufSpecification, ".keyval.public", "hex EC point" },
            { "{\"keytype\":\"ecdsa\",\"keyval\":{\"private\":null,\"public\":\"%%%\"}}", Dialect.Notary, ".keyval.public", "base64" },
            { "{\"keytype\":\"ecdsa\",\"keyval\":{\"private\":null,\"public\":\"AAAA\"}}", Dialect.Notary, ".keyval.public", "SubjectPublicKeyInfo" },
            { "{\"keytype\":\"ed25519\",\"keyval\":{\"private\":null,\"public\":\"AAAA\"}}", Dialect.Notary, ".keyval.public", "32 bytes" },
            { "{\"keytype\":\"ecdsa-x509\",\"keyval\":{\"private\":null,\"public\":\"" + p256Base64 + "\"}}", Dialect.Notary, ".keyval.public", "PEM" },
            { "{\"keytype\":\"ecdsa-x509\",\"keyval\":{\"private\":null,\"public\":\"" + Convert.ToBase64String(System.Text.Encoding.ASCII.GetBytes(p256.ExportSubjectPublicKeyInfoPem())) + "\"}}", Dialect.Notary, ".keyval.public", "only CERTIFICATE" },

            // Keys that do not fit the key type or scheme.
            { "{\"keytype\":\"ecdsa\",\"scheme\":\"ecdsa-sha2-nistp256\",\"keyval\":{\"public\":" + p384Pem + "}}", Dialect.TufSpecification, ".keyval.public", "requires P-256" },
            { "{\"keytype\":\"ecdsa\",\"scheme\":\"ecdsa-sha2-nistp384\",\"keyval\":{\"public\":" + p256Pem + "}}", Dialect.TufSpecification, ".keyval.public", "requires P-384" },
            { "{\"keytype\":\"ecdsa\",\"scheme\":\"ecdsa-sha2-nistp256\",\"keyval\":{\"public\":" + rsaPem + "}}", Dialect.TufSpecification, ".keyval.public", "key type" },
            { "{\"keytype\":\"rsa\",\"scheme\":\"rsassa-pss-sha256\",\"keyval\":{\"public\":" + p256Pem + "}}", Dialect.TufSpecification, ".keyval.public", "key type" },
            { "{\"keytype\":\"rsa\",\"scheme\":\"rsassa-pss-sha256\",\"keyval\":{\"public\":" + rsa1024Pem + "}}", Dialect.TufSpecification, ".keyval.public", "too small" },
            { "{\"keytype\":\"rsa\",\"keyval\":{\"private\":null,\"public\":\"" + rsa1024Base64 + "\"}}", Dialect.Notary, ".keyval.public", "too small" },
            { "{\"keytype\":\"rsa\",\"keyval\":{\"private\":null,\"public\":\"" + p256Base64 + "\"}}", Dialect.Notary, ".keyval.public", "key type" },
            { "{\"keytype\":\"ecdsa\",\"scheme\":\"ecdsa-sha2-nistp256\",\"keyval\":{\"public\":" + p521Pem + "}}", Dialect.TufSpecification, ".keyval.public", "not supported" },
        };
    }

    [Theory]
    [MemberData(nameof(BadKeyObjects))]
    public void Bad_key_objects_are_refused_naming_the_field(string json, Dialect dialect, string field, string reason)
    {
        var keyObject = (JsonObject)JsonParser.Parse(json);
        var e = Assert.Throws<MetadataFormatException>(() => KeyFormats.Decode(keyObject, dialect, "$.signed.keys.k1"));
        Assert.Equal("$.signed.keys.k1" + field, e.FieldPath);
        Assert.Contains(reason, e.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_extra_fields_are_ignored_when_decoding_but_count_in_the_key_id()
    {
        using var signer = SoftwareKeySigner.Generate(KeyAlgorithm.EcdsaP256);
        var plain = KeyFormats.Encode(signer.PublicKey, Dialect.TufSpecification);
        var extended = (JsonObject)plain.DeepClone();
        extended.Add("x-tuf-on-ci-keyowner", "@someone");
        extended.Add("keyid_hash_algorithms", new JsonArray(["sha256", "sha512"]));
        Assert.Equal(signer.PublicKey, KeyFormats.Decode(extended, Dialect.TufSpecification, "$"));
        Assert.NotEqual(KeyFormats.ComputeKeyId(plain), KeyFormats.ComputeKeyId(extended));
    }

    [Fact]
    public void Public_key_from_spki_normalizes_and_refuses_unsupported_algorithms()
    {
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var spki = ecdsa.ExportSubjectPublicKeyInfo();
        Assert.Equal(spki, PublicKey.FromSubjectPublicKeyInfo(spki).SubjectPublicKeyInfo.ToArray());
        Assert.Throws<CryptographicException>(() => PublicKey.FromSubjectPublicKeyInfo([.. spki, 0]));
        Assert.Throws<CryptographicException>(() => PublicKey.FromSubjectPublicKeyInfo(spki.AsSpan(0, spki.Length - 1)));
        Assert.Throws<CryptographicException>(() => PublicKey.FromEd25519(new byte[31]));

        // An Ed448 SubjectPublicKeyInfo (OID 1.3.101.113) is well-formed but not supported.
        byte[] ed448 = [0x30, 0x43, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x71, 0x03, 0x3a, 0x00, .. new byte[57]];
        var e = Assert.Throws<CryptographicException>(() => PublicKey.FromSubjectPublicKeyInfo(ed448));
        Assert.Contains("1.3.101.113", e.Message, StringComparison.Ordinal);
    }

    // Canonical JSON keeps control characters raw, which a JSON parser refuses: write test strings as ordinary escaped JSON.
    private static string Json(string value) => System.Text.Json.JsonSerializer.Serialize(value);
}
