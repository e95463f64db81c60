using System.Text.Json;
using OfflineSigner.Tuf;

namespace OfflineSigner.Bundles;

/// <summary>
/// One signer's signature over one item, kept beside the unsigned item (signatures/ITEM.KEYID.json): which bytes it
/// covers (their SHA-256), the key id, the signature, the key reference and device serial it was made with, by whom
/// and when. Items are never rewritten, so key holders can sign in any order on different days.
/// </summary>
public sealed record DetachedSignature(
    string BundleId,
    string ItemId,
    string Role,
    long Version,
    string SignedSha256,
    string KeyId,
    byte[] Value,
    string? Method,
    string KeyUri,
    string DeviceSerial,
    string Signer,
    DateTimeOffset Time)
{
    public string FileName => BundleNames.SignaturePath(ItemId, KeyId);

    /// <summary>The signature as it goes into the document's "signatures" list.</summary>
    public Signature ToSignature(Dialect dialect) => Signature.Create(KeyId, Value, Method, dialect);

    public byte[] ToBytes(Dialect dialect)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteNumber("format_version", BundleManifest.CurrentFormatVersion);
            w.WriteString("bundle_id", BundleId);
            w.WriteString("item", ItemId);
            w.WriteString("role", Role);
            w.WriteNumber("version", Version);
            w.WriteString("signed_sha256", SignedSha256);
            w.WriteString("keyid", KeyId);
            w.WriteString("sig", dialect == Dialect.Notary ? Convert.ToBase64String(Value) : Convert.ToHexStringLower(Value));
            if (Method is null)
            {
                w.WriteNull("method");
            }
            else
            {
                w.WriteString("method", Method);
            }

            w.WriteString("key_uri", KeyUri);
            w.WriteString("device_serial", DeviceSerial);
            w.WriteString("signer", Signer);
            w.WriteString("time", Rfc3339.Format(Time));
            w.WriteEndObject();
        }

        stream.WriteByte((byte)'\n');
        return stream.ToArray();
    }

    public static DetachedSignature Parse(ReadOnlySpan<byte> bytes, string path, Dialect dialect)
    {
        try
        {
            using var doc = JsonDocument.Parse(bytes.ToArray(), new JsonDocumentOptions { MaxDepth = 4 });
            var e = doc.RootElement;
            string[] fields = ["format_version", "bundle_id", "item", "role", "version", "signed_sha256", "keyid", "sig", "method", "key_uri", "device_serial", "signer", "time"];
            if (e.ValueKind != JsonValueKind.Object)
            {
                throw new BundleException($"{path}: not a JSON object");
            }

            foreach (var p in e.EnumerateObject())
            {
                if (!fields.Contains(p.Name, StringComparer.Ordinal))
                {
                    throw new BundleException($"{path}: unknown field \"{p.Name}\"");
                }
            }

            string Str(string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : throw new BundleException($"{path}: \"{name}\" must be a string");
            long Int(string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n) ? n : throw new BundleException($"{path}: \"{name}\" must be an integer");
            if (Int("format_version") != BundleManifest.CurrentFormatVersion)
            {
                throw new BundleException($"{path}: format_version {Int("format_version")} is not known to this offline-signer");
            }

            var sigText = Str("sig");
            byte[] value;
            try
            {
                value = dialect == Dialect.Notary ? Convert.FromBase64String(sigText) : Convert.FromHexString(sigText);
            }
            catch (FormatException ex)
            {
                throw new BundleException($"{path}: \"sig\" is not {(dialect == Dialect.Notary ? "base64" : "hex")}", ex);
            }

            var method = e.TryGetProperty("method", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
            var timeText = Str("time");
            return !Rfc3339.TryParse(timeText, out var time)
                ? throw new BundleException($"{path}: time \"{timeText}\" is not an RFC 3339 time")
                : new DetachedSignature(
                    Str("bundle_id"), Str("item"), Str("role"), Int("version"), Str("signed_sha256"), Str("keyid"), value, method,
                    Str("key_uri"), Str("device_serial"), Str("signer"), time);
        }
        catch (JsonException ex)
        {
            throw new BundleException($"{path}: not valid JSON: {ex.Message}", ex);
        }
    }
}
