// X.509 (RFC 5280 §4.1): Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }.
using System.Formats.Asn1;
using System.Security.Cryptography;

namespace OfflineSigner.YubiKey.Attestation;

/// <summary>
/// The parts of a certificate a chain check needs, read from the DER, and the check that one certificate's key
/// signed another. Attestation chains are checked signature by signature, as Yubico documents it, rather than by a
/// general path builder: the device's f9 certificate is an intermediate that no operating system store knows.
/// </summary>
internal sealed class CertificateParts
{
    private CertificateParts(byte[] der, ReadOnlyMemory<byte> tbs, string signatureAlgorithm, byte[] signature, ReadOnlyMemory<byte> issuer,
        ReadOnlyMemory<byte> subject, ReadOnlyMemory<byte> spki, DateTimeOffset notBefore, DateTimeOffset notAfter, bool? isCa)
    {
        Der = der;
        Tbs = tbs;
        SignatureAlgorithm = signatureAlgorithm;
        Signature = signature;
        Issuer = issuer;
        Subject = subject;
        SubjectPublicKeyInfo = spki;
        NotBefore = notBefore;
        NotAfter = notAfter;
        IsCa = isCa;
    }

    public byte[] Der { get; }

    public ReadOnlyMemory<byte> Tbs { get; }

    public string SignatureAlgorithm { get; }

    public byte[] Signature { get; }

    /// <summary>The issuer Name, DER.</summary>
    public ReadOnlyMemory<byte> Issuer { get; }

    /// <summary>The subject Name, DER.</summary>
    public ReadOnlyMemory<byte> Subject { get; }

    public ReadOnlyMemory<byte> SubjectPublicKeyInfo { get; }

    public DateTimeOffset NotBefore { get; }

    public DateTimeOffset NotAfter { get; }

    /// <summary>basicConstraints cA, or null when the certificate has no basicConstraints.</summary>
    public bool? IsCa { get; }

    public bool IsSelfIssued => Issuer.Span.SequenceEqual(Subject.Span);

    public string Fingerprint => Convert.ToHexString(SHA256.HashData(Der));

    /// <exception cref="PivAttestationException">the bytes are not a DER certificate.</exception>
    public static CertificateParts Parse(byte[] der)
    {
        try
        {
            var certificate = new AsnReader(der, AsnEncodingRules.DER).ReadSequence();
            var tbsRaw = certificate.PeekEncodedValue();
            var tbs = certificate.ReadSequence();
            var algorithm = certificate.ReadSequence().ReadObjectIdentifier();
            var signature = certificate.ReadBitString(out _);
            if (tbs.PeekTag().HasSameClassAndValue(new Asn1Tag(TagClass.ContextSpecific, 0)))
            {
                tbs.ReadEncodedValue();
            }

            tbs.ReadIntegerBytes();
            tbs.ReadEncodedValue();
            var issuer = tbs.ReadEncodedValue();
            var validity = tbs.ReadSequence();
            var notBefore = ReadTime(validity);
            var notAfter = ReadTime(validity);
            var subject = tbs.ReadEncodedValue();
            var spki = tbs.ReadEncodedValue();
            bool? isCa = null;
            while (tbs.HasData)
            {
                var tag = tbs.PeekTag();
                if (!tag.HasSameClassAndValue(new Asn1Tag(TagClass.ContextSpecific, 3)))
                {
                    tbs.ReadEncodedValue();
                    continue;
                }

                var extensions = tbs.ReadSequence(new Asn1Tag(TagClass.ContextSpecific, 3)).ReadSequence();
                while (extensions.HasData)
                {
                    var extension = extensions.ReadSequence();
                    var oid = extension.ReadObjectIdentifier();
                    if (extension.PeekTag().HasSameClassAndValue(Asn1Tag.Boolean))
                    {
                        extension.ReadBoolean();
                    }

                    var value = extension.ReadOctetString();
                    if (oid == "2.5.29.19")
                    {
                        var constraints = new AsnReader(value, AsnEncodingRules.DER).ReadSequence();
                        isCa = constraints.HasData && constraints.PeekTag().HasSameClassAndValue(Asn1Tag.Boolean) && constraints.ReadBoolean();
                    }
                }
            }

            return new CertificateParts(der, tbsRaw, algorithm, signature, issuer, subject, spki, notBefore, notAfter, isCa);
        }
        catch (AsnContentException e)
        {
            throw new PivAttestationException("a certificate of the attestation chain is not DER: " + e.Message, e);
        }
    }

    /// <summary>Whether <paramref name="issuerKey"/> (a SubjectPublicKeyInfo) made this certificate's signature.</summary>
    public bool IsSignedBy(ReadOnlyMemory<byte> issuerKey)
    {
        var (hash, family) = SignatureAlgorithm switch
        {
            "1.2.840.113549.1.1.11" => (HashAlgorithmName.SHA256, "rsa"),
            "1.2.840.113549.1.1.12" => (HashAlgorithmName.SHA384, "rsa"),
            "1.2.840.113549.1.1.13" => (HashAlgorithmName.SHA512, "rsa"),
            "1.2.840.10045.4.3.2" => (HashAlgorithmName.SHA256, "ec"),
            "1.2.840.10045.4.3.3" => (HashAlgorithmName.SHA384, "ec"),
            "1.2.840.10045.4.3.4" => (HashAlgorithmName.SHA512, "ec"),
            _ => (default, string.Empty),
        };
        try
        {
            switch (family)
            {
                case "rsa":
                {
                    using var rsa = RSA.Create();
                    rsa.ImportSubjectPublicKeyInfo(issuerKey.Span, out _);
                    return rsa.VerifyData(Tbs.Span, Signature, hash, RSASignaturePadding.Pkcs1);
                }

                case "ec":
                {
                    using var ec = ECDsa.Create();
                    ec.ImportSubjectPublicKeyInfo(issuerKey.Span, out _);
                    return ec.VerifyData(Tbs.Span, Signature, hash, DSASignatureFormat.Rfc3279DerSequence);
                }

                default:
                    return false;
            }
        }
        catch (CryptographicException)
        {
            // The issuer's key is of another family than the signature: not signed by it.
            return false;
        }
    }

    private static DateTimeOffset ReadTime(AsnReader validity) =>
        validity.PeekTag().HasSameClassAndValue(Asn1Tag.UtcTime) ? validity.ReadUtcTime() : validity.ReadGeneralizedTime();
}
