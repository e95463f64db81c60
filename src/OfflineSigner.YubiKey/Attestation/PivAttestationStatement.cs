// Yubico PIV attestation (developers.yubico.com/PIV/Introduction/PIV_attestation.html): a certificate per slot,
// subject "CN=YubiKey PIV Attestation <slot>", signed by the device's attestation key (slot f9), with extensions under
// 1.3.6.1.4.1.41482.3: .3 firmware, .7 serial, .8 PIN and touch policy, .9 form factor.
using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using OfflineSigner.YubiKey.Piv;

namespace OfflineSigner.YubiKey.Attestation;

/// <summary>What a slot's attestation certificate says, read but not yet verified.</summary>
public sealed class PivAttestationStatement
{
    public const string FirmwareOid = "1.3.6.1.4.1.41482.3.3";
    public const string SerialOid = "1.3.6.1.4.1.41482.3.7";
    public const string PolicyOid = "1.3.6.1.4.1.41482.3.8";
    public const string FormFactorOid = "1.3.6.1.4.1.41482.3.9";

    private PivAttestationStatement(byte[] slotCertificate, byte[] intermediate, PivSlot slot, FirmwareVersion firmware, uint serial,
        PivPinPolicy pinPolicy, PivTouchPolicy touchPolicy, byte? formFactor, byte[] spki)
    {
        SlotCertificate = slotCertificate;
        IntermediateCertificate = intermediate;
        Slot = slot;
        Firmware = firmware;
        Serial = serial;
        PinPolicy = pinPolicy;
        TouchPolicy = touchPolicy;
        FormFactor = formFactor;
        SubjectPublicKeyInfo = spki;
    }

    /// <summary>The slot's attestation certificate (DER).</summary>
    public byte[] SlotCertificate { get; }

    /// <summary>The device's attestation certificate, f9 (DER), which signed it.</summary>
    public byte[] IntermediateCertificate { get; }

    public PivSlot Slot { get; }

    public FirmwareVersion Firmware { get; }

    public uint Serial { get; }

    public PivPinPolicy PinPolicy { get; }

    public PivTouchPolicy TouchPolicy { get; }

    /// <summary>The form factor byte (low bits: 1 USB-A keychain, 2 nano, 3 USB-C keychain, 4 USB-C nano, 5 USB-C/Lightning, 6 USB-A bio, 7 USB-C bio); null when absent.</summary>
    public byte? FormFactor { get; }

    /// <summary>Whether the form factor marks a FIPS device (bit 0x80).</summary>
    public bool IsFips => FormFactor is { } f && (f & 0x80) != 0;

    /// <summary>The attested public key.</summary>
    public byte[] SubjectPublicKeyInfo { get; }

    /// <summary>Lowercase hex SHA-256 of the attested public key.</summary>
    public string PublicKeyFingerprint => Convert.ToHexStringLower(SHA256.HashData(SubjectPublicKeyInfo));

    /// <summary>A one-line account for operators.</summary>
    public string Summary() =>
        $"YubiKey serial {Serial}, firmware {Firmware}, slot {Slot}, PIN policy {PinPolicy.ToString().ToLowerInvariant()}, "
        + $"touch policy {TouchPolicy.ToString().ToLowerInvariant()}, form factor {(FormFactor is { } f ? $"0x{f:x2}{(IsFips ? " (FIPS)" : string.Empty)}" : "not given")}";

    /// <summary>Reads a slot attestation certificate and the f9 certificate the device returned with it.</summary>
    /// <exception cref="PivAttestationException">a certificate does not parse, or an extension is missing or malformed.</exception>
    public static PivAttestationStatement Parse(ReadOnlySpan<byte> slotCertificate, ReadOnlySpan<byte> intermediate)
    {
        X509Certificate2 certificate;
        try
        {
            certificate = X509CertificateLoader.LoadCertificate(slotCertificate);
            using var f9 = X509CertificateLoader.LoadCertificate(intermediate);
        }
        catch (CryptographicException e)
        {
            throw new PivAttestationException("the attestation is not a pair of X.509 certificates: " + e.Message, e);
        }

        using (certificate)
        {
            var problems = new List<string>();
            var subject = certificate.SubjectName.Name;
            const string prefix = "CN=YubiKey PIV Attestation ";
            PivSlot slot = default;
            if (!subject.StartsWith(prefix, StringComparison.Ordinal) || !TryParseSlot(subject[prefix.Length..], out slot))
            {
                problems.Add($"the subject is \"{subject}\", not \"CN=YubiKey PIV Attestation <slot>\"");
            }

            var firmware = Extension(certificate, FirmwareOid, problems, "firmware", 3);
            var serialValue = Extension(certificate, SerialOid, problems, "serial", null);
            var policy = Extension(certificate, PolicyOid, problems, "PIN and touch policy", 2);
            var formFactor = certificate.Extensions[FormFactorOid]?.RawData is { Length: 1 } ff ? ff[0] : (byte?)null;
            uint serial = 0;
            if (serialValue is not null)
            {
                try
                {
                    var reader = new AsnReader(serialValue, AsnEncodingRules.DER);
                    if (!reader.TryReadUInt32(out serial) || reader.HasData)
                    {
                        problems.Add("the serial extension is not a DER INTEGER of 32 bits");
                    }
                }
                catch (AsnContentException)
                {
                    problems.Add("the serial extension is not a DER INTEGER");
                }
            }

            if (problems.Count > 0)
            {
                throw new PivAttestationException("the slot attestation certificate is not a YubiKey PIV attestation", problems);
            }

            return new PivAttestationStatement(slotCertificate.ToArray(), intermediate.ToArray(), slot, FirmwareVersion.FromBytes(firmware),
                serial, (PivPinPolicy)policy![0], (PivTouchPolicy)policy[1], formFactor, CertificateParts.Parse(slotCertificate.ToArray()).SubjectPublicKeyInfo.ToArray());
        }
    }

    private static bool TryParseSlot(string text, out PivSlot slot)
    {
        try
        {
            slot = PivSlot.Parse(text);
            return slot != PivSlot.Attestation;
        }
        catch (FormatException)
        {
            slot = default;
            return false;
        }
    }

    private static byte[]? Extension(X509Certificate2 certificate, string oid, List<string> problems, string what, int? length)
    {
        var extension = certificate.Extensions[oid];
        if (extension is null)
        {
            problems.Add($"the {what} extension ({oid}) is missing");
            return null;
        }

        if (length is { } expected && extension.RawData.Length != expected)
        {
            problems.Add($"the {what} extension ({oid}) is {extension.RawData.Length} bytes, not {expected}");
            return null;
        }

        return extension.RawData;
    }
}
