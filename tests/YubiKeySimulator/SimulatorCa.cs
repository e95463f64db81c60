using System.Numerics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace OfflineSigner.YubiKeySimulator;

/// <summary>
/// The simulator's own attestation root, standing in for Yubico's PIV Root CA: RSA-2048, CA with path length 1, as
/// Yubico's is. It issues each simulated device's attestation (f9) certificate. Test material: the private key is
/// kept in the clear beside the certificate.
/// </summary>
public sealed class SimulatorCa : IDisposable
{
    private SimulatorCa(X509Certificate2 certificate, RSA key)
    {
        Certificate = certificate;
        Key = key;
    }

    /// <summary>The root certificate (what a verifier is told to trust).</summary>
    public X509Certificate2 Certificate { get; }

    internal RSA Key { get; }

    /// <summary>The root as PEM, for a trusted-roots file.</summary>
    public string CertificatePem => Certificate.ExportCertificatePem() + "\n";

    /// <summary>A new root named <paramref name="commonName"/>.</summary>
    public static SimulatorCa Create(string commonName = "YubiKey Simulator PIV Root CA (tests only)")
    {
        var key = RSA.Create(2048);
        try
        {
            var request = new CertificateRequest(new X500DistinguishedName("CN=" + commonName), key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 1, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
            request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
            var now = DateTimeOffset.UtcNow;
            var notBefore = new DateTimeOffset(now.Year - 1, 1, 1, 0, 0, 0, TimeSpan.Zero);
            using var selfSigned = request.CreateSelfSigned(notBefore, notBefore.AddYears(40));
            return new SimulatorCa(X509CertificateLoader.LoadCertificate(selfSigned.RawData), key);
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    /// <summary>Loads a root saved by <see cref="Save"/>, or creates and saves one when <paramref name="directory"/> has none.</summary>
    public static SimulatorCa LoadOrCreate(string directory)
    {
        var certificatePath = Path.Combine(directory, "root.pem");
        var keyPath = Path.Combine(directory, "root.key.pem");
        if (File.Exists(certificatePath) && File.Exists(keyPath))
        {
            var key = RSA.Create();
            key.ImportFromPem(File.ReadAllText(keyPath));
            return new SimulatorCa(X509CertificateLoader.LoadCertificateFromFile(certificatePath), key);
        }

        Directory.CreateDirectory(directory);
        var created = Create();
        created.Save(directory);
        return created;
    }

    /// <summary>Writes root.pem and root.key.pem to <paramref name="directory"/>.</summary>
    public void Save(string directory)
    {
        File.WriteAllText(Path.Combine(directory, "root.pem"), CertificatePem);
        File.WriteAllText(Path.Combine(directory, "root.key.pem"), Key.ExportPkcs8PrivateKeyPem() + "\n");
    }

    /// <summary>
    /// A device attestation key and its certificate, "CN=Yubico PIV Attestation" as on real devices, valid as long as
    /// the root. Returns the certificate (DER) and the key (PKCS #8).
    /// </summary>
    public (byte[] Certificate, byte[] Pkcs8) IssueDeviceAttestation(uint serial)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(new X500DistinguishedName("CN=Yubico PIV Attestation"), key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        var serialNumber = new BigInteger(serial).ToByteArray(isUnsigned: true, isBigEndian: true);
        using var issued = request.Create(Certificate.SubjectName, X509SignatureGenerator.CreateForRSA(Key, RSASignaturePadding.Pkcs1), Certificate.NotBefore.ToUniversalTime(), Certificate.NotAfter.ToUniversalTime(), serialNumber);
        return (issued.RawData, key.ExportPkcs8PrivateKey());
    }

    public void Dispose()
    {
        Certificate.Dispose();
        Key.Dispose();
    }
}
