using System.Formats.Asn1;
using System.Numerics;
using System.Security.Cryptography;

namespace OfflineSigner.YubiKeySimulator;

/// <summary>
/// Slot attestation certificates with a real YubiKey's structure: v3, subject "CN=YubiKey PIV Attestation 9c", issuer
/// and validity copied from the f9 certificate, the slot's public key, signed by the f9 key (RSA PKCS #1 v1.5 SHA-256),
/// and four non-critical extensions under 1.3.6.1.4.1.41482.3: .3 firmware (3 raw bytes), .7 serial (DER INTEGER),
/// .8 PIN and touch policy (2 raw bytes), .9 form factor (1 byte).
/// </summary>
internal static class AttestationCertificates
{
    private const string Sha256WithRsa = "1.2.840.113549.1.1.11";
    private const string CommonName = "2.5.4.3";

    public static byte[] Issue(byte[] intermediateDer, RSA attestationKey, byte slot, byte[] subjectPublicKeyInfo, (byte, byte, byte) firmware, uint serial, byte pinPolicy, byte touchPolicy, byte formFactor)
    {
        var (issuer, validity) = SubjectAndValidity(intermediateDer);
        var tbs = new AsnWriter(AsnEncodingRules.DER);
        using (tbs.PushSequence())
        {
            using (tbs.PushSequence(new Asn1Tag(TagClass.ContextSpecific, 0)))
            {
                tbs.WriteInteger(2);
            }

            var serialNumber = RandomNumberGenerator.GetBytes(16);
            serialNumber[0] &= 0x7F;
            tbs.WriteInteger(new BigInteger(serialNumber, isUnsigned: true, isBigEndian: true));
            WriteAlgorithm(tbs);
            tbs.WriteEncodedValue(issuer);
            tbs.WriteEncodedValue(validity);
            using (tbs.PushSequence())
            using (tbs.PushSetOf())
            using (tbs.PushSequence())
            {
                tbs.WriteObjectIdentifier(CommonName);
                tbs.WriteCharacterString(UniversalTagNumber.UTF8String, $"YubiKey PIV Attestation {slot:x2}");
            }

            tbs.WriteEncodedValue(subjectPublicKeyInfo);
            using (tbs.PushSequence(new Asn1Tag(TagClass.ContextSpecific, 3)))
            using (tbs.PushSequence())
            {
                Extension(tbs, "1.3.6.1.4.1.41482.3.3", [firmware.Item1, firmware.Item2, firmware.Item3]);
                var serialInteger = new AsnWriter(AsnEncodingRules.DER);
                serialInteger.WriteInteger(serial);
                Extension(tbs, "1.3.6.1.4.1.41482.3.7", serialInteger.Encode());
                Extension(tbs, "1.3.6.1.4.1.41482.3.8", [pinPolicy, touchPolicy]);
                Extension(tbs, "1.3.6.1.4.1.41482.3.9", [formFactor]);
            }
        }

        var tbsDer = tbs.Encode();
        var signature = attestationKey.SignData(tbsDer, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var certificate = new AsnWriter(AsnEncodingRules.DER);
        using (certificate.PushSequence())
        {
            certificate.WriteEncodedValue(tbsDer);
            WriteAlgorithm(certificate);
            certificate.WriteBitString(signature);
        }

        return certificate.Encode();
    }

    /// <summary>The subject Name and the Validity of a certificate, as their DER encodings.</summary>
    private static (byte[] Subject, byte[] Validity) SubjectAndValidity(byte[] certificateDer)
    {
        var tbs = new AsnReader(certificateDer, AsnEncodingRules.DER).ReadSequence().ReadSequence();
        if (tbs.PeekTag().HasSameClassAndValue(new Asn1Tag(TagClass.ContextSpecific, 0)))
        {
            tbs.ReadEncodedValue();
        }

        tbs.ReadEncodedValue();   // serialNumber
        tbs.ReadEncodedValue();   // signature
        tbs.ReadEncodedValue();   // issuer
        var validity = tbs.ReadEncodedValue().ToArray();
        var subject = tbs.ReadEncodedValue().ToArray();
        return (subject, validity);
    }

    private static void WriteAlgorithm(AsnWriter writer)
    {
        using (writer.PushSequence())
        {
            writer.WriteObjectIdentifier(Sha256WithRsa);
            writer.WriteNull();
        }
    }

    private static void Extension(AsnWriter writer, string oid, byte[] value)
    {
        using (writer.PushSequence())
        {
            writer.WriteObjectIdentifier(oid);
            writer.WriteOctetString(value);
        }
    }
}
