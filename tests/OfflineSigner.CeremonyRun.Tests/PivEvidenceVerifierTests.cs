using System.Security.Cryptography;
using OfflineSigner.Ceremony.Engine;
using OfflineSigner.Cli.Ceremonies;
using OfflineSigner.Tests.Shared;
using OfflineSigner.YubiKey.Attestation;
using OfflineSigner.YubiKeySimulator;
using Xunit;

namespace OfflineSigner.CeremonyRun.Tests;

/// <summary>
/// The ceremony's production PIV attestation verifier: the chain slot certificate -> device (f9) certificate -> a
/// configured trusted root set, and what it extracts (serial, PIN and touch policy, firmware, the attested key).
/// The evidence is made by the YubiKey simulator's attestation code (the same certificates a simulated card returns).
/// </summary>
public sealed class PivEvidenceVerifierTests
{
    private const uint Serial = 31_000_017;

    [Fact]
    public void Evidence_chaining_to_the_configured_root_is_trusted_and_names_serial_policies_firmware_and_key()
    {
        using var ca = SimulatorCa.Create();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var spki = key.ExportSubjectPublicKeyInfo();
        var evidence = Evidence(ca, spki, pinPolicy: 3, touchPolicy: 2);
        var verifier = new PivEvidenceVerifier(PivAttestationRoots.FromPem(ca.CertificatePem, "simulator CA"), TimeProvider.System);
        var verdict = verifier.Verify(evidence, new GeneratedKey(spki, $"yubikey:serial={Serial};slot=9c", Serial.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.True(verdict.Trusted, string.Join("; ", verdict.Problems));
        Assert.Empty(verdict.Problems);
        Assert.Equal("31000017", verdict.DeviceSerial);
        Assert.Equal("always", verdict.PinPolicy);
        Assert.Equal("always", verdict.TouchPolicy);
        Assert.Equal("5.7.1", verdict.Firmware);
        Assert.Equal(spki, verdict.AttestedSubjectPublicKeyInfo!.Value.ToArray());
        Assert.Contains("chain to trusted root", verdict.Summary, StringComparison.Ordinal);

        // Weaker policies are reported as they are (the runner compares them with the script's policy).
        var weak = verifier.Verify(Evidence(ca, spki, pinPolicy: 2, touchPolicy: 3), new GeneratedKey(spki, "k", "31000017"));
        Assert.Equal("once", weak.PinPolicy);
        Assert.Equal("cached", weak.TouchPolicy);
    }

    [Fact]
    public void Evidence_from_another_authority_for_another_key_or_malformed_is_not_trusted()
    {
        using var ca = SimulatorCa.Create();
        using var other = SimulatorCa.Create("Another PIV Root CA (tests only)");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var spki = key.ExportSubjectPublicKeyInfo();
        var generated = new GeneratedKey(spki, "yubikey:serial=31000017;slot=9c", "31000017");
        var trusting = new PivEvidenceVerifier(PivAttestationRoots.FromPem(ca.CertificatePem, "simulator CA"), TimeProvider.System);

        var untrusted = new PivEvidenceVerifier(PivAttestationRoots.FromPem(other.CertificatePem, "other CA"), TimeProvider.System).Verify(Evidence(ca, spki, 3, 2), generated);
        Assert.False(untrusted.Trusted);
        Assert.Contains(untrusted.Problems, p => p.Contains("does not chain to a trusted root in other CA", StringComparison.Ordinal));

        var wrongKey = trusting.Verify(Evidence(ca, otherKey.ExportSubjectPublicKeyInfo(), 3, 2), generated);
        Assert.False(wrongKey.Trusted);
        Assert.Contains(wrongKey.Problems, p => p.Contains("is not the key being enrolled", StringComparison.Ordinal));

        var chain = PivEvidenceVerifier.Decode(Evidence(ca, spki, 3, 2).Bytes.Span);
        var single = trusting.Verify(PivEvidenceVerifier.Encode([chain[0]]), generated);
        Assert.False(single.Trusted);
        Assert.Contains("holds 1 certificate(s)", single.Summary, StringComparison.Ordinal);

        var none = new PivEvidenceVerifier(null, TimeProvider.System).Verify(Evidence(ca, spki, 3, 2), generated);
        Assert.False(none.Trusted);
        Assert.Contains("--attestation-roots", none.Summary, StringComparison.Ordinal);

        // Outside the certificates' validity (a rehearsal clock far in the future) the chain is refused.
        var late = new PivEvidenceVerifier(PivAttestationRoots.FromPem(ca.CertificatePem, "simulator CA"), new Clock(DateTimeOffset.UtcNow.AddYears(60))).Verify(Evidence(ca, spki, 3, 2), generated);
        Assert.False(late.Trusted);
    }

    [Fact]
    public void Yubicos_roots_do_not_vouch_for_a_simulated_device()
    {
        var folder = TestEnvironment.RequireSharedData("yubico-piv-roots");
        var pem = string.Concat(Directory.GetFiles(folder, "*.pem").Order(StringComparer.Ordinal).Select(File.ReadAllText));
        var roots = PivAttestationRoots.FromPem(pem, "Yubico's roots", ["yubico"]);
        using var ca = SimulatorCa.Create();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var spki = key.ExportSubjectPublicKeyInfo();
        var verdict = new PivEvidenceVerifier(roots, TimeProvider.System).Verify(Evidence(ca, spki, 3, 2), new GeneratedKey(spki, "k", "31000017"));
        Assert.False(verdict.Trusted);
        Assert.Contains(verdict.Problems, p => p.Contains("does not chain to a trusted root in Yubico's roots", StringComparison.Ordinal));
    }

    private static AttestationEvidence Evidence(SimulatorCa ca, byte[] spki, byte pinPolicy, byte touchPolicy)
    {
        var (f9, pkcs8) = ca.IssueDeviceAttestation(Serial);
        using var rsa = RSA.Create();
        rsa.ImportPkcs8PrivateKey(pkcs8, out _);
        var slot = AttestationCertificates.Issue(f9, rsa, 0x9C, spki, (5, 7, 1), Serial, pinPolicy, touchPolicy, 0x01);
        return PivEvidenceVerifier.Encode([slot, f9]);
    }

    private sealed class Clock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
