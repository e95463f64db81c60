using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using OfflineSigner.Ceremony.Engine;

namespace OfflineSigner.Ceremony.Tests.Support;

/// <summary>
/// A PIV-style attestation hierarchy for engine tests: a root CA, one device (f9) certificate per serial, and slot
/// attestation certificates carrying the key, with Yubico's extensions for firmware (1.3.6.1.4.1.41482.3.3), serial
/// (.3.7) and PIN/touch policy (.3.8). The real chain verification is issue 6's PIV backend; this stands in for it
/// behind <see cref="IAttestationVerifier"/>.
/// </summary>
internal sealed class TestAttestationAuthority : IDisposable
{
    public const string PivFormat = "piv-attestation";
    private const string OidFirmware = "1.3.6.1.4.1.41482.3.3";
    private const string OidSerial = "1.3.6.1.4.1.41482.3.7";
    private const string OidPolicy = "1.3.6.1.4.1.41482.3.8";

    private readonly ECDsa rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public TestAttestationAuthority(string name = "Test PIV Attestation Root")
    {
        var request = new CertificateRequest("CN=" + name, rootKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        Root = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddYears(-1), DateTimeOffset.UtcNow.AddYears(10));
    }

    public X509Certificate2 Root { get; }

    /// <summary>The slot certificate then the device certificate, as concatenated PEM.</summary>
    public AttestationEvidence Attest(ReadOnlySpan<byte> spki, string serial, string pin = "always", string touch = "always", string firmware = "5.7.1")
    {
        using var deviceKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var deviceRequest = new CertificateRequest("CN=Yubico PIV Attestation " + serial, deviceKey, HashAlgorithmName.SHA256);
        deviceRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var device = deviceRequest.Create(Root, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(5), RandomNumberGenerator.GetBytes(8));
        using var withKey = device.CopyWithPrivateKey(deviceKey);

        var slotRequest = new CertificateRequest(new X500DistinguishedName("CN=YubiKey PIV Attestation 9c"), PublicKey.CreateFromSubjectPublicKeyInfo(spki, out _), HashAlgorithmName.SHA256);
        var fw = firmware.Split('.').Select(byte.Parse).ToArray();
        slotRequest.CertificateExtensions.Add(new X509Extension(OidFirmware, fw, false));
        var w = new AsnWriter(AsnEncodingRules.DER);
        w.WriteInteger(long.Parse(serial, System.Globalization.CultureInfo.InvariantCulture));
        slotRequest.CertificateExtensions.Add(new X509Extension(OidSerial, w.Encode(), false));
        slotRequest.CertificateExtensions.Add(new X509Extension(OidPolicy, [PinByte(pin), TouchByte(touch)], false));
        using var slot = slotRequest.Create(withKey.SubjectName, X509SignatureGenerator.CreateForECDsa(deviceKey), DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(5), RandomNumberGenerator.GetBytes(8));
        var pem = slot.ExportCertificatePem() + "\n" + device.ExportCertificatePem() + "\n";
        return new AttestationEvidence(PivFormat, Encoding.ASCII.GetBytes(pem));
    }

    public void Dispose()
    {
        Root.Dispose();
        rootKey.Dispose();
    }

    private static byte PinByte(string p) => p switch { "never" => 1, "once" => 2, _ => 3 };

    private static byte TouchByte(string p) => p switch { "never" => 1, "always" => 2, _ => 3 };

    internal static string PinName(byte b) => b switch { 1 => "never", 2 => "once", 3 => "always", _ => "unknown" };

    internal static string TouchName(byte b) => b switch { 1 => "never", 2 => "always", 3 => "cached", _ => "unknown" };

    internal static (string? Firmware, string? Serial, string? Pin, string? Touch) ReadExtensions(X509Certificate2 slot)
    {
        string? fw = null, serial = null, pin = null, touch = null;
        foreach (var ext in slot.Extensions)
        {
            switch (ext.Oid?.Value)
            {
                case OidFirmware when ext.RawData.Length == 3:
                    fw = $"{ext.RawData[0]}.{ext.RawData[1]}.{ext.RawData[2]}";
                    break;
                case OidSerial:
                    serial = new AsnReader(ext.RawData, AsnEncodingRules.DER).ReadInteger().ToString(System.Globalization.CultureInfo.InvariantCulture);
                    break;
                case OidPolicy when ext.RawData.Length == 2:
                    pin = PinName(ext.RawData[0]);
                    touch = TouchName(ext.RawData[1]);
                    break;
            }
        }

        return (fw, serial, pin, touch);
    }
}

/// <summary>Verifies test PIV attestations against one trusted root, and PKCS#11 attribute reports with the library's rules.</summary>
internal sealed class TestAttestationVerifier(X509Certificate2 trustedRoot) : IAttestationVerifier
{
    public AttestationVerdict Verify(AttestationEvidence evidence, GeneratedKey key)
    {
        if (evidence.Format == Pkcs11AttributeReport.Format)
        {
            return Pkcs11AttributeReport.Verify(evidence);
        }

        if (evidence.Format != TestAttestationAuthority.PivFormat)
        {
            return new AttestationVerdict { Trusted = false, Problems = [$"unknown evidence format {evidence.Format}"], Summary = "unknown format" };
        }

        var certs = new X509Certificate2Collection();
        certs.ImportFromPem(Encoding.ASCII.GetString(evidence.Bytes.Span));
        if (certs.Count != 2)
        {
            return new AttestationVerdict { Trusted = false, Problems = ["expected the slot and device certificates"], Summary = "malformed" };
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(trustedRoot);
        chain.ChainPolicy.ExtraStore.Add(certs[1]);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        var trusted = chain.Build(certs[0]);
        var (fw, serial, pin, touch) = TestAttestationAuthority.ReadExtensions(certs[0]);
        var problems = trusted ? new List<string>() : [$"the attestation chain does not verify to the trusted root: {string.Join(", ", chain.ChainStatus.Select(s => s.Status))}"];
        return new AttestationVerdict
        {
            Trusted = trusted,
            Problems = problems,
            DeviceSerial = serial,
            AttestedSubjectPublicKeyInfo = certs[0].PublicKey.ExportSubjectPublicKeyInfo(),
            PinPolicy = pin,
            TouchPolicy = touch,
            Firmware = fw,
            Summary = $"PIV attestation: serial {serial}, firmware {fw}, PIN {pin}, touch {touch}, chain {(trusted ? "trusted" : "NOT trusted")}",
        };
    }
}
