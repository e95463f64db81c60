// RFC 7512, "The PKCS #11 URI Scheme": parsing and formatting of pkcs11: URIs that name a token and a key.
using System.Text;

namespace OfflineSigner.Pkcs11;

/// <summary>
/// An RFC 7512 PKCS#11 URI such as <c>pkcs11:token=signer;object=root-1;id=%01;type=private</c>.
/// The module path is configured separately, so module-path/module-name are kept but not used to load anything,
/// and a URI carrying pin-value is refused: PINs never travel inside a key reference.
/// </summary>
public sealed class Pkcs11Uri
{
    private static readonly string[] PathOrder =
    [
        "library-manufacturer", "library-description", "library-version",
        "slot-manufacturer", "slot-description", "slot-id",
        "manufacturer", "model", "serial", "token",
        "object", "id", "type",
    ];

    private static readonly HashSet<string> KnownPath = [.. PathOrder];

    private static readonly HashSet<string> KnownQuery = ["pin-source", "module-name", "module-path"];

    private readonly Dictionary<string, byte[]> _path;
    private readonly Dictionary<string, byte[]> _query;

    private Pkcs11Uri(Dictionary<string, byte[]> path, Dictionary<string, byte[]> query)
    {
        _path = path;
        _query = query;
    }

    /// <summary>CKA_LABEL of the token (path attribute "token").</summary>
    public string? Token => Text("token");

    /// <summary>Serial number of the token ("serial").</summary>
    public string? Serial => Text("serial");

    /// <summary>Token manufacturer ("manufacturer").</summary>
    public string? Manufacturer => Text("manufacturer");

    /// <summary>Token model ("model").</summary>
    public string? Model => Text("model");

    /// <summary>CKA_LABEL of the object ("object").</summary>
    public string? Object => Text("object");

    /// <summary>CKA_ID of the object ("id"), as bytes.</summary>
    public ReadOnlyMemory<byte>? Id => _path.TryGetValue("id", out var id) ? id : null;

    /// <summary>Object type ("type": private, public, cert, secret-key, data).</summary>
    public string? Type => Text("type");

    /// <summary>The token this URI names, or null when it names none.</summary>
    public TokenSelector? TokenSelector => Token is null && Serial is null ? null : new TokenSelector(Token, Serial);

    /// <summary>A path attribute's decoded bytes.</summary>
    public ReadOnlyMemory<byte>? GetPathAttribute(string name) => _path.TryGetValue(name, out var v) ? v : null;

    /// <summary>The names of the query attributes present (pin-source, module-name, module-path).</summary>
    public IReadOnlyCollection<string> QueryAttributeNames => _query.Keys;

    /// <summary>A query attribute's decoded text.</summary>
    public string? GetQueryAttribute(string name) => _query.TryGetValue(name, out var v) ? Encoding.UTF8.GetString(v) : null;

    /// <summary>A URI for a key on a token.</summary>
    public static Pkcs11Uri ForKey(string? tokenLabel, string? tokenSerial, string? objectLabel, ReadOnlySpan<byte> id, string? type = "private")
    {
        var path = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        Put(path, "token", tokenLabel);
        Put(path, "serial", tokenSerial);
        Put(path, "object", objectLabel);
        if (!id.IsEmpty)
        {
            path["id"] = id.ToArray();
        }

        Put(path, "type", type);
        return new Pkcs11Uri(path, new Dictionary<string, byte[]>(StringComparer.Ordinal));

        static void Put(Dictionary<string, byte[]> d, string name, string? value)
        {
            if (!string.IsNullOrEmpty(value))
            {
                d[name] = Encoding.UTF8.GetBytes(value);
            }
        }
    }

    /// <summary>Parses a pkcs11: URI. Throws <see cref="FormatException"/> naming the problem.</summary>
    public static Pkcs11Uri Parse(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        const string scheme = "pkcs11:";
        if (!uri.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            throw new FormatException("a PKCS#11 URI starts with 'pkcs11:'");
        }

        var rest = uri[scheme.Length..];
        var q = rest.IndexOf('?', StringComparison.Ordinal);
        var pathPart = q < 0 ? rest : rest[..q];
        var queryPart = q < 0 ? string.Empty : rest[(q + 1)..];

        var path = ParseAttributes(pathPart, ';', KnownPath, "path");
        var query = ParseAttributes(queryPart, '&', KnownQuery, "query");
        if (path.TryGetValue("type", out var type))
        {
            var t = Encoding.UTF8.GetString(type);
            if (t is not ("private" or "public" or "cert" or "secret-key" or "data"))
            {
                throw new FormatException($"PKCS#11 URI type '{t}' is not one of private, public, cert, secret-key, data");
            }
        }

        return new Pkcs11Uri(path, query);
    }

    /// <summary>Parses, returning false with the reason instead of throwing.</summary>
    public static bool TryParse(string uri, out Pkcs11Uri? result, out string? error)
    {
        try
        {
            result = Parse(uri);
            error = null;
            return true;
        }
        catch (FormatException e)
        {
            result = null;
            error = e.Message;
            return false;
        }
    }

    /// <summary>The URI in a canonical form: attributes in RFC 7512 order, everything but unreserved characters percent-encoded.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder("pkcs11:");
        var first = true;
        foreach (var name in PathOrder)
        {
            if (!_path.TryGetValue(name, out var value))
            {
                continue;
            }

            if (!first)
            {
                sb.Append(';');
            }

            first = false;
            sb.Append(name).Append('=');
            AppendEncoded(sb, value, encodeAll: name == "id");
        }

        var firstQuery = true;
        foreach (var (name, value) in _query.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            sb.Append(firstQuery ? '?' : '&');
            firstQuery = false;
            sb.Append(name).Append('=');
            AppendEncoded(sb, value, encodeAll: false);
        }

        return sb.ToString();
    }

    /// <summary>Percent-encodes bytes: unreserved characters stay (unless <paramref name="encodeAll"/>), the rest become %XX.</summary>
    internal static void AppendEncoded(StringBuilder sb, ReadOnlySpan<byte> value, bool encodeAll)
    {
        foreach (var b in value)
        {
            var c = (char)b;
            var unreserved = char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '~';
            if (unreserved && !encodeAll)
            {
                sb.Append(c);
            }
            else
            {
                sb.Append('%').Append(b.ToString("X2"));
            }
        }
    }

    private static Dictionary<string, byte[]> ParseAttributes(string part, char separator, HashSet<string> known, string where)
    {
        var result = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        if (part.Length == 0)
        {
            return result;
        }

        foreach (var attribute in part.Split(separator))
        {
            if (attribute.Length == 0)
            {
                throw new FormatException($"PKCS#11 URI has an empty {where} attribute");
            }

            var eq = attribute.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new FormatException($"PKCS#11 URI {where} attribute '{attribute}' has no name=value form");
            }

            var name = attribute[..eq];
            if (name == "pin-value")
            {
                throw new FormatException("PKCS#11 URI carries pin-value; PINs never go in a key reference (configure a PIN file or credential)");
            }

            if (!known.Contains(name))
            {
                throw new FormatException($"PKCS#11 URI {where} attribute '{name}' is not supported");
            }

            if (result.ContainsKey(name))
            {
                throw new FormatException($"PKCS#11 URI repeats the attribute '{name}'");
            }

            result[name] = Decode(attribute[(eq + 1)..], name, query: separator == '&');
        }

        return result;
    }

    // RFC 7512 pk11-pchar / pk11-qchar: a path value may not hold '/', '?', '|' or ';' unencoded; a query value may
    // hold '/', '?' and '|' but not '&' or ';'.
    private static byte[] Decode(string value, string name, bool query)
    {
        var bytes = new List<byte>(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '%')
            {
                if (i + 2 >= value.Length || !char.IsAsciiHexDigit(value[i + 1]) || !char.IsAsciiHexDigit(value[i + 2]))
                {
                    throw new FormatException($"PKCS#11 URI attribute '{name}' has a malformed percent-encoding");
                }

                bytes.Add(Convert.ToByte(value.Substring(i + 1, 2), 16));
                i += 2;
            }
            else if (c > 0x7E || c < 0x21 || c is '#' or '"' or '<' or '>' or '\\' or '^' or '`' or '{' or '}' || (!query && c is '/' or '?' or '|' or ';') || (query && c is '&' or ';'))
            {
                throw new FormatException($"PKCS#11 URI attribute '{name}' contains '{c}', which must be percent-encoded");
            }
            else
            {
                bytes.Add((byte)c);
            }
        }

        return [.. bytes];
    }

    private string? Text(string name) => _path.TryGetValue(name, out var v) ? Encoding.UTF8.GetString(v) : null;
}
