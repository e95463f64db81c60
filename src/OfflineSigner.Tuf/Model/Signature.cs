using OfflineSigner.Tuf.Json;

namespace OfflineSigner.Tuf;

/// <summary>One entry of a metadata document's <c>signatures</c> list.</summary>
public sealed class Signature
{
    internal Signature(string keyId, byte[] value, string? method, JsonObject json)
    {
        KeyId = keyId;
        Value = value;
        Method = method;
        Json = json;
    }

    /// <summary>The key id the signature claims.</summary>
    public string KeyId { get; }

    /// <summary>The signature bytes (decoded from hex in the TUF specification dialect, base64 in notary's).</summary>
    public byte[] Value { get; }

    /// <summary>Notary's <c>method</c> (ecdsa, rsapss, eddsa), or null.</summary>
    public string? Method { get; }

    /// <summary>The signature object exactly as read (extra fields kept).</summary>
    public JsonObject Json { get; }

    /// <summary>A new signature object in a dialect.</summary>
    public static Signature Create(string keyId, byte[] value, string? method, Dialect dialect)
    {
        ArgumentNullException.ThrowIfNull(value);
        var json = new JsonObject { { "keyid", keyId } };
        if (dialect == Dialect.Notary)
        {
            json.Add("method", method ?? throw new ArgumentException("notary signatures need a method", nameof(method)));
            json.Add("sig", Convert.ToBase64String(value));
        }
        else
        {
            json.Add("sig", Convert.ToHexStringLower(value));
        }

        return new Signature(keyId, value, method, json);
    }

    internal static Signature Parse(JsonObject json, Dialect dialect, string path)
    {
        var keyId = Fields.String(json, "keyid", path);
        var sig = Fields.String(json, "sig", path);
        string? method = null;
        byte[] value;
        if (dialect == Dialect.Notary)
        {
            method = Fields.String(json, "method", path);
            try
            {
                value = Convert.FromBase64String(sig);
            }
            catch (FormatException)
            {
                throw new MetadataFormatException(Fields.Child(path, "sig"), "not valid base64");
            }
        }
        else
        {
            try
            {
                value = Convert.FromHexString(sig);
            }
            catch (FormatException)
            {
                throw new MetadataFormatException(Fields.Child(path, "sig"), "not valid hex");
            }
        }

        return new Signature(keyId, value, method, json);
    }
}
