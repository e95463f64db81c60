// Seal and witness statements, docs/ceremony.md "Seal" and "Witness statements". Signatures are TUF specification
// signatures (securesystemslib schemes) over canonical JSON, made through IKeySigner and checked by the TUF core.
using System.Security.Cryptography;
using OfflineSigner.Ceremony.Scripts;
using OfflineSigner.Signing;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Crypto;
using OfflineSigner.Tuf.Json;

namespace OfflineSigner.Ceremony.Transcripts;

/// <summary>
/// The statement a seal signature signs: this ceremony's transcript up to and including one line, and the time the
/// seal line itself carries, so that every field of the seal line is covered (its seq and prev by the chain, its
/// holder and key by the key that verifies).
/// </summary>
public static class SealStatement
{
    /// <summary>The canonical bytes signed by a seal signature covering line <paramref name="coversSeq"/>, written at <paramref name="sealedAt"/> (the line's <c>time</c>).</summary>
    public static byte[] Bytes(string ceremonyId, long coversSeq, string coversSha256, string sealedAt) =>
        CanonicalJson.Serialize(new JsonObject
        {
            { "_type", TranscriptEvents.SealStatementType },
            { "ceremony_id", ceremonyId },
            { "covers_seq", coversSeq },
            { "covers_sha256", coversSha256 },
            { "sealed_at", sealedAt },
        });

    /// <summary>Verifies a seal signature with the TUF core.</summary>
    /// <returns>false when the signature does not verify, or the key object cannot verify it.</returns>
    public static bool Verify(JsonObject keyObject, string ceremonyId, long coversSeq, string coversSha256, string sealedAt, ReadOnlySpan<byte> signature)
    {
        ArgumentNullException.ThrowIfNull(keyObject);
        return Signatures.Verify(keyObject, Bytes(ceremonyId, coversSeq, coversSha256, sealedAt), signature);
    }
}

/// <summary>The outcome of checking one witness statement.</summary>
public sealed record WitnessCheck(string? WitnessId, bool Ok, string Message);

/// <summary>
/// A witness's own signed statement that they watched the ceremony whose sealed transcript has a given SHA-256.
/// It is a separate file, <c>{"signed": {...}, "signatures": [{"keyid", "sig"}]}</c>, signed with the witness's key
/// that the script lists.
/// </summary>
public static class WitnessStatement
{
    /// <summary>The default wording.</summary>
    public const string DefaultText = "I witnessed this ceremony from start to end; the transcript with this SHA-256 records what I saw.";

    /// <summary>Writes and signs a statement over <paramref name="transcript"/> (the sealed transcript's bytes).</summary>
    /// <exception cref="SigningException">the signer does not hold the key the script lists for the witness.</exception>
    public static byte[] Create(ReadOnlySpan<byte> transcript, string ceremonyId, Witness witness, IKeySigner signer, DateTimeOffset time, string? text = null)
    {
        ArgumentNullException.ThrowIfNull(witness);
        ArgumentNullException.ThrowIfNull(signer);
        var signed = new JsonObject
        {
            { "_type", TranscriptEvents.WitnessStatementType },
            { "ceremony_id", ceremonyId },
            { "transcript_sha256", Convert.ToHexStringLower(SHA256.HashData(transcript)) },
            { "witness", witness.Id },
            { "name", witness.Name },
            { "statement", text ?? DefaultText },
            { "time", Rfc3339.Format(time) },
        };
        var message = CanonicalJson.Serialize(signed);
        var (signature, _) = MetadataSigner.Sign(signer, Dialect.TufSpecification, witness.PublicKey, message);
        var envelope = new JsonObject
        {
            { "signed", signed },
            {
                "signatures", new JsonArray([new JsonObject
                {
                    { "keyid", KeyFormats.ComputeKeyId(witness.PublicKey) },
                    { "sig", Convert.ToHexStringLower(signature) },
                }])
            },
        };
        return JsonText.Serialize(envelope, indented: true);
    }

    /// <summary>Checks a statement against a transcript's SHA-256, its ceremony and the witnesses its script lists.</summary>
    public static WitnessCheck Verify(ReadOnlySpan<byte> statement, string transcriptSha256, string ceremonyId, IReadOnlyList<Witness> witnesses)
    {
        ArgumentNullException.ThrowIfNull(witnesses);
        JsonObject signed;
        JsonArray signatures;
        try
        {
            var root = JsonParser.Parse(statement) as JsonObject ?? throw new CeremonyFormatException("$", "not a JSON object");
            Only(root, "$", "signed", "signatures");
            signed = root.TryGetValue("signed", out var s) && s is JsonObject so ? so : throw new CeremonyFormatException("$.signed", "missing or not an object");
            signatures = root.TryGetValue("signatures", out var a) && a is JsonArray sa ? sa : throw new CeremonyFormatException("$.signatures", "missing or not an array");
            Only(signed, "$.signed", "_type", "ceremony_id", "transcript_sha256", "witness", "name", "statement", "time");
        }
        catch (OfflineSignerException e)
        {
            return new WitnessCheck(null, false, "not a witness statement: " + e.Message);
        }

        string Field(string name) => signed.TryGetValue(name, out var v) && v is JsonString js ? js.Value : string.Empty;
        var witnessId = Field("witness");
        if (Field("_type") != TranscriptEvents.WitnessStatementType)
        {
            return new WitnessCheck(witnessId, false, $"$.signed._type is \"{Field("_type")}\", not a witness statement");
        }

        var witness = witnesses.FirstOrDefault(w => w.Id == witnessId);
        if (witness is null)
        {
            return new WitnessCheck(witnessId, false, $"\"{witnessId}\" is not a witness of this ceremony's script");
        }

        if (Field("ceremony_id") != ceremonyId)
        {
            return new WitnessCheck(witnessId, false, $"{witnessId}'s statement is about ceremony \"{Field("ceremony_id")}\", not \"{ceremonyId}\"");
        }

        if (Field("transcript_sha256") != transcriptSha256)
        {
            return new WitnessCheck(witnessId, false, $"{witnessId}'s statement is over another transcript (SHA-256 {Field("transcript_sha256")}, this one is {transcriptSha256})");
        }

        var keyId = KeyFormats.ComputeKeyId(witness.PublicKey);
        var message = CanonicalJson.Serialize(signed);
        foreach (var entry in signatures)
        {
            if (entry is JsonObject sig && sig.TryGetValue("keyid", out var k) && k is JsonString ks && ks.Value == keyId
                && sig.TryGetValue("sig", out var v) && v is JsonString vs && TryHex(vs.Value, out var bytes)
                && Signatures.Verify(witness.PublicKey, message, bytes))
            {
                return new WitnessCheck(witnessId, true, $"{witness.Name} ({witnessId}) signed this transcript with key {keyId[..16]}");
            }
        }

        return new WitnessCheck(witnessId, false, $"{witnessId}'s statement carries no valid signature by their key {keyId[..16]}");
    }

    private static void Only(JsonObject o, string path, params string[] allowed)
    {
        foreach (var key in o.Keys)
        {
            if (!allowed.Contains(key))
            {
                throw new CeremonyFormatException($"{path}.{key}", "unknown field");
            }
        }
    }

    internal static bool TryHex(string hex, out byte[] bytes)
    {
        try
        {
            bytes = Convert.FromHexString(hex);
            return true;
        }
        catch (FormatException)
        {
            bytes = [];
            return false;
        }
    }
}

/// <summary>Signature checks through the TUF core's <see cref="SignatureVerifier"/> (specification dialect).</summary>
internal static class Signatures
{
    public static bool Verify(JsonObject keyObject, ReadOnlySpan<byte> message, ReadOnlySpan<byte> signature)
    {
        try
        {
            var key = KeyFormats.Decode(keyObject, Dialect.TufSpecification, "$");
            var keyType = ((JsonString)keyObject["keytype"]).Value;
            var scheme = keyObject.TryGetValue("scheme", out var s) && s is JsonString ss ? ss.Value : null;
            return SignatureVerifier.Verify(key, Dialect.TufSpecification, keyType, scheme, null, message, signature);
        }
        catch (MetadataException)
        {
            return false;
        }
    }
}
