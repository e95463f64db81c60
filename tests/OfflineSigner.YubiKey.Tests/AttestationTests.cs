using System.Security.Cryptography;
using OfflineSigner.Signing;
using OfflineSigner.Tests.Shared;
using OfflineSigner.YubiKey.Attestation;
using OfflineSigner.YubiKey.Piv;
using OfflineSigner.YubiKey.Tests.Support;
using OfflineSigner.YubiKeySimulator;
using Xunit;

namespace OfflineSigner.YubiKey.Tests;

/// <summary>
/// PIV attestation read from the card through pcscd and verified: the chain to configured roots, the attested key,
/// serial, slot, policies and firmware; and Yubico's published roots as the production trust anchors.
/// </summary>
[Collection(SimulatedCard.Collection)]
public sealed class AttestationTests
{
    private static readonly byte[] ManagementKey = PivBackendTests.ManagementKey;

    private static PivAttestationRoots Roots(SimulatedCard card) => PivAttestationRoots.Load(card.WriteRootPem());

    [Theory]
    [InlineData(KeyAlgorithm.EcdsaP256, 0x9C, PivPinPolicy.Always, PivTouchPolicy.Always)]
    [InlineData(KeyAlgorithm.EcdsaP384, 0x9D, PivPinPolicy.Once, PivTouchPolicy.Cached)]
    [InlineData(KeyAlgorithm.Rsa2048, 0x9A, PivPinPolicy.Always, PivTouchPolicy.Always)]
    public void Generated_keys_are_attested_with_their_policies_and_the_chain_verifies(KeyAlgorithm algorithm, byte slotByte, PivPinPolicy pin, PivTouchPolicy touch)
    {
        using var card = SimulatedCard.Insert();
        var slot = new PivSlot(slotByte);
        using var device = YubiKeyDevices.Open(card.Serial);
        var key = device.GenerateKey(slot, algorithm, pin, touch, ManagementKey);
        var statement = device.Attest(slot);
        Assert.Equal(slot, statement.Slot);
        Assert.Equal(card.Serial, statement.Serial);
        Assert.Equal(new FirmwareVersion(5, 4, 3), statement.Firmware);
        Assert.Equal(pin, statement.PinPolicy);
        Assert.Equal(touch, statement.TouchPolicy);
        Assert.Equal((byte)0x01, statement.FormFactor);
        Assert.False(statement.IsFips);
        Assert.Equal(key.SubjectPublicKeyInfo, statement.SubjectPublicKeyInfo);

        var requirements = new PivAttestationRequirements { PublicKey = key.SubjectPublicKeyInfo, Serial = card.Serial, Slot = slot, AllowEucleakFirmware = true };
        var verified = PivAttestationVerifier.Verify(statement, Roots(card), requirements, DateTimeOffset.UtcNow);
        Assert.True(verified.MeetsPolicy, string.Join("; ", verified.Violations));
        Assert.Equal(Convert.ToHexString(SHA256.HashData(card.Ca.Certificate.RawData)), verified.TrustedRootFingerprint);
    }

    [Fact]
    public void An_attestation_from_an_untrusted_ca_is_refused()
    {
        using var card = SimulatedCard.Insert();
        using var device = YubiKeyDevices.Open(card.Serial);
        device.GenerateKey(PivSlot.Signature, KeyAlgorithm.EcdsaP256, PivPinPolicy.Always, PivTouchPolicy.Always, ManagementKey);
        var statement = device.Attest(PivSlot.Signature);

        using var other = SimulatorCa.Create("A root this device was not made under");
        var roots = PivAttestationRoots.FromPem(other.CertificatePem, "other-roots.pem");
        var result = PivAttestationVerifier.Verify(statement, roots, new PivAttestationRequirements { AllowEucleakFirmware = true }, DateTimeOffset.UtcNow);
        Assert.Null(result.TrustedRootFingerprint);
        Assert.Contains(result.Violations, v => v.Contains("does not chain to a trusted root in other-roots.pem", StringComparison.Ordinal));
        Assert.Throws<PivAttestationException>(() => result.ThrowIfViolated());

        // An f9 certificate re-signed by an attacker's own key, presented with the device's slot certificate, does not chain either.
        var forged = PivAttestationStatement.Parse(statement.SlotCertificate, other.Certificate.RawData);
        Assert.Contains(PivAttestationVerifier.Verify(forged, Roots(card), new PivAttestationRequirements { AllowEucleakFirmware = true }, DateTimeOffset.UtcNow).Violations,
            v => v.Contains("not signed by the device's attestation (f9) certificate", StringComparison.Ordinal));
    }

    [Fact]
    public void An_attestation_for_another_key_slot_or_device_is_refused()
    {
        using var card = SimulatedCard.Insert();
        using var device = YubiKeyDevices.Open(card.Serial);
        var signature = device.GenerateKey(PivSlot.Signature, KeyAlgorithm.EcdsaP256, PivPinPolicy.Always, PivTouchPolicy.Always, ManagementKey);
        device.GenerateKey(PivSlot.Authentication, KeyAlgorithm.EcdsaP256, PivPinPolicy.Always, PivTouchPolicy.Always, ManagementKey);

        // The operator enrolls the 9c key but is handed 9a's attestation.
        var wrongSlot = device.Attest(PivSlot.Authentication);
        var result = PivAttestationVerifier.Verify(wrongSlot, Roots(card),
            new PivAttestationRequirements { PublicKey = signature.SubjectPublicKeyInfo, Slot = PivSlot.Signature, Serial = card.Serial + 1, AllowEucleakFirmware = true },
            DateTimeOffset.UtcNow);
        Assert.NotNull(result.TrustedRootFingerprint);
        Assert.Contains(result.Violations, v => v.StartsWith("the attested key (SHA-256 ", StringComparison.Ordinal) && v.Contains("is not the key being enrolled", StringComparison.Ordinal));
        Assert.Contains("the attestation is for slot 9a, not 9c", result.Violations);
        Assert.Contains($"the attestation is from YubiKey serial {card.Serial}, not {card.Serial + 1}", result.Violations);
        Assert.Equal(3, result.Violations.Count);
    }

    [Fact]
    public void Weaker_policies_than_a_root_key_needs_are_refused_and_eucleak_firmware_needs_explicit_consent()
    {
        using var card = SimulatedCard.Insert();
        using var device = YubiKeyDevices.Open(card.Serial);
        device.GenerateKey(PivSlot.Signature, KeyAlgorithm.EcdsaP256, PivPinPolicy.Once, PivTouchPolicy.Cached, ManagementKey);
        var weak = PivAttestationVerifier.Verify(device.Attest(PivSlot.Signature), Roots(card), PivAttestationRequirements.RootKey, DateTimeOffset.UtcNow);
        Assert.Contains("the key's PIN policy is once; it must be always", weak.Violations);
        Assert.Contains("the key's touch policy is cached; it must be always", weak.Violations);
        Assert.Contains(weak.Violations, v => v.Contains("EUCLEAK (CVE-2024-45678)", StringComparison.Ordinal));

        device.GenerateKey(PivSlot.Authentication, KeyAlgorithm.EcdsaP256, PivPinPolicy.Always, PivTouchPolicy.Always, ManagementKey);
        var strong = PivAttestationVerifier.Verify(device.Attest(PivSlot.Authentication), Roots(card), PivAttestationRequirements.RootKey, DateTimeOffset.UtcNow);
        Assert.Equal(["firmware 5.4.3 is below 5.7.0 and exposed to EUCLEAK (CVE-2024-45678) for ECDSA keys; allow it explicitly (allowEucleakFirmware) or use a 5.7 device"], strong.Violations);
        Assert.True(PivAttestationVerifier.Verify(device.Attest(PivSlot.Authentication), Roots(card), PivAttestationRequirements.RootKey with { AllowEucleakFirmware = true }, DateTimeOffset.UtcNow).MeetsPolicy);

        // RSA keys are not exposed to EUCLEAK; neither are keys on 5.7 firmware.
        device.GenerateKey(PivSlot.KeyManagement, KeyAlgorithm.Rsa2048, PivPinPolicy.Always, PivTouchPolicy.Always, ManagementKey);
        Assert.True(PivAttestationVerifier.Verify(device.Attest(PivSlot.KeyManagement), Roots(card), PivAttestationRequirements.RootKey, DateTimeOffset.UtcNow).MeetsPolicy);
    }

    [Fact]
    public void Firmware_57_keys_with_ed25519_and_an_aes_management_key_meet_the_root_key_policy()
    {
        using var card = SimulatedCard.Insert(new CardOptions { Firmware = (5, 7, 1), FormFactor = 0x83 });
        using var device = YubiKeyDevices.Open(card.Serial);
        foreach (var (slot, algorithm) in new[] { (PivSlot.Signature, KeyAlgorithm.EcdsaP256), (PivSlot.Authentication, KeyAlgorithm.Ed25519) })
        {
            var key = device.GenerateKey(slot, algorithm, PivPinPolicy.Always, PivTouchPolicy.Always, ManagementKey);
            var statement = device.Attest(slot);
            Assert.Equal(new FirmwareVersion(5, 7, 1), statement.Firmware);
            Assert.True(statement.IsFips);
            var result = PivAttestationVerifier.Verify(statement, Roots(card), PivAttestationRequirements.RootKey with { PublicKey = key.SubjectPublicKeyInfo }, DateTimeOffset.UtcNow);
            Assert.True(result.MeetsPolicy, string.Join("; ", result.Violations));
        }
    }

    [Fact]
    public void Imported_keys_have_no_attestation()
    {
        using var card = SimulatedCard.Insert();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var pem = Path.Combine(card.Directory.Path, "imported.pem");
        File.WriteAllText(pem, key.ExportECPrivateKeyPem());
        YubicoTools.Ok(YubicoTools.PivTool(card, "-a", "import-key", "-s", "9c", "-i", pem));
        using var device = YubiKeyDevices.Open(card.Serial);
        Assert.Equal(PivKeyOrigin.Imported, device.GetKey(PivSlot.Signature)!.Origin);
        var e = Assert.Throws<PivNotFoundException>(() => device.Attest(PivSlot.Signature));
        Assert.Contains("imported", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Yubicos_published_roots_load_pinned_and_do_not_vouch_for_the_simulator()
    {
        var folder = TestEnvironment.RequireSharedData("yubico-piv-roots");
        using var dir = TestEnvironment.CreateTempDir("roots");
        var bundle = Path.Combine(dir.Path, "yubico-roots.pem");
        File.WriteAllText(bundle, string.Concat(Directory.GetFiles(folder, "*.pem").Order(StringComparer.Ordinal).Select(File.ReadAllText)));
        var roots = PivAttestationRoots.Load(bundle, ["yubico"]);
        Assert.Equal(PivAttestationRoots.YubicoPublishedFingerprints.Values.Order(StringComparer.Ordinal), roots.AnchorFingerprints.Order(StringComparer.Ordinal));

        // Pinning by the published fingerprint as written, colons and all.
        Assert.Single(PivAttestationRoots.Load(Path.Combine(folder, "yubico-piv-root-ca-263751.pem"), ["63:EC:E9:14:E5:4D:D8:79:15:F3:40:33:C8:5A:F4:C0:69:6B:A1:51:2F:8A:DD:66:CE:D7:38:33:12:07:B5:46"]).AnchorFingerprints);

        using var card = SimulatedCard.Insert();
        using var device = YubiKeyDevices.Open(card.Serial);
        device.GenerateKey(PivSlot.Signature, KeyAlgorithm.EcdsaP256, PivPinPolicy.Always, PivTouchPolicy.Always, ManagementKey);
        var result = PivAttestationVerifier.Verify(device.Attest(PivSlot.Signature), roots, new PivAttestationRequirements { AllowEucleakFirmware = true }, DateTimeOffset.UtcNow);
        Assert.Null(result.TrustedRootFingerprint);

        // A roots file holding the simulator's root is refused when Yubico's fingerprints are pinned.
        var swapped = Assert.Throws<YubiKeyException>(() => PivAttestationRoots.Load(card.WriteRootPem(), ["yubico"]));
        Assert.Contains("not among the pinned fingerprints", swapped.Message, StringComparison.Ordinal);
    }
}
