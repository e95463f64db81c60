using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using OfflineSigner.Pkcs11;
using OfflineSigner.Signing;
using OfflineSigner.Tests.Shared;
using OfflineSigner.YubiKey.Tests.Support;
using OfflineSigner.YubiKeySimulator;
using Xunit;

namespace OfflineSigner.YubiKey.Tests;

/// <summary>
/// The simulator is a YubiKey as far as Yubico's own clients can tell: yubico-piv-tool 2.2.0, ykman 4.0.9 and ykcs11
/// 2.2.0 from Debian drive it through a real pcscd and vpcd, and what they get back is checked with openssl and
/// python3-cryptography.
/// </summary>
[Collection(SimulatedCard.Collection)]
public sealed class SimulatorFidelityTests
{
    private const string DefaultManagementKey = "010203040506070801020304050607080102030405060708";

    [Fact]
    public void Yubico_piv_tool_status_reports_version_serial_and_pin_tries()
    {
        using var card = SimulatedCard.Insert();
        var output = YubicoTools.Ok(YubicoTools.PivTool(card, "-a", "status"));
        Assert.Contains("Version:\t5.4.3", output, StringComparison.Ordinal);
        Assert.Contains($"Serial Number:\t{card.Serial}", output, StringComparison.Ordinal);
        Assert.Contains("PIN tries left:\t3", output, StringComparison.Ordinal);
        Assert.Contains("CHUID:\tNo data available", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Yubico_piv_tool_generates_in_9c_and_its_attestation_verifies_with_openssl()
    {
        using var card = SimulatedCard.Insert();
        YubicoTools.Ok(YubicoTools.PivTool(card, "-a", "generate", "-s", "9c", "-A", "ECCP256", "--pin-policy=always", "--touch-policy=always", "-o", "public.pem"));
        YubicoTools.Ok(YubicoTools.PivTool(card, "-a", "attest", "-s", "9c", "-o", "attestation.pem"));
        YubicoTools.Ok(YubicoTools.PivTool(card, "-a", "read-certificate", "-s", "f9", "-o", "intermediate.pem"));
        var dir = card.Directory.Path;
        var root = card.WriteRootPem();

        var openssl = TestEnvironment.RequireTool("openssl", "Debian package openssl");
        var verify = ProcessRunner.Run(openssl, ["verify", "-CAfile", root, "-untrusted", Path.Combine(dir, "intermediate.pem"), Path.Combine(dir, "attestation.pem")]);
        Assert.True(verify.ExitCode == 0, verify.ToString());
        Assert.Contains(": OK", verify.StdOut, StringComparison.Ordinal);

        // An attestation is only as good as its root: against another CA it must not verify.
        using var other = SimulatorCa.Create("another root");
        var otherRoot = Path.Combine(dir, "other-root.pem");
        File.WriteAllText(otherRoot, other.CertificatePem);
        Assert.NotEqual(0, ProcessRunner.Run(openssl, ["verify", "-CAfile", otherRoot, "-untrusted", Path.Combine(dir, "intermediate.pem"), Path.Combine(dir, "attestation.pem")]).ExitCode);

        var attestation = YubicoTools.CertificateInfo(Path.Combine(dir, "attestation.pem"));
        var intermediate = YubicoTools.CertificateInfo(Path.Combine(dir, "intermediate.pem"));
        Assert.Equal("CN=YubiKey PIV Attestation 9c", attestation.GetProperty("subject").GetString());
        Assert.Equal("CN=Yubico PIV Attestation", attestation.GetProperty("issuer").GetString());
        Assert.Equal(intermediate.GetProperty("subject").GetString(), attestation.GetProperty("issuer").GetString());
        Assert.Equal(intermediate.GetProperty("not_before").GetString(), attestation.GetProperty("not_before").GetString());
        Assert.Equal(intermediate.GetProperty("not_after").GetString(), attestation.GetProperty("not_after").GetString());
        Assert.Equal(Convert.ToHexStringLower(YubicoTools.PemBody(Path.Combine(dir, "public.pem"))), attestation.GetProperty("spki_hex").GetString());

        var extensions = attestation.GetProperty("extensions");
        Assert.Equal("050403", extensions.GetProperty("1.3.6.1.4.1.41482.3.3").GetString());
        var serial = new AsnWriter(AsnEncodingRules.DER);
        serial.WriteInteger(card.Serial);
        Assert.Equal(Convert.ToHexStringLower(serial.Encode()), extensions.GetProperty("1.3.6.1.4.1.41482.3.7").GetString());
        Assert.Equal("0302", extensions.GetProperty("1.3.6.1.4.1.41482.3.8").GetString());
        Assert.Equal("01", extensions.GetProperty("1.3.6.1.4.1.41482.3.9").GetString());
    }

    [Fact]
    public void Yubico_piv_tool_verify_pin_counts_down_blocks_and_the_puk_unblocks()
    {
        using var card = SimulatedCard.Insert();
        var wrong = YubicoTools.PivTool(card, "-a", "verify-pin", "-P", "000000");
        Assert.NotEqual(0, wrong.ExitCode);
        Assert.Contains("2 tries left", wrong.StdOut + wrong.StdErr, StringComparison.Ordinal);
        Assert.Equal(2, card.Card.PinRetriesRemaining);

        Assert.Contains("Successfully verified PIN", YubicoTools.Ok(YubicoTools.PivTool(card, "-a", "verify-pin", "-P", "123456")), StringComparison.Ordinal);
        Assert.Equal(3, card.Card.PinRetriesRemaining);

        for (var i = 0; i < 3; i++)
        {
            Assert.NotEqual(0, YubicoTools.PivTool(card, "-a", "verify-pin", "-P", "000000").ExitCode);
        }

        var blocked = YubicoTools.PivTool(card, "-a", "verify-pin", "-P", "123456");
        Assert.NotEqual(0, blocked.ExitCode);
        Assert.Contains("blocked", blocked.StdOut + blocked.StdErr, StringComparison.OrdinalIgnoreCase);

        YubicoTools.Ok(YubicoTools.PivTool(card, "-a", "unblock-pin", "-P", "12345678", "-N", "654321"));
        Assert.Contains("Successfully verified PIN", YubicoTools.Ok(YubicoTools.PivTool(card, "-a", "verify-pin", "-P", "654321")), StringComparison.Ordinal);
    }

    [Fact]
    public void Yubico_piv_tool_imports_a_certificate_over_chained_apdus_and_reads_it_back()
    {
        using var card = SimulatedCard.Insert();

        // RSA-2048: the public key comes back in two parts (61 xx, GET RESPONSE) to this short-APDU client.
        YubicoTools.Ok(YubicoTools.PivTool(card, "-a", "generate", "-s", "9a", "-A", "RSA2048", "-o", "public.pem"));
        var spki = YubicoTools.PemBody(Path.Combine(card.Directory.Path, "public.pem"));
        using var issuerKey = RSA.Create(2048);
        var request = new CertificateRequest(new X500DistinguishedName("CN=Key holder 9a, O=OfflineSigner tests"), PublicKey.CreateFromSubjectPublicKeyInfo(spki, out _), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.Create(new X500DistinguishedName("CN=Throwaway test issuer"), X509SignatureGenerator.CreateForRSA(issuerKey, RSASignaturePadding.Pkcs1), DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1), [0x01, 0x02]);
        File.WriteAllText(Path.Combine(card.Directory.Path, "certificate.pem"), certificate.ExportCertificatePem() + "\n");
        Assert.True(certificate.RawData.Length > 2 * 255, "the certificate must need command chaining");

        card.Card.ClearLog();
        YubicoTools.Ok(YubicoTools.PivTool(card, "-a", "import-certificate", "-s", "9a", "-i", "certificate.pem"));
        Assert.Contains(card.Card.Log, r => r.Ins == 0xDB && r.Command.StartsWith("10DB", StringComparison.Ordinal));

        YubicoTools.Ok(YubicoTools.PivTool(card, "-a", "read-certificate", "-s", "9a", "-o", "read.pem"));
        Assert.Equal(certificate.RawData, YubicoTools.PemBody(Path.Combine(card.Directory.Path, "read.pem")));
        var status = YubicoTools.Ok(YubicoTools.PivTool(card, "-a", "status"));
        Assert.Contains("Slot 9a:", status, StringComparison.Ordinal);
        Assert.Contains("Key holder 9a", status, StringComparison.Ordinal);

        // ykman reads the same object.
        var info = YubicoTools.Ok(YubicoTools.Ykman(card, "piv", "info"));
        Assert.Contains("Slot 9a:", info, StringComparison.Ordinal);
        Assert.Contains("CN=Key holder 9a", info, StringComparison.Ordinal);
    }

    [Fact]
    public void Ykman_piv_info_reports_the_card()
    {
        using var card = SimulatedCard.Insert();
        var output = YubicoTools.Ok(YubicoTools.Ykman(card, "piv", "info"));
        Assert.Contains("PIV version: 5.4.3", output, StringComparison.Ordinal);
        Assert.Contains("PIN tries remaining: 3/3", output, StringComparison.Ordinal);
        Assert.Contains("WARNING: Using default PIN!", output, StringComparison.Ordinal);
        Assert.Contains("Management key algorithm: TDES", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Ykman_generates_and_attests_with_the_policies_it_asked_for()
    {
        using var card = SimulatedCard.Insert();
        YubicoTools.Ok(YubicoTools.Ykman(card, "piv", "keys", "generate", "-a", "ECCP384", "--pin-policy", "ONCE", "--touch-policy", "CACHED", "-m", DefaultManagementKey, "9d", "public.pem"));
        YubicoTools.Ok(YubicoTools.Ykman(card, "piv", "keys", "attest", "9d", "attestation.pem"));
        var attestation = YubicoTools.CertificateInfo(Path.Combine(card.Directory.Path, "attestation.pem"));
        Assert.Equal("CN=YubiKey PIV Attestation 9d", attestation.GetProperty("subject").GetString());
        Assert.Equal(Convert.ToHexStringLower(YubicoTools.PemBody(Path.Combine(card.Directory.Path, "public.pem"))), attestation.GetProperty("spki_hex").GetString());
        Assert.Equal("0203", attestation.GetProperty("extensions").GetProperty("1.3.6.1.4.1.41482.3.8").GetString());

        // A wrong management key is refused.
        var refused = YubicoTools.Ykman(card, "piv", "keys", "generate", "-a", "ECCP256", "-m", "0102030405060708010203040506070801020304050607FF", "9e", "other.pem");
        Assert.NotEqual(0, refused.ExitCode);
    }

    [Fact]
    public void Ykman_sees_the_57_firmware_option_aes_management_key_and_authenticates_with_it()
    {
        using var card = SimulatedCard.Insert(new CardOptions { Firmware = (5, 7, 1) });
        var info = YubicoTools.Ok(YubicoTools.Ykman(card, "piv", "info"));
        Assert.Contains("PIV version: 5.7.1", info, StringComparison.Ordinal);
        Assert.Contains("Management key algorithm: AES192", info, StringComparison.Ordinal);
        YubicoTools.Ok(YubicoTools.Ykman(card, "piv", "keys", "generate", "-a", "ECCP256", "-m", DefaultManagementKey, "9a", "public.pem"));
    }

    [Fact]
    public void Ykcs11_through_our_pkcs11_backend_lists_the_keys_and_signs()
    {
        const string module = "/usr/lib/x86_64-linux-gnu/libykcs11.so";
        if (!File.Exists(module))
        {
            Assert.Skip($"{module} is not installed (Debian package ykcs11); scripts/setup.sh installs it");
        }

        using var card = SimulatedCard.Insert();
        YubicoTools.Ok(YubicoTools.PivTool(card, "-a", "generate", "-s", "9c", "-A", "ECCP256", "-o", "public.pem"));
        YubicoTools.Ok(YubicoTools.PivTool(card, "-a", "generate", "-s", "9a", "-A", "RSA2048", "-o", "public-9a.pem"));
        var spki = YubicoTools.PemBody(Path.Combine(card.Directory.Path, "public.pem"));

        using var pin = new BytesPinSource("123456"u8);
        using var token = Pkcs11Token.Open(new Pkcs11TokenOptions(module, TokenSelector.BySerial(card.Serial.ToString(System.Globalization.CultureInfo.InvariantCulture)), pin));
        Assert.Equal($"YubiKey PIV #{card.Serial}", token.Info!.Label);
        var keys = token.Run(session => Pkcs11KeyInfo.List(session, token));
        var signature = Assert.Single(keys, k => k.Id is [0x02]);
        Assert.Equal(KeyAlgorithm.EcdsaP256, signature.Algorithm);
        Assert.Equal(spki, signature.SubjectPublicKeyInfo);
        Assert.Contains(keys, k => k.Id is [0x01] && k.Algorithm == KeyAlgorithm.Rsa2048);

        // 9c has PIN policy "always": the signer logs in for each signature (CKA_ALWAYS_AUTHENTICATE). ykcs11's
        // attributes are hard-coded, so on-device generation is proven by attestation, not CKA_LOCAL.
        using var signer = Pkcs11Signer.Open(token, Pkcs11Uri.ForKey(token.Info.Label, null, null, [0x02]), new KeyProtectionPolicy(AllowNotGeneratedOnDevice: true));
        var message = "TUF metadata signed through ykcs11"u8.ToArray();
        for (var i = 0; i < 2; i++)
        {
            var p1363 = signer.Sign(message, HashAlgorithmName.SHA256);
            var der = OfflineSigner.Tuf.Crypto.SignatureVerifier.P1363ToDer(p1363);
            var verdict = YubicoTools.VerifySignature("ecdsa-sha256", spki, message, der);
            Assert.True(verdict.ExitCode == 0, verdict.ToString());
        }
    }
}
