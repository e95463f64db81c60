using System.Security.Cryptography;
using System.Text;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Crypto;
using OfflineSigner.Tuf.Json;
using Xunit;

namespace OfflineSigner.Signing.Tests;

/// <summary>Hostile bytes get a false or a MetadataFormatException, never another exception.</summary>
public sealed class RobustnessTests
{
    [Theory]
    [InlineData(KeyAlgorithm.Ed25519)]
    [InlineData(KeyAlgorithm.EcdsaP256)]
    [InlineData(KeyAlgorithm.EcdsaP384)]
    [InlineData(KeyAlgorithm.Rsa2048)]
    public void Random_signature_bytes_are_false_in_both_dialects(KeyAlgorithm algorithm)
    {
        using var signer = SoftwareKeySigner.Generate(algorithm);
        var random = new Random(1234 + (int)algorithm);
        var message = "message"u8.ToArray();
        foreach (var dialect in new[] { Dialect.TufSpecification, Dialect.Notary })
        {
            var keyObject = KeyFormats.Encode(signer.PublicKey, dialect);
            var keyType = ((JsonString)keyObject["keytype"]).Value;
            var scheme = keyObject.TryGetValue("scheme", out var s) ? ((JsonString)s).Value : null;
            var method = dialect == Dialect.Notary ? MetadataSigner.NotaryMethod(signer.PublicKey.Family) : null;
            var (good, _) = MetadataSigner.Sign(signer, dialect, keyObject, message);
            for (var i = 0; i < 300; i++)
            {
                // Random lengths around the real one, and DER-looking prefixes, to reach the parsers' edges.
                var length = i % 3 == 0 ? good.Length : random.Next(0, good.Length + 16);
                var bytes = new byte[length];
                random.NextBytes(bytes);
                if (i % 5 == 0 && length > 2)
                {
                    bytes[0] = 0x30;
                    bytes[1] = (byte)(length - 2);
                }

                Assert.False(SignatureVerifier.Verify(signer.PublicKey, dialect, keyType, scheme, method, message, bytes));
            }
        }
    }

    [Fact]
    public void Random_public_values_decode_or_raise_only_metadata_format_errors()
    {
        var random = new Random(99);
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var spki = ec.ExportSubjectPublicKeyInfo();
        using var certificate = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=gun", ec, HashAlgorithmName.SHA256)
            .CreateSelfSigned(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(1));
        var certificateDer = certificate.RawData;
        var cases = new List<(string KeyType, string? Scheme, Dialect Dialect, Func<string> Value)>
        {
            ("ed25519", "ed25519", Dialect.TufSpecification, () => RandomHex(random, random.Next(0, 70))),
            ("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256", Dialect.TufSpecification, () => "04" + RandomHex(random, 128)),
            ("ecdsa", "ecdsa-sha2-nistp256", Dialect.TufSpecification, () => Pem("PUBLIC KEY", Mutate(random, spki))),
            ("rsa", "rsassa-pss-sha256", Dialect.TufSpecification, () => Pem("PUBLIC KEY", Mutate(random, spki))),
            ("ecdsa", null, Dialect.Notary, () => Convert.ToBase64String(Mutate(random, spki))),
            ("rsa", null, Dialect.Notary, () => Convert.ToBase64String(RandomBytes(random, random.Next(0, 300)))),
            ("ed25519", null, Dialect.Notary, () => Convert.ToBase64String(RandomBytes(random, random.Next(0, 40)))),
            ("ecdsa-x509", null, Dialect.Notary, () => Convert.ToBase64String(Encoding.ASCII.GetBytes(Pem("CERTIFICATE", RandomBytes(random, random.Next(0, 400)))))),
            ("ecdsa-x509", null, Dialect.Notary, () => Convert.ToBase64String(Encoding.ASCII.GetBytes(Pem("CERTIFICATE", Mutate(random, certificateDer))))),
            ("rsa-x509", null, Dialect.Notary, () => Convert.ToBase64String(RandomBytes(random, random.Next(0, 100)))),
        };
        foreach (var (keyType, scheme, dialect, value) in cases)
        {
            for (var i = 0; i < 200; i++)
            {
                var keyObject = new JsonObject { { "keytype", keyType }, { "keyval", new JsonObject { { "public", value() } } } };
                if (scheme is not null)
                {
                    keyObject.Add("scheme", scheme);
                }

                try
                {
                    var key = KeyFormats.Decode(keyObject, dialect, "$");
                    Assert.NotNull(key.Fingerprint);
                }
                catch (MetadataFormatException e)
                {
                    Assert.StartsWith("$.", e.FieldPath, StringComparison.Ordinal);
                }
            }
        }
    }

    [Fact]
    public void Ed25519_verifies_from_many_threads_at_once()
    {
        using var key = Ed25519PrivateKey.Generate();
        var messages = Enumerable.Range(0, 64).Select(i => BitConverter.GetBytes(i)).ToArray();
        var signatures = messages.Select(m => key.Sign(m)).ToArray();
        var raw = key.PublicKey.Ed25519RawKey.ToArray();
        Parallel.For(0, 2000, i =>
        {
            var j = i % messages.Length;
            Assert.True(Ed25519.Verify(raw, messages[j], signatures[j]));
            Assert.False(Ed25519.Verify(raw, messages[(j + 1) % messages.Length], signatures[j]));
        });
    }

    private static string RandomHex(Random random, int chars)
    {
        const string digits = "0123456789abcdef";
        return new string([.. Enumerable.Range(0, chars).Select(_ => digits[random.Next(16)])]);
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    private static byte[] Mutate(Random random, byte[] original)
    {
        var copy = (byte[])original.Clone();
        for (var n = random.Next(1, 4); n > 0; n--)
        {
            copy[random.Next(copy.Length)] = (byte)random.Next(256);
        }

        return random.Next(4) == 0 ? copy[..random.Next(copy.Length)] : copy;
    }

    private static string Pem(string label, byte[] data) => PemEncoding.WriteString(label, data) + "\n";
}
