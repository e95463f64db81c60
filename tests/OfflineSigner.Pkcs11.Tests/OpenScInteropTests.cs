using System.Security.Cryptography;
using System.Text.RegularExpressions;
using OfflineSigner.Pkcs11.Tests.Support;
using OfflineSigner.Signing;
using Xunit;

namespace OfflineSigner.Pkcs11.Tests;

/// <summary>OpenSC's pkcs11-tool as an independent PKCS#11 client on the same token.</summary>
[Collection(SoftHsmSerialGroup.Name)]
public sealed partial class OpenScInteropTests
{
    [Fact]
    public void Pkcs11_tool_lists_our_keys_with_the_protection_we_claim()
    {
        using var hsm = SoftHsmSandbox.Create("ours");
        hsm.Activate();
        using (var token = Pkcs11Token.Open(hsm.Options("ours")))
        {
            using var ec = Pkcs11KeyGenerator.Generate(token, KeyAlgorithm.EcdsaP256, "ec-key", [0xA1]);
            using var ed = Pkcs11KeyGenerator.Generate(token, KeyAlgorithm.Ed25519, "ed-key", [0xA2]);
            Assert.True(ec.KeyInfo.Protection.GeneratedOnDevice);
            Assert.True(ed.KeyInfo.Protection.NeverExtractable);
        }

        var result = hsm.Pkcs11Tool("--token-label", "ours", "--login", "--pin", SoftHsmSandbox.UserPin, "--list-objects", "--type", "privkey");
        Assert.True(result.ExitCode == 0, result.ToString());
        var objects = ParseObjects(result.StdOut);
        Assert.Equal(2, objects.Count);
        foreach (var (label, id) in new[] { ("ec-key", "a1"), ("ed-key", "a2") })
        {
            var o = Assert.Single(objects, o => o.Label == label);
            Assert.Equal(id, o.Id);
            Assert.Contains("sensitive", o.Access);
            Assert.Contains("always sensitive", o.Access);
            Assert.Contains("never extractable", o.Access);
            Assert.Contains("local", o.Access);
            Assert.DoesNotContain("extractable", o.Access);
            Assert.Equal(["sign"], o.Usage);
        }
    }

    [Fact]
    public void A_key_generated_by_pkcs11_tool_is_found_and_used_by_our_code()
    {
        using var hsm = SoftHsmSandbox.Create("theirs");
        var gen = hsm.Pkcs11Tool(
            "--token-label", "theirs", "--login", "--pin", SoftHsmSandbox.UserPin,
            "--keypairgen", "--key-type", "EC:prime256v1", "--id", "4242", "--label", "tool-key", "--usage-sign", "--sensitive");
        Assert.True(gen.ExitCode == 0, gen.ToString());

        hsm.Activate();
        using var token = Pkcs11Token.Open(hsm.Options("theirs"));
        using var signer = Pkcs11Signer.Open(token, Pkcs11Uri.Parse("pkcs11:token=theirs;object=tool-key"), KeyProtectionPolicy.Strict);
        Assert.Equal(KeyAlgorithm.EcdsaP256, signer.Algorithm);
        Assert.Equal([0x42, 0x42], signer.KeyInfo.Id);
        Assert.Equal("CKM_EC_KEY_PAIR_GEN", signer.KeyInfo.Protection.GenerationMechanism);

        var message = "from pkcs11-tool's key"u8.ToArray();
        var signature = signer.Sign(message, HashAlgorithmName.SHA256);
        using var ecdsa = ECDsa.Create();
        ecdsa.ImportSubjectPublicKeyInfo(signer.SubjectPublicKeyInfo.Span, out _);
        Assert.True(ecdsa.VerifyData(message, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
        var python = PythonVerifier.Verify(KeyAlgorithm.EcdsaP256, signer.SubjectPublicKeyInfo, message, signature);
        Assert.True(python.ExitCode == 0, python.ToString());

        // The same public key as pkcs11-tool reads it.
        var read = hsm.Pkcs11Tool("--token-label", "theirs", "--read-object", "--type", "pubkey", "--id", "4242");
        Assert.True(read.ExitCode == 0, read.ToString());
    }

    [Fact]
    public void An_extractable_key_from_pkcs11_tool_is_refused_unless_policy_allows_it()
    {
        using var hsm = SoftHsmSandbox.Create("weak");
        var gen = hsm.Pkcs11Tool(
            "--token-label", "weak", "--login", "--pin", SoftHsmSandbox.UserPin,
            "--keypairgen", "--key-type", "EC:prime256v1", "--id", "07", "--label", "weak-key", "--usage-sign", "--extractable");
        Assert.True(gen.ExitCode == 0, gen.ToString());

        hsm.Activate();
        using var token = Pkcs11Token.Open(hsm.Options("weak"));
        var uri = Pkcs11Uri.Parse("pkcs11:id=%07");
        var e = Assert.Throws<KeyProtectionException>(() => Pkcs11Signer.Open(token, uri, KeyProtectionPolicy.Strict));
        Assert.Contains("extractable", e.Message, StringComparison.Ordinal);
        Assert.Equal(true, e.Evidence!.Extractable);

        using var allowed = Pkcs11Signer.Open(token, uri, new KeyProtectionPolicy(AllowExtractable: true));
        allowed.SelfTest();
    }

    [Fact]
    public void A_key_that_needs_the_pin_for_every_signature_gets_a_context_login_each_time()
    {
        using var hsm = SoftHsmSandbox.Create("always");
        var gen = hsm.Pkcs11Tool(
            "--token-label", "always", "--login", "--pin", SoftHsmSandbox.UserPin,
            "--keypairgen", "--key-type", "EC:prime256v1", "--id", "9c", "--label", "pin-always", "--usage-sign", "--sensitive", "--always-auth");
        Assert.True(gen.ExitCode == 0, gen.ToString());
        var pinFile = hsm.WritePinFile("always.pin", SoftHsmSandbox.UserPin);

        hsm.Activate();
        using var token = Pkcs11Token.Open(hsm.Options("always", pinFile));
        using var signer = Pkcs11Signer.Open(token, Pkcs11Uri.Parse("pkcs11:id=%9c"), KeyProtectionPolicy.Strict);
        Assert.True(signer.KeyInfo.AlwaysAuthenticate);

        // Without the context-specific login the token refuses to sign: the PIN really is needed per signature.
        var refused = Assert.Throws<Pkcs11Exception>(() => token.Run(
            s => s.Sign(Pkcs11Mechanism.Ecdsa, signer.PrivateKeyHandle(s), SHA256.HashData("x"u8)), retry: false));
        Assert.Equal("C_Sign", refused.Function);

        using var ecdsa = ECDsa.Create();
        ecdsa.ImportSubjectPublicKeyInfo(signer.SubjectPublicKeyInfo.Span, out _);
        for (var i = 0; i < 3; i++)
        {
            var message = new[] { (byte)i };
            var signature = signer.Sign(message, HashAlgorithmName.SHA256);
            Assert.True(ecdsa.VerifyData(message, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
        }

        // A wrong PIN at signing time is reported once and then not tried again.
        hsm.WritePinFile("always.pin", "000000");
        var wrong = Assert.Throws<Pkcs11PinException>(() => signer.Sign("y"u8, HashAlgorithmName.SHA256));
        Assert.Contains("rejected the PIN", wrong.Message, StringComparison.Ordinal);
        var again = Assert.Throws<Pkcs11PinException>(() => signer.Sign("y"u8, HashAlgorithmName.SHA256));
        Assert.Contains("not trying again", again.Message, StringComparison.Ordinal);
    }

    private static List<ListedObject> ParseObjects(string output)
    {
        var result = new List<ListedObject>();
        ListedObject? current = null;
        foreach (var raw in output.Split('\n'))
        {
            var line = raw.TrimEnd();
            if (line.StartsWith("Private Key Object", StringComparison.Ordinal))
            {
                current = new ListedObject();
                result.Add(current);
                continue;
            }

            if (current is null)
            {
                continue;
            }

            var m = FieldRegex().Match(line);
            if (!m.Success)
            {
                continue;
            }

            var value = m.Groups[2].Value.Trim();
            switch (m.Groups[1].Value)
            {
                case "label":
                    current.Label = value;
                    break;
                case "ID":
                    current.Id = value;
                    break;
                case "Usage":
                    current.Usage = [.. value.Split(',', StringSplitOptions.TrimEntries)];
                    break;
                case "Access":
                    current.Access = [.. value.Split(',', StringSplitOptions.TrimEntries)];
                    break;
                default:
                    break;
            }
        }

        return result;
    }

    [GeneratedRegex(@"^\s+(label|ID|Usage|Access):\s+(.*)$")]
    private static partial Regex FieldRegex();

    private sealed class ListedObject
    {
        public string? Label { get; set; }

        public string? Id { get; set; }

        public List<string> Usage { get; set; } = [];

        public List<string> Access { get; set; } = [];
    }
}
