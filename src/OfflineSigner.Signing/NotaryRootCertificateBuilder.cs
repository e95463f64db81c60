// The self-signed root key certificate notary makes (cryptoservice/certificate.go, tuf/utils/x509.go NewCertificate),
// signed through an IKeySigner so that a hardware-held key can get one.
using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using OfflineSigner.Tuf.Crypto;
using PublicKey = OfflineSigner.Tuf.Crypto.PublicKey;
using X509PublicKey = System.Security.Cryptography.X509Certificates.PublicKey;

namespace OfflineSigner.Signing;

/// <summary>
/// Builds the self-signed X.509 certificate notary expects for a root key: subject and issuer CN = the GUN, a random
/// 128-bit serial, 10 years of validity by default, KeyUsage digitalSignature + keyEncipherment (critical),
/// ExtKeyUsage codeSigning, BasicConstraints CA:FALSE (critical), in that order, as notary's template has them.
/// ECDSA keys sign with ecdsa-with-SHA256 (P-256) or ecdsa-with-SHA384 (P-384), as Go chooses.
/// RSA keys sign with RSASSA-PSS SHA-256 (salt 32), because a key backend makes PSS signatures only; notary makes
/// PKCS #1 v1.5 certificates itself but does not check the signature algorithm of a root certificate beyond refusing SHA-1.
/// Ed25519 keys cannot be notary root keys.
/// </summary>
public static class NotaryRootCertificateBuilder
{
    /// <summary>The validity notary gives root certificates: 10 years of 365 days.</summary>
    public static readonly TimeSpan DefaultValidity = TimeSpan.FromDays(3650);

    private const string OidEcdsaWithSha256 = "1.2.840.10045.4.3.2";
    private const string OidEcdsaWithSha384 = "1.2.840.10045.4.3.3";
    private const string OidRsassaPss = "1.2.840.113549.1.1.10";
    private const string OidSha256 = "2.16.840.1.101.3.4.2.1";
    private const string OidMgf1 = "1.2.840.113549.1.1.8";
    private const string OidCodeSigning = "1.3.6.1.5.5.7.3.3";

    /// <summary>
    /// Makes the certificate. The signature is made by <paramref name="signer"/> over the TBSCertificate, checked against the
    /// signer's public key, and the result is checked against <see cref="NotaryRootCertificate.Check"/> before it is returned.
    /// </summary>
    /// <param name="signer">The root key.</param>
    /// <param name="gun">The repository name (globally unique name), for example <c>docker.io/library/app</c>.</param>
    /// <param name="notBefore">Start of validity; default now (rounded down to the second).</param>
    /// <param name="validity">Length of validity; default <see cref="DefaultValidity"/>.</param>
    /// <exception cref="SigningException">the key cannot be a notary root key, or the certificate made does not pass the checks.</exception>
    public static X509Certificate2 Build(IKeySigner signer, string gun, DateTimeOffset? notBefore = null, TimeSpan? validity = null)
    {
        ArgumentNullException.ThrowIfNull(signer);
        ArgumentException.ThrowIfNullOrEmpty(gun);
        PublicKey key;
        try
        {
            key = PublicKey.FromSubjectPublicKeyInfo(signer.SubjectPublicKeyInfo.Span);
        }
        catch (CryptographicException e)
        {
            throw new SigningException($"the public key of {signer.KeyReference} is not usable: {e.Message}", e);
        }

        if (key.Family == KeyFamily.Ed25519)
        {
            throw new SigningException("notary root keys are ECDSA or RSA; an Ed25519 key cannot have a notary root certificate");
        }

        var start = notBefore ?? DateTimeOffset.UtcNow;
        start = new DateTimeOffset(start.UtcTicks - (start.UtcTicks % TimeSpan.TicksPerSecond), TimeSpan.Zero);
        var end = start + (validity ?? DefaultValidity);

        var name = new X500DistinguishedNameBuilder();
        name.AddCommonName(gun);
        var subject = name.Build();

        var request = new CertificateRequest(subject, X509PublicKey.CreateFromSubjectPublicKeyInfo(signer.SubjectPublicKeyInfo.Span, out _), HashFor(key));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(OidCodeSigning)], critical: false));
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));

        Span<byte> serial = stackalloc byte[16];
        RandomNumberGenerator.Fill(serial);
        serial[0] &= 0x7f; // positive
        if (serial[0] == 0)
        {
            serial[0] = 0x01; // and minimal in DER
        }

        var generator = new KeySignerSignatureGenerator(signer, key);
        var certificate = request.Create(subject, generator, start, end, serial);
        try
        {
            if (!SignatureVerifies(certificate, key))
            {
                throw new SigningException($"the certificate signature made by {signer.KeyReference} does not verify");
            }

            var problems = NotaryRootCertificate.Check(certificate, gun, start);
            if (problems.Count > 0)
            {
                throw new SigningException("the certificate made would not be accepted by notary: " + string.Join(" ", problems));
            }

            return certificate;
        }
        catch
        {
            certificate.Dispose();
            throw;
        }
    }

    private static HashAlgorithmName HashFor(PublicKey key) =>
        key.Family == KeyFamily.Ecdsa && key.Curve == "P-384" ? HashAlgorithmName.SHA384 : HashAlgorithmName.SHA256;

    /// <summary>Checks the certificate's own signature over its TBSCertificate with the key (RFC 5280 §4.1.1.3).</summary>
    private static bool SignatureVerifies(X509Certificate2 certificate, PublicKey key)
    {
        var reader = new AsnReader(certificate.RawData, AsnEncodingRules.DER);
        var outer = reader.ReadSequence();
        var tbs = outer.ReadEncodedValue();
        var algorithm = outer.ReadSequence().ReadObjectIdentifier();
        var signature = outer.ReadBitString(out var unused);
        if (unused != 0)
        {
            return false;
        }

        switch (algorithm)
        {
            case OidEcdsaWithSha256:
            case OidEcdsaWithSha384:
            {
                var rs = new byte[2 * key.FieldSizeBytes];
                if (key.Family != KeyFamily.Ecdsa || !TryDer(signature, key.FieldSizeBytes, rs))
                {
                    return false;
                }

                using var ecdsa = key.CreateECDsa();
                var hash = algorithm == OidEcdsaWithSha256 ? HashAlgorithmName.SHA256 : HashAlgorithmName.SHA384;
                return ecdsa.VerifyData(tbs.Span, rs, hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
            }

            case OidRsassaPss:
            {
                using var rsa = key.CreateRsa();
                return rsa.VerifyData(tbs.Span, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pss);
            }

            default:
                return false;
        }
    }

    private static bool TryDer(ReadOnlySpan<byte> der, int fieldSize, byte[] destination)
    {
        try
        {
            SignatureVerifier.DerToP1363(der, fieldSize).CopyTo(destination, 0);
            return true;
        }
        catch (CryptographicException)
        {
            // A malformed signature is a failed self-check, reported by the caller.
            return false;
        }
    }

    /// <summary>Lets CertificateRequest have the TBSCertificate signed by an IKeySigner.</summary>
    private sealed class KeySignerSignatureGenerator(IKeySigner signer, PublicKey key) : X509SignatureGenerator
    {
        public override byte[] GetSignatureAlgorithmIdentifier(HashAlgorithmName hashAlgorithm)
        {
            var writer = new AsnWriter(AsnEncodingRules.DER);
            using (writer.PushSequence())
            {
                if (key.Family == KeyFamily.Ecdsa)
                {
                    // RFC 5758 §3.2: ecdsa-with-SHA256/384 with the parameters field absent.
                    writer.WriteObjectIdentifier(hashAlgorithm == HashAlgorithmName.SHA384 ? OidEcdsaWithSha384 : OidEcdsaWithSha256);
                }
                else
                {
                    // RFC 4055 §3.1: RSASSA-PSS-params { SHA-256, MGF1 with SHA-256, salt 32 } (trailer field default).
                    writer.WriteObjectIdentifier(OidRsassaPss);
                    using (writer.PushSequence())
                    {
                        using (writer.PushSequence(new Asn1Tag(TagClass.ContextSpecific, 0)))
                        {
                            WriteSha256Identifier(writer);
                        }

                        using (writer.PushSequence(new Asn1Tag(TagClass.ContextSpecific, 1)))
                        using (writer.PushSequence())
                        {
                            writer.WriteObjectIdentifier(OidMgf1);
                            WriteSha256Identifier(writer);
                        }

                        using (writer.PushSequence(new Asn1Tag(TagClass.ContextSpecific, 2)))
                        {
                            writer.WriteInteger(32);
                        }
                    }
                }
            }

            return writer.Encode();
        }

        public override byte[] SignData(byte[] data, HashAlgorithmName hashAlgorithm)
        {
            if (key.Family == KeyFamily.Rsa)
            {
                return signer.Sign(data, HashAlgorithmName.SHA256);
            }

            return SignatureVerifier.P1363ToDer(signer.Sign(data, hashAlgorithm));
        }

        protected override X509PublicKey BuildPublicKey() =>
            X509PublicKey.CreateFromSubjectPublicKeyInfo(signer.SubjectPublicKeyInfo.Span, out _);

        private static void WriteSha256Identifier(AsnWriter writer)
        {
            using (writer.PushSequence())
            {
                writer.WriteObjectIdentifier(OidSha256);
                writer.WriteNull();
            }
        }
    }
}
