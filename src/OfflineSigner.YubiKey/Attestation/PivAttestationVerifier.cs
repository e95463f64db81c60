using System.Formats.Asn1;
using OfflineSigner.YubiKey.Piv;

namespace OfflineSigner.YubiKey.Attestation;

/// <summary>What an attestation must show before a key is enrolled or used. The default demands nothing beyond the chain.</summary>
public sealed record PivAttestationRequirements
{
    /// <summary>The public key being enrolled (DER SubjectPublicKeyInfo): the attested key must be exactly this one.</summary>
    public ReadOnlyMemory<byte>? PublicKey { get; init; }

    /// <summary>The device the key must be on (one person, one device).</summary>
    public uint? Serial { get; init; }

    /// <summary>The slot the key must be in.</summary>
    public PivSlot? Slot { get; init; }

    /// <summary>PIN policy "always" (root keys: yes).</summary>
    public bool RequirePinAlways { get; init; }

    /// <summary>Touch policy "always" (root keys: yes; "cached" does not count).</summary>
    public bool RequireTouchAlways { get; init; }

    /// <summary>A firmware floor, if any.</summary>
    public FirmwareVersion? MinimumFirmware { get; init; }

    /// <summary>Accept ECDSA keys on firmware below 5.7.0, which EUCLEAK (CVE-2024-45678) exposes to key recovery by someone holding the device.</summary>
    public bool AllowEucleakFirmware { get; init; }

    /// <summary>What a root key needs: PIN always, touch always, firmware not exposed to EUCLEAK.</summary>
    public static PivAttestationRequirements RootKey { get; } = new() { RequirePinAlways = true, RequireTouchAlways = true };
}

/// <summary>An attestation after verification: what it says, the root it chains to, and what it fails.</summary>
public sealed class PivAttestation(PivAttestationStatement statement, string? trustedRootFingerprint, IReadOnlyList<string> violations)
{
    public PivAttestationStatement Statement { get; } = statement;

    /// <summary>The SHA-256 fingerprint (uppercase hex) of the root the chain verified to, or null when it did not.</summary>
    public string? TrustedRootFingerprint { get; } = trustedRootFingerprint;

    /// <summary>Every problem, chain and policy, one sentence each; empty when the attestation is acceptable.</summary>
    public IReadOnlyList<string> Violations { get; } = violations;

    public bool MeetsPolicy => Violations.Count == 0;

    /// <summary>Throws <see cref="PivAttestationException"/> unless the attestation is acceptable.</summary>
    public PivAttestation ThrowIfViolated()
    {
        if (!MeetsPolicy)
        {
            throw new PivAttestationException($"the attestation of slot {Statement.Slot} on YubiKey serial {Statement.Serial} is refused", Violations);
        }

        return this;
    }
}

/// <summary>
/// Verifies a PIV attestation as Yubico documents it: the slot certificate is signed by the device's f9 certificate,
/// which chains (through configured intermediates, if any) to a trusted root; then the attested key, serial, slot,
/// policies and firmware are compared with what is required.
/// </summary>
public static class PivAttestationVerifier
{
    private const int MaxChainLength = 4;

    public static PivAttestation Verify(PivAttestationStatement statement, PivAttestationRoots roots, PivAttestationRequirements requirements, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(statement);
        ArgumentNullException.ThrowIfNull(roots);
        ArgumentNullException.ThrowIfNull(requirements);
        var problems = new List<string>();
        var trusted = VerifyChain(statement, roots, now, problems);

        if (requirements.PublicKey is { } expected && !expected.Span.SequenceEqual(statement.SubjectPublicKeyInfo))
        {
            problems.Add($"the attested key (SHA-256 {statement.PublicKeyFingerprint}) is not the key being enrolled (SHA-256 {Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(expected.Span))})");
        }

        if (requirements.Serial is { } serial && serial != statement.Serial)
        {
            problems.Add($"the attestation is from YubiKey serial {statement.Serial}, not {serial}");
        }

        if (requirements.Slot is { } slot && slot != statement.Slot)
        {
            problems.Add($"the attestation is for slot {statement.Slot}, not {slot}");
        }

        if (requirements.RequirePinAlways && statement.PinPolicy != PivPinPolicy.Always)
        {
            problems.Add($"the key's PIN policy is {Name(statement.PinPolicy)}; it must be always");
        }

        if (requirements.RequireTouchAlways && statement.TouchPolicy != PivTouchPolicy.Always)
        {
            problems.Add($"the key's touch policy is {Name(statement.TouchPolicy)}; it must be always");
        }

        if (requirements.MinimumFirmware is { } minimum && statement.Firmware < minimum)
        {
            problems.Add($"firmware {statement.Firmware} is below the required {minimum}");
        }

        if (!requirements.AllowEucleakFirmware && statement.Firmware < FirmwareVersion.EucleakFixed && IsEcdsa(statement.SubjectPublicKeyInfo))
        {
            problems.Add($"firmware {statement.Firmware} is below {FirmwareVersion.EucleakFixed} and exposed to EUCLEAK (CVE-2024-45678) for ECDSA keys; allow it explicitly (allowEucleakFirmware) or use a 5.7 device");
        }

        return new PivAttestation(statement, trusted, problems);
    }

    private static string? VerifyChain(PivAttestationStatement statement, PivAttestationRoots roots, DateTimeOffset now, List<string> problems)
    {
        CertificateParts slot;
        CertificateParts device;
        try
        {
            slot = CertificateParts.Parse(statement.SlotCertificate);
            device = CertificateParts.Parse(statement.IntermediateCertificate);
        }
        catch (PivAttestationException e)
        {
            problems.Add(e.Message);
            return null;
        }

        if (!slot.Issuer.Span.SequenceEqual(device.Subject.Span) || !slot.IsSignedBy(device.SubjectPublicKeyInfo))
        {
            problems.Add("the slot's attestation certificate is not signed by the device's attestation (f9) certificate");
            return null;
        }

        if (device.IsCa == false)
        {
            problems.Add("the device's attestation (f9) certificate is not a CA certificate");
        }

        CheckValidity(slot, "the slot's attestation certificate", now, problems);
        CheckValidity(device, "the device's attestation (f9) certificate", now, problems);
        var current = device;
        for (var depth = 0; depth < MaxChainLength; depth++)
        {
            var issuer = roots.Certificates.FirstOrDefault(c => c.Subject.Span.SequenceEqual(current.Issuer.Span) && current.IsSignedBy(c.SubjectPublicKeyInfo));
            if (issuer is null)
            {
                problems.Add($"the attestation does not chain to a trusted root in {roots.Source} (its chain ends at an issuer not in that file)");
                return null;
            }

            CheckValidity(issuer, "the attestation root or intermediate " + issuer.Fingerprint, now, problems);
            if (issuer.IsSelfIssued)
            {
                return issuer.Fingerprint;
            }

            current = issuer;
        }

        problems.Add($"the attestation chain is longer than {MaxChainLength} certificates");
        return null;
    }

    private static void CheckValidity(CertificateParts certificate, string what, DateTimeOffset now, List<string> problems)
    {
        if (now < certificate.NotBefore || now > certificate.NotAfter)
        {
            problems.Add($"{what} is valid from {certificate.NotBefore:yyyy-MM-dd} to {certificate.NotAfter:yyyy-MM-dd}, not at {now:yyyy-MM-dd}");
        }
    }

    private static bool IsEcdsa(ReadOnlySpan<byte> spki)
    {
        try
        {
            var algorithm = new AsnReader(spki.ToArray(), AsnEncodingRules.DER).ReadSequence().ReadSequence().ReadObjectIdentifier();
            return algorithm == "1.2.840.10045.2.1";
        }
        catch (AsnContentException)
        {
            return false;
        }
    }

    private static string Name(PivPinPolicy policy) => policy.ToString().ToLowerInvariant();

    private static string Name(PivTouchPolicy policy) => policy.ToString().ToLowerInvariant();
}
