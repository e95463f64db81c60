// The "pkcs11-attributes" evidence format, docs/ceremony.md "Attestation evidence".
using OfflineSigner.Signing;
using OfflineSigner.Tuf.Json;

namespace OfflineSigner.Ceremony.Engine;

/// <summary>
/// A PKCS#11 token's report on a key's protection attributes (CKA_LOCAL, CKA_SENSITIVE, CKA_ALWAYS_SENSITIVE,
/// CKA_EXTRACTABLE, CKA_NEVER_EXTRACTABLE, CKA_KEY_GEN_MECHANISM) with the token serial and the public key, as
/// canonical JSON. Unlike a PIV attestation it is not signed by the device: it is what the token says through
/// the daemon, which the transcript records with the operator's confirmation.
/// </summary>
public static class Pkcs11AttributeReport
{
    /// <summary>The evidence format name.</summary>
    public const string Format = "pkcs11-attributes";

    /// <summary>Encodes a report.</summary>
    public static AttestationEvidence Create(KeyProtectionEvidence evidence, string tokenSerial, ReadOnlySpan<byte> subjectPublicKeyInfo)
    {
        ArgumentNullException.ThrowIfNull(evidence);
        var o = new JsonObject
        {
            { "backend", evidence.Backend },
            { "key_reference", evidence.KeyReference },
            { "token_serial", tokenSerial },
            { "public_key", Convert.ToBase64String(subjectPublicKeyInfo) },
        };
        Add(o, "local", evidence.GeneratedOnDevice);
        Add(o, "sensitive", evidence.Sensitive);
        Add(o, "always_sensitive", evidence.AlwaysSensitive);
        Add(o, "extractable", evidence.Extractable);
        Add(o, "never_extractable", evidence.NeverExtractable);
        if (evidence.GenerationMechanism is not null)
        {
            o.Add("key_gen_mechanism", evidence.GenerationMechanism);
        }

        return new AttestationEvidence(Format, CanonicalJson.Serialize(o));
    }

    /// <summary>Reads a report and judges it by <see cref="KeyProtectionPolicy.Strict"/>.</summary>
    public static AttestationVerdict Verify(AttestationEvidence evidence)
    {
        ArgumentNullException.ThrowIfNull(evidence);
        if (evidence.Format != Format)
        {
            return Refused($"evidence format \"{evidence.Format}\" is not {Format}");
        }

        JsonObject o;
        try
        {
            o = JsonParser.Parse(evidence.Bytes.Span) as JsonObject ?? throw new JsonFormatException("not an object");
        }
        catch (JsonFormatException e)
        {
            return Refused("the attribute report is not valid JSON: " + e.Message);
        }

        string? Str(string k) => o.TryGetValue(k, out var v) && v is JsonString s ? s.Value : null;
        bool? Bool(string k) => o.TryGetValue(k, out var v) && v is JsonBoolean b ? b.Value : null;
        byte[]? spki = null;
        try
        {
            spki = Str("public_key") is { } b64 ? Convert.FromBase64String(b64) : null;
        }
        catch (FormatException)
        {
            return Refused("the attribute report's public_key is not base64");
        }

        var protection = new KeyProtectionEvidence(
            Str("backend") ?? "pkcs11",
            Str("key_reference") ?? "(none)",
            Bool("local"),
            Bool("sensitive"),
            Bool("always_sensitive"),
            Bool("extractable"),
            Bool("never_extractable"),
            Str("key_gen_mechanism"));
        var problems = protection.Violations(KeyProtectionPolicy.Strict).ToList();
        if (Str("token_serial") is null)
        {
            problems.Add("the report names no token serial");
        }

        if (spki is null)
        {
            problems.Add("the report names no public key");
        }

        return new AttestationVerdict
        {
            Trusted = problems.Count == 0,
            Problems = problems,
            DeviceSerial = Str("token_serial"),
            AttestedSubjectPublicKeyInfo = spki,
            Summary = "PKCS#11 attributes: " + protection.Summary(),
        };
    }

    private static AttestationVerdict Refused(string why) => new() { Trusted = false, Problems = [why], Summary = why };

    private static void Add(JsonObject o, string key, bool? value)
    {
        if (value is bool b)
        {
            o.Add(key, b);
        }
    }
}
