// The checks notary applies to a root key's certificate (trustpinning/certs.go validRootLeafCerts, tuf/utils/x509.go ValidateCertificate).
using System.Security.Cryptography.X509Certificates;

namespace OfflineSigner.Tuf.Crypto;

/// <summary>Notary's acceptance rules for the certificate of a root key.</summary>
public static class NotaryRootCertificate
{
    // notary refuses SHA-1 signed certificates (x509.SHA1WithRSA, DSAWithSHA1, ECDSAWithSHA1); MD5 and MD2 are refused too.
    private static readonly Dictionary<string, string> WeakSignatureAlgorithms = new(StringComparer.Ordinal)
    {
        ["1.2.840.113549.1.1.5"] = "sha1WithRSAEncryption",
        ["1.2.840.10040.4.3"] = "dsa-with-sha1",
        ["1.2.840.10045.4.1"] = "ecdsa-with-SHA1",
        ["1.3.14.3.2.29"] = "sha1WithRSASignature",
        ["1.2.840.113549.1.1.4"] = "md5WithRSAEncryption",
        ["1.2.840.113549.1.1.2"] = "md2WithRSAEncryption",
    };

    /// <summary>
    /// The problems notary would find with <paramref name="leaf"/> as a root certificate of repository <paramref name="gun"/> at
    /// time <paramref name="at"/>: common name not the GUN (a CN ending in <c>*</c> matches GUNs with that prefix, as notary allows),
    /// validity window inverted, not yet valid (notary allows one day of clock skew) or expired, SHA-1 signature, RSA key under
    /// 2048 bits, a CA certificate, or a key type notary cannot use. An empty list means the certificate is acceptable.
    /// </summary>
    public static IReadOnlyList<string> Check(X509Certificate2 leaf, string gun, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(leaf);
        ArgumentNullException.ThrowIfNull(gun);
        var problems = new List<string>();
        var commonName = leaf.GetNameInfo(X509NameType.SimpleName, forIssuer: false) ?? string.Empty;
        if (!CommonNameMatches(commonName, gun))
        {
            problems.Add($"The certificate's common name \"{commonName}\" is not the repository name \"{gun}\".");
        }

        var notBefore = new DateTimeOffset(leaf.NotBefore.ToUniversalTime(), TimeSpan.Zero);
        var notAfter = new DateTimeOffset(leaf.NotAfter.ToUniversalTime(), TimeSpan.Zero);
        if (notBefore > notAfter)
        {
            problems.Add($"The certificate's validity window is inverted (not before {notBefore:u}, not after {notAfter:u}).");
        }
        else if (at.AddDays(1) < notBefore)
        {
            problems.Add($"The certificate is not valid before {notBefore:u}.");
        }
        else if (at > notAfter)
        {
            problems.Add($"The certificate expired on {notAfter:u}.");
        }

        var signatureAlgorithm = leaf.SignatureAlgorithm.Value ?? string.Empty;
        if (WeakSignatureAlgorithms.TryGetValue(signatureAlgorithm, out var weak))
        {
            problems.Add($"The certificate is signed with {weak}, which notary refuses.");
        }

        switch (leaf.GetKeyAlgorithm())
        {
            case PublicKey.OidRsaEncryption:
                using (var rsa = leaf.GetRSAPublicKey())
                {
                    if (rsa is null || rsa.KeySize < KeyFormats.MinRsaKeySizeBits)
                    {
                        problems.Add($"The certificate's RSA key has {rsa?.KeySize ?? 0} bits; notary requires at least {KeyFormats.MinRsaKeySizeBits}.");
                    }
                }

                break;
            case PublicKey.OidEcPublicKey:
                break;
            case var other:
                problems.Add($"The certificate's key algorithm {other} cannot be a notary root key (ECDSA and RSA only).");
                break;
        }

        foreach (var extension in leaf.Extensions)
        {
            if (extension is X509BasicConstraintsExtension { CertificateAuthority: true })
            {
                problems.Add("The certificate is a CA certificate; a notary root key's certificate must be a leaf.");
            }
        }

        return problems;
    }

    private static bool CommonNameMatches(string commonName, string gun) =>
        commonName.EndsWith('*')
            ? gun.StartsWith(commonName.TrimEnd('*'), StringComparison.Ordinal)
            : string.Equals(commonName, gun, StringComparison.Ordinal);
}
