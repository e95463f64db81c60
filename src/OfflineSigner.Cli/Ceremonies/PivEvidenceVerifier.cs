// The production attestation verifier of a ceremony, docs/ceremony.md "Attestation evidence".
using System.Security.Cryptography;
using OfflineSigner.Ceremony.Engine;
using OfflineSigner.YubiKey;
using OfflineSigner.YubiKey.Attestation;
using OfflineSigner.YubiKey.Piv;

namespace OfflineSigner.Cli.Ceremonies;

/// <summary>
/// Judges a ceremony's evidence: a PIV attestation (slot certificate, then the device's f9 certificate, as
/// concatenated PEM) by its chain to a configured trusted root set (Yubico's roots for real devices, the simulator's
/// attestation CA for rehearsals), with the serial, PIN and touch policies, firmware and attested key it names; a
/// PKCS#11 attribute report by the strict key protection policy. The runner compares what the verdict names with the
/// script's policy and the key generated.
/// </summary>
internal sealed class PivEvidenceVerifier(PivAttestationRoots? roots, TimeProvider clock) : IAttestationVerifier
{
    /// <summary>The evidence format of a PIV attestation.</summary>
    public const string PivFormat = "piv-attestation";

    /// <summary>The trusted roots (null: PIV evidence is refused, naming the missing configuration).</summary>
    public PivAttestationRoots? Roots => roots;

    /// <summary>Encodes a device's chain (slot certificate first, then f9) as the evidence bytes.</summary>
    public static AttestationEvidence Encode(IReadOnlyList<byte[]> chainDer)
    {
        ArgumentNullException.ThrowIfNull(chainDer);
        var pem = string.Concat(chainDer.Select(c => PemEncoding.WriteString("CERTIFICATE", c) + "\n"));
        return new AttestationEvidence(PivFormat, System.Text.Encoding.ASCII.GetBytes(pem));
    }

    /// <summary>The certificates of PIV evidence, in order.</summary>
    public static List<byte[]> Decode(ReadOnlySpan<byte> evidence)
    {
        var text = System.Text.Encoding.ASCII.GetString(evidence).AsSpan();
        var certificates = new List<byte[]>();
        while (PemEncoding.TryFind(text, out var fields))
        {
            if (!text[fields.Label].SequenceEqual("CERTIFICATE"))
            {
                throw new FormatException($"the evidence holds a PEM block \"{text[fields.Label]}\", not a CERTIFICATE");
            }

            certificates.Add(Convert.FromBase64String(text[fields.Base64Data].ToString()));
            text = text[fields.Location.End..];
        }

        return certificates;
    }

    /// <inheritdoc/>
    public AttestationVerdict Verify(AttestationEvidence evidence, GeneratedKey key)
    {
        ArgumentNullException.ThrowIfNull(evidence);
        ArgumentNullException.ThrowIfNull(key);
        if (evidence.Format == Pkcs11AttributeReport.Format)
        {
            return Pkcs11AttributeReport.Verify(evidence);
        }

        if (evidence.Format != PivFormat)
        {
            return Refused($"evidence format \"{evidence.Format}\" is neither {PivFormat} nor {Pkcs11AttributeReport.Format}");
        }

        if (roots is null)
        {
            return Refused("no trusted PIV attestation roots are configured (--attestation-roots FILE: Yubico's roots, or the simulator's CA for a rehearsal)");
        }

        List<byte[]> chain;
        try
        {
            chain = Decode(evidence.Bytes.Span);
        }
        catch (FormatException e)
        {
            return Refused("the PIV evidence is not PEM certificates: " + e.Message);
        }

        if (chain.Count != 2)
        {
            return Refused($"the PIV evidence holds {chain.Count} certificate(s), not the slot's attestation certificate and the device's f9 certificate");
        }

        PivAttestationStatement statement;
        try
        {
            statement = PivAttestationStatement.Parse(chain[0], chain[1]);
        }
        catch (PivAttestationException e)
        {
            return Refused(e.Message);
        }

        // The runner judges PIN, touch and firmware against the script's policy; here: the chain and the key.
        var result = PivAttestationVerifier.Verify(
            statement,
            roots,
            new PivAttestationRequirements { PublicKey = key.SubjectPublicKeyInfo, AllowEucleakFirmware = true },
            clock.GetUtcNow());
        var problems = result.Violations.ToList();
        if (result.TrustedRootFingerprint is null && problems.Count == 0)
        {
            problems.Add($"the attestation does not chain to a trusted root in {roots.Source}");
        }

        return new AttestationVerdict
        {
            Trusted = result.TrustedRootFingerprint is not null && problems.Count == 0,
            Problems = problems,
            DeviceSerial = statement.Serial.ToString(System.Globalization.CultureInfo.InvariantCulture),
            AttestedSubjectPublicKeyInfo = statement.SubjectPublicKeyInfo,
            PinPolicy = Name(statement.PinPolicy),
            TouchPolicy = Name(statement.TouchPolicy),
            Firmware = statement.Firmware.ToString(),
            Summary = statement.Summary() + (result.TrustedRootFingerprint is { } fp ? $"; chain to trusted root {fp}" : "; chain not trusted"),
        };
    }

    private static string Name(PivPinPolicy policy) => policy switch
    {
        PivPinPolicy.Always or PivPinPolicy.MatchAlways => "always",
        PivPinPolicy.Once or PivPinPolicy.MatchOnce => "once",
        PivPinPolicy.Never => "never",
        _ => "default",
    };

    private static string Name(PivTouchPolicy policy) => policy switch
    {
        PivTouchPolicy.Always => "always",
        PivTouchPolicy.Cached => "cached",
        PivTouchPolicy.Never => "never",
        _ => "default",
    };

    private static AttestationVerdict Refused(string why) => new() { Trusted = false, Problems = [why], Summary = why };
}
