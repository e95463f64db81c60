using System.Security.Cryptography;
using System.Text;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Crypto;
using OfflineSigner.Tuf.Json;
using Xunit;
using StjArray = System.Text.Json.Nodes.JsonArray;
using StjObject = System.Text.Json.Nodes.JsonObject;

namespace OfflineSigner.Signing.Tests;

/// <summary>What we sign and write is accepted by independent implementations, and tampered copies are not.</summary>
public sealed class PeerVerificationTests
{
    private static readonly KeyAlgorithm[] SpecAlgorithms = [KeyAlgorithm.Ed25519, KeyAlgorithm.EcdsaP256, KeyAlgorithm.EcdsaP384, KeyAlgorithm.Rsa2048, KeyAlgorithm.Rsa3072];
    private static readonly KeyAlgorithm[] NotaryAlgorithms = [KeyAlgorithm.Ed25519, KeyAlgorithm.EcdsaP256, KeyAlgorithm.EcdsaP384, KeyAlgorithm.Rsa2048];

    [Fact]
    public void Signatures_we_make_verify_with_python_cryptography_and_securesystemslib_and_tampered_ones_do_not()
    {
        var message = CanonicalJson.Serialize(new JsonObject
        {
            { "_type", "targets" },
            { "spec_version", "1.0.31" },
            { "version", 7 },
            { "expires", "2030-01-01T00:00:00Z" },
            { "targets", new JsonObject { { "caf\u00e9 \U0001F600.txt", new JsonObject { { "length", 3 } } } } },
        });
        var cases = new StjArray();
        var expected = new List<(string Label, bool Valid, bool Spec)>();
        var signers = new List<SoftwareKeySigner>();
        try
        {
            foreach (var (dialect, algorithms) in new[] { (Dialect.TufSpecification, SpecAlgorithms), (Dialect.Notary, NotaryAlgorithms) })
            {
                foreach (var algorithm in algorithms)
                {
                    var signer = SoftwareKeySigner.Generate(algorithm);
                    signers.Add(signer);
                    var keyObject = KeyFormats.Encode(signer.PublicKey, dialect);
                    var (signature, method) = MetadataSigner.Sign(signer, dialect, keyObject, message);
                    var tamperedSignature = (byte[])signature.Clone();
                    tamperedSignature[signature.Length / 2] ^= 0x04;
                    var tamperedMessage = (byte[])message.Clone();
                    tamperedMessage[^2] ^= 0x20;
                    foreach (var (label, sig, msg, valid) in new[]
                    {
                        ("good", signature, message, true),
                        ("tampered signature", tamperedSignature, message, false),
                        ("tampered message", signature, tamperedMessage, false),
                    })
                    {
                        cases.Add(new StjObject
                        {
                            ["dialect"] = dialect == Dialect.Notary ? "notary" : "spec",
                            ["keyid"] = KeyFormats.ComputeKeyId(keyObject),
                            ["key"] = PythonPeer.ToStj(keyObject),
                            ["method"] = method,
                            ["message_b64"] = Convert.ToBase64String(msg),
                            ["sig"] = dialect == Dialect.Notary ? Convert.ToBase64String(sig) : Convert.ToHexStringLower(sig),
                        });
                        expected.Add(($"{dialect} {algorithm} {label}", valid, dialect == Dialect.TufSpecification));
                    }
                }
            }

            var answers = (StjArray)PythonPeer.Run(new StjObject { ["cases"] = cases })["cases"]!;
            Assert.Equal(expected.Count, answers.Count);
            for (var i = 0; i < expected.Count; i++)
            {
                var answer = (StjObject)answers[i]!;
                var (label, valid, spec) = expected[i];
                Assert.True(answer["error"] is null, $"{label}: {answer["error"]}");
                Assert.Equal(((StjObject)cases[i]!)["keyid"]!.GetValue<string>(), answer["keyid"]!.GetValue<string>());
                Assert.True(answer["cryptography"]!.GetValue<bool>() == valid, $"{label}: python-cryptography says {answer["cryptography"]}");
                if (spec)
                {
                    Assert.True(answer["securesystemslib"]!.GetValue<bool>() == valid, $"{label}: securesystemslib says {answer["securesystemslib"]}");
                }
            }
        }
        finally
        {
            signers.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public void Private_keys_we_export_are_read_by_python_cryptography_as_the_same_key()
    {
        var algorithms = new[] { KeyAlgorithm.Ed25519, KeyAlgorithm.EcdsaP256, KeyAlgorithm.EcdsaP384, KeyAlgorithm.Rsa2048 };
        var keys = new StjArray();
        var spkis = new List<string>();
        foreach (var algorithm in algorithms)
        {
            using var signer = SoftwareKeySigner.Generate(algorithm);
            var pem = signer.ExportPkcs8Pem();
            keys.Add(new StjObject { ["pem"] = Encoding.ASCII.GetString(pem) });
            CryptographicOperations.ZeroMemory(pem);
            spkis.Add(Convert.ToBase64String(signer.SubjectPublicKeyInfo.Span));
        }

        var answers = (StjArray)PythonPeer.Run(new StjObject { ["private_keys"] = keys })["private_keys"]!;
        for (var i = 0; i < algorithms.Length; i++)
        {
            var answer = (StjObject)answers[i]!;
            Assert.True(answer["error"] is null, $"{algorithms[i]}: {answer["error"]}");
            Assert.Equal(spkis[i], answer["spki_b64"]!.GetValue<string>());
        }
    }
}
