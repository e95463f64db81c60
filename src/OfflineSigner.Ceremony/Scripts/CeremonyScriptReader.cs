// Reads the ceremony script format, docs/ceremony.md "The script": strict JSON (duplicate keys, floats and
// trailing data refused by the parser), unknown fields refused, every error naming the field's path.
using System.Globalization;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Json;

namespace OfflineSigner.Ceremony.Scripts;

/// <summary>A script, transcript or statement is not acceptable; <see cref="FieldPath"/> says where.</summary>
public class CeremonyFormatException : OfflineSignerException
{
    public CeremonyFormatException()
    {
    }

    public CeremonyFormatException(string message)
        : base(message)
    {
    }

    public CeremonyFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>A fault at a field: the message reads "PATH: REASON".</summary>
    public CeremonyFormatException(string path, string reason, Exception? innerException = null)
        : base($"{path}: {reason}", innerException!)
    {
        FieldPath = path;
        Reason = reason;
    }

    /// <summary>Where the fault is (for example <c>$.steps[2].holder</c>).</summary>
    public string? FieldPath { get; }

    /// <summary>What is wrong there.</summary>
    public string? Reason { get; }
}

/// <summary>Reads ceremony scripts.</summary>
public static class CeremonyScriptReader
{
    /// <summary>The largest script read, in bytes.</summary>
    public const int MaxScriptBytes = 1024 * 1024;

    private static readonly string[] KnownAlgorithms = ["ecdsa-p256", "ecdsa-p384", "ed25519", "rsa-2048", "rsa-3072", "rsa-4096"];
    private static readonly string[] PinPolicies = ["never", "once", "always"];
    private static readonly string[] TouchPolicies = ["never", "cached", "always"];

    /// <summary>The algorithm names a script may use.</summary>
    public static IReadOnlyList<string> Algorithms => KnownAlgorithms;

    /// <summary>Parses a script from its UTF-8 bytes.</summary>
    /// <exception cref="CeremonyFormatException">the script is not valid JSON or does not follow the format; the message names the field.</exception>
    public static CeremonyScript Parse(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length > MaxScriptBytes)
        {
            throw new CeremonyFormatException("$", $"the script is {utf8.Length} bytes, more than the limit of {MaxScriptBytes}");
        }

        JsonNode node;
        try
        {
            node = JsonParser.Parse(utf8);
        }
        catch (JsonFormatException e)
        {
            throw new CeremonyFormatException(e.Path ?? "$", e.Reason ?? e.Message, e);
        }

        return Read(node);
    }

    /// <summary>Reads a script from a parsed JSON document (for example the copy a transcript carries).</summary>
    /// <exception cref="CeremonyFormatException">the document does not follow the format.</exception>
    public static CeremonyScript Read(JsonNode document)
    {
        var root = Strict.Of(document, "$");
        var format = root.String("format");
        if (format != CeremonyScript.FormatName)
        {
            throw new CeremonyFormatException("$.format", $"\"{format}\" is not a format this version reads (expected \"{CeremonyScript.FormatName}\")");
        }

        var id = root.Identifier("ceremony_id");
        var purpose = root.Text("purpose");
        var repository = ReadRepository(root.Object("repository"));
        var people = root.Object("people");
        var administrator = ReadPerson(people.Object("administrator"));
        var holders = people.Array("key_holders").Select(ReadHolder).ToList();
        var witnesses = people.Array("witnesses").Select(ReadWitness).ToList();
        people.End();
        var policies = ReadPolicies(root.Object("policies"));
        var steps = root.Array("steps").Select(ReadStep).ToList();
        root.End();
        return new CeremonyScript
        {
            CeremonyId = id,
            Purpose = purpose,
            Repository = repository,
            Administrator = administrator,
            KeyHolders = holders,
            Witnesses = witnesses,
            Policies = policies,
            Steps = steps,
            Json = (JsonObject)document,
        };
    }

    /// <summary>The parsed script's algorithm name as a signing algorithm.</summary>
    public static Signing.KeyAlgorithm ToKeyAlgorithm(string name) => name switch
    {
        "ecdsa-p256" => Signing.KeyAlgorithm.EcdsaP256,
        "ecdsa-p384" => Signing.KeyAlgorithm.EcdsaP384,
        "ed25519" => Signing.KeyAlgorithm.Ed25519,
        "rsa-2048" => Signing.KeyAlgorithm.Rsa2048,
        "rsa-3072" => Signing.KeyAlgorithm.Rsa3072,
        "rsa-4096" => Signing.KeyAlgorithm.Rsa4096,
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "unknown algorithm"),
    };

    private static RepositoryIdentity ReadRepository(Strict o)
    {
        var dialect = o.Choice("dialect", ["tuf", "notary"]) == "notary" ? Dialect.Notary : Dialect.TufSpecification;
        var name = o.Text("name");
        o.End();
        return new RepositoryIdentity(dialect, name);
    }

    private static Person ReadPerson(Strict o)
    {
        var p = new Person(o.Identifier("id"), o.Text("name"));
        o.End();
        return p;
    }

    private static KeyHolder ReadHolder(Strict o)
    {
        var id = o.Identifier("id");
        var name = o.Text("name");
        var d = o.Object("device");
        var kind = d.Choice("kind", ["yubikey", "pkcs11"]) == "yubikey" ? DeviceKind.YubiKey : DeviceKind.Pkcs11;
        var serial = d.Text("serial");
        if (kind == DeviceKind.YubiKey && (serial.Length is < 1 or > 10 || !serial.All(char.IsAsciiDigit)))
        {
            throw new CeremonyFormatException(d.Path + ".serial", $"\"{serial}\" is not a YubiKey serial number (decimal digits)");
        }

        d.End();
        o.End();
        return new KeyHolder(id, name, new Device(kind, serial));
    }

    private static Witness ReadWitness(Strict o)
    {
        var id = o.Identifier("id");
        var name = o.Text("name");
        var keyPath = o.Path + ".public_key";
        var key = o.Object("public_key");
        try
        {
            _ = Tuf.Crypto.KeyFormats.Decode(key.Json, Dialect.TufSpecification, keyPath);
        }
        catch (MetadataException e)
        {
            throw new CeremonyFormatException(keyPath, "not a usable TUF key object: " + e.Message, e);
        }

        key.Consume("keytype", "scheme", "keyval");
        key.End();
        o.End();
        return new Witness(id, name, key.Json);
    }

    private static CeremonyPolicies ReadPolicies(Strict o)
    {
        var algorithms = o.Strings("algorithms");
        if (algorithms.Count == 0)
        {
            throw new CeremonyFormatException(o.Path + ".algorithms", "at least one algorithm is needed");
        }

        for (var i = 0; i < algorithms.Count; i++)
        {
            if (!KnownAlgorithms.Contains(algorithms[i]))
            {
                throw new CeremonyFormatException($"{o.Path}.algorithms[{i}]", $"\"{algorithms[i]}\" is not one of {string.Join(", ", KnownAlgorithms)}");
            }
        }

        var requireAttestation = o.OptionalBool("require_attestation") ?? true;
        var yubikey = new YubiKeyPolicy();
        if (o.OptionalObject("yubikey") is { } y)
        {
            yubikey = new YubiKeyPolicy(
                y.OptionalChoice("pin_policy", PinPolicies) ?? "always",
                y.OptionalChoice("touch_policy", TouchPolicies) ?? "always",
                y.OptionalFirmware("min_firmware"));
            y.End();
        }

        var expiries = RoleIntegers(o.Object("expiry_days"), ["root", "targets", "delegation", "snapshot", "timestamp"], required: ["root"]);
        var thresholds = o.OptionalObject("thresholds") is { } t ? RoleIntegers(t, ["root", "targets", "delegation"], required: []) : new Dictionary<string, int>();
        o.End();
        return new CeremonyPolicies
        {
            Algorithms = algorithms,
            RequireAttestation = requireAttestation,
            YubiKey = yubikey,
            ExpiryDays = expiries,
            Thresholds = thresholds,
        };
    }

    private static Dictionary<string, int> RoleIntegers(Strict o, string[] allowed, string[] required)
    {
        var result = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var role in allowed)
        {
            var value = required.Contains(role) ? o.Integer(role) : o.OptionalInteger(role);
            if (value is long v)
            {
                if (v is < 1 or > 100_000)
                {
                    throw new CeremonyFormatException($"{o.Path}.{role}", $"{v} is out of range (1 to 100000)");
                }

                result[role] = (int)v;
            }
        }

        o.End();
        return result;
    }

    private static CeremonyStep ReadStep(Strict o)
    {
        var id = o.Identifier("id");
        var actionName = o.Choice("action", ["generate-key", "enroll-key", "build-root", "sign", "delegation", "delegated-role", "export-bundle", "seal"]);
        var description = o.OptionalText("description");
        CeremonyStep step;
        switch (actionName)
        {
            case "generate-key":
                step = new CeremonyStep
                {
                    Id = id, Action = StepAction.GenerateKey, Path = o.Path, Description = description,
                    Holder = o.Identifier("holder"),
                    Algorithm = o.String("algorithm"),
                };
                break;
            case "enroll-key":
                step = new CeremonyStep
                {
                    Id = id, Action = StepAction.EnrollKey, Path = o.Path, Description = description,
                    Holder = o.Identifier("holder"),
                    Role = o.Choice("role", ["root", "targets"]),
                };
                break;
            case "delegated-role":
                step = new CeremonyStep
                {
                    Id = id, Action = StepAction.DelegatedRole, Path = o.Path, Description = description,
                    DelegationStep = o.Identifier("delegation"),
                };
                break;
            case "build-root":
            {
                var keys = o.Object("keys");
                var roleKeys = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
                foreach (var role in Root.TopLevelRoles)
                {
                    if (keys.Has(role))
                    {
                        roleKeys[role] = keys.Strings(role);
                    }
                }

                keys.End();
                var online = o.OptionalStrings("online_roles") ?? [];
                for (var i = 0; i < online.Count; i++)
                {
                    if (online[i] is not ("snapshot" or "timestamp" or "targets"))
                    {
                        throw new CeremonyFormatException($"{o.Path}.online_roles[{i}]", $"\"{online[i]}\" cannot be an online role (snapshot, timestamp or targets can)");
                    }
                }

                step = new CeremonyStep
                {
                    Id = id, Action = StepAction.BuildRoot, Path = o.Path, Description = description,
                    RoleKeys = roleKeys,
                    OnlineRoles = online,
                    Version = o.OptionalInteger("version") ?? 1,
                };
                break;
            }

            case "sign":
                step = new CeremonyStep
                {
                    Id = id, Action = StepAction.Sign, Path = o.Path, Description = description,
                    Item = o.Identifier("item"),
                    Signers = o.Strings("signers"),
                };
                break;
            case "delegation":
                step = new CeremonyStep
                {
                    Id = id, Action = StepAction.Delegation, Path = o.Path, Description = description,
                    Mode = o.Choice("mode", ["create", "rotate"]),
                    Name = o.Text("name"),
                    Delegator = o.OptionalText("delegator") ?? "targets",
                    Keys = o.Strings("keys"),
                    Paths = o.OptionalStrings("paths") ?? [],
                    Threshold = o.OptionalInteger("threshold") is long th ? checked((int)th) : null,
                    Terminating = o.OptionalBool("terminating") ?? false,
                };
                break;
            case "export-bundle":
                step = new CeremonyStep
                {
                    Id = id, Action = StepAction.ExportBundle, Path = o.Path, Description = description,
                    Items = o.Strings("items"),
                };
                break;
            default:
                step = new CeremonyStep
                {
                    Id = id, Action = StepAction.Seal, Path = o.Path, Description = description,
                    Keys = o.Strings("keys"),
                };
                break;
        }

        o.End();
        return step;
    }

    /// <summary>A JSON object read field by field; <see cref="End"/> refuses every field that was not read.</summary>
    internal sealed class Strict
    {
        private readonly HashSet<string> read = new(StringComparer.Ordinal);

        private Strict(JsonObject json, string path)
        {
            Json = json;
            Path = path;
        }

        public JsonObject Json { get; }

        public string Path { get; }

        public static Strict Of(JsonNode node, string path) =>
            node is JsonObject o ? new Strict(o, path) : throw new CeremonyFormatException(path, $"expected an object, found {node.KindName}");

        public bool Has(string key) => Json.ContainsKey(key);

        public void Consume(params string[] keys)
        {
            foreach (var k in keys)
            {
                read.Add(k);
            }
        }

        public void End()
        {
            foreach (var key in Json.Keys)
            {
                if (!read.Contains(key))
                {
                    throw new CeremonyFormatException(Child(key), "unknown field (the format has no such field here)");
                }
            }
        }

        public string String(string key) => OptionalString(key) ?? throw Missing(key);

        public string? OptionalString(string key)
        {
            read.Add(key);
            if (!Json.TryGetValue(key, out var v))
            {
                return null;
            }

            return v is JsonString s ? s.Value : throw new CeremonyFormatException(Child(key), $"expected a string, found {v.KindName}");
        }

        /// <summary>A non-empty string without control characters, at most 1000 characters.</summary>
        public string Text(string key) => OptionalText(key) ?? throw Missing(key);

        public string? OptionalText(string key)
        {
            var s = OptionalString(key);
            if (s is null)
            {
                return null;
            }

            if (s.Trim().Length == 0)
            {
                throw new CeremonyFormatException(Child(key), "must not be empty");
            }

            if (s.Length > 1000 || s.Any(char.IsControl))
            {
                throw new CeremonyFormatException(Child(key), "must be one line of at most 1000 characters");
            }

            return s;
        }

        /// <summary>An identifier: 1 to 64 of a-z, 0-9, '-', '_', '.', starting with a letter or digit.</summary>
        public string Identifier(string key)
        {
            var s = String(key);
            if (!IsIdentifier(s))
            {
                throw new CeremonyFormatException(Child(key), $"\"{s}\" is not an identifier (1 to 64 of a-z, 0-9, '-', '_', '.', starting with a letter or digit)");
            }

            return s;
        }

        public string Choice(string key, string[] choices) => OptionalChoice(key, choices) ?? throw Missing(key);

        public string? OptionalChoice(string key, string[] choices)
        {
            var s = OptionalString(key);
            if (s is not null && !choices.Contains(s))
            {
                throw new CeremonyFormatException(Child(key), $"\"{s}\" is not one of {string.Join(", ", choices)}");
            }

            return s;
        }

        public string? OptionalFirmware(string key)
        {
            var s = OptionalString(key);
            if (s is not null && !TryParseFirmware(s, out _))
            {
                throw new CeremonyFormatException(Child(key), $"\"{s}\" is not a firmware version such as 5.7.0");
            }

            return s;
        }

        public long Integer(string key) => OptionalInteger(key) ?? throw Missing(key);

        public long? OptionalInteger(string key)
        {
            read.Add(key);
            if (!Json.TryGetValue(key, out var v))
            {
                return null;
            }

            return v is JsonInteger { FitsInt64: true } i && i.Int64Value is >= 0 and <= int.MaxValue
                ? i.Int64Value
                : throw new CeremonyFormatException(Child(key), $"expected a non-negative integer, found {(v is JsonInteger ? "an integer out of range" : v.KindName)}");
        }

        public bool? OptionalBool(string key)
        {
            read.Add(key);
            if (!Json.TryGetValue(key, out var v))
            {
                return null;
            }

            return v is JsonBoolean b ? b.Value : throw new CeremonyFormatException(Child(key), $"expected true or false, found {v.KindName}");
        }

        public Strict Object(string key) => OptionalObject(key) ?? throw Missing(key);

        public Strict? OptionalObject(string key)
        {
            read.Add(key);
            return Json.TryGetValue(key, out var v) ? Of(v, Child(key)) : null;
        }

        public IReadOnlyList<Strict> Array(string key)
        {
            read.Add(key);
            if (!Json.TryGetValue(key, out var v))
            {
                throw Missing(key);
            }

            if (v is not JsonArray a)
            {
                throw new CeremonyFormatException(Child(key), $"expected an array, found {v.KindName}");
            }

            return [.. a.Select((item, i) => Of(item, $"{Child(key)}[{i}]"))];
        }

        public IReadOnlyList<string> Strings(string key) => OptionalStrings(key) ?? throw Missing(key);

        public IReadOnlyList<string>? OptionalStrings(string key)
        {
            read.Add(key);
            if (!Json.TryGetValue(key, out var v))
            {
                return null;
            }

            if (v is not JsonArray a)
            {
                throw new CeremonyFormatException(Child(key), $"expected an array of strings, found {v.KindName}");
            }

            var result = new List<string>(a.Count);
            for (var i = 0; i < a.Count; i++)
            {
                result.Add(a[i] is JsonString s && s.Value.Length > 0
                    ? s.Value
                    : throw new CeremonyFormatException($"{Child(key)}[{i}]", $"expected a non-empty string, found {a[i].KindName}"));
            }

            return result;
        }

        private string Child(string key) => IsIdentifier(key) && !key.Contains('.', StringComparison.Ordinal) ? $"{Path}.{key}" : $"{Path}[\"{key}\"]";

        private CeremonyFormatException Missing(string key) => new(Child(key), "missing");
    }

    /// <summary>Whether <paramref name="s"/> is an identifier as scripts use them for people and steps.</summary>
    public static bool IsIdentifier(string s) =>
        s.Length is >= 1 and <= 64
        && char.IsAsciiLetterOrDigit(s[0])
        && s.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '_' or '.');

    /// <summary>Parses a firmware version such as 5.7.0.</summary>
    public static bool TryParseFirmware(string s, out Version version)
    {
        version = new Version(0, 0, 0);
        var parts = s.Split('.');
        if (parts.Length != 3 || parts.Any(p => p.Length is 0 or > 3 || !p.All(char.IsAsciiDigit)))
        {
            return false;
        }

        version = new Version(
            int.Parse(parts[0], CultureInfo.InvariantCulture),
            int.Parse(parts[1], CultureInfo.InvariantCulture),
            int.Parse(parts[2], CultureInfo.InvariantCulture));
        return true;
    }
}
