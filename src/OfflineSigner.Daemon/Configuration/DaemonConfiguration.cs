using System.Text.Json;
using System.Text.Json.Serialization;
using OfflineSigner.Daemon.Services;
using OfflineSigner.Pkcs11;
using OfflineSigner.Signing;
using OfflineSigner.YubiKey;
using OfflineSigner.YubiKey.Attestation;
using OfflineSigner.YubiKey.Piv;

namespace OfflineSigner.Daemon.Configuration;

/// <summary>
/// The daemon's configuration file (JSON, documented in hsm-config/README.md). Strict: unknown members,
/// comments-free duplicates and missing required values are errors that name the member.
/// </summary>
internal sealed record DaemonConfiguration
{
    [JsonPropertyName("backends")]
    public List<BackendConfiguration>? Backends { get; init; }

    /// <summary>The serving section (socket, callers, policy, audit log), read by Hosting/ServeConfiguration.</summary>
    [JsonPropertyName("daemon")]
    public JsonElement? Daemon { get; init; }

    /// <summary>How PKCS#11 backends keep their login (all of them).</summary>
    [JsonPropertyName("pkcs11")]
    public Pkcs11SectionConfiguration? Pkcs11 { get; init; }

    /// <summary>Reads and validates <paramref name="path"/>; throws <see cref="ConfigurationException"/> naming the problem.</summary>
    public static DaemonConfiguration Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new ConfigurationException($"configuration file {path} does not exist");
        }

        DaemonConfiguration? config;
        try
        {
            using var stream = File.OpenRead(path);
            config = JsonSerializer.Deserialize(stream, DaemonConfigurationJson.Default.DaemonConfiguration);
        }
        catch (JsonException e)
        {
            throw new ConfigurationException($"{path}: {e.Message}", e);
        }

        if (config?.Backends is not { Count: > 0 } backends)
        {
            throw new ConfigurationException($"{path}: 'backends' must list at least one backend");
        }

        config.Pkcs11?.Validate(path);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < backends.Count; i++)
        {
            var where = $"{path}: backends[{i}]";
            var b = backends[i] ?? throw new ConfigurationException($"{where} is null");
            b.Validate(where);
            if (!names.Add(b.Name!))
            {
                throw new ConfigurationException($"{where}: the name '{b.Name}' is used twice");
            }
        }

        return config;
    }
}

/// <summary>
/// One backend: a PKCS#11 module and a token on it, or ("yubikey") a set of YubiKeys by serial with their holders; its
/// PIN source, and the keys used from it.
/// </summary>
internal sealed partial record BackendConfiguration
{
    [JsonPropertyName("name")]
    public string? Name { get; init; }

    /// <summary>"pkcs11" or "yubikey".</summary>
    [JsonPropertyName("type")]
    public string? Type { get; init; }

    [JsonPropertyName("module")]
    public string? Module { get; init; }

    [JsonPropertyName("token")]
    public TokenConfiguration? Token { get; init; }

    [JsonPropertyName("pin")]
    public PinConfiguration? Pin { get; init; }

    [JsonPropertyName("policy")]
    public PolicyConfiguration? Policy { get; init; }

    [JsonPropertyName("keys")]
    public List<KeyConfiguration>? Keys { get; init; }

    /// <summary>yubikey: the devices, by serial, and whose they are.</summary>
    [JsonPropertyName("devices")]
    public List<YubiKeyDeviceConfiguration>? Devices { get; init; }

    /// <summary>yubikey: where the PIV management key is (for key generation only).</summary>
    [JsonPropertyName("managementKey")]
    public PinConfiguration? ManagementKey { get; init; }

    /// <summary>yubikey: the attestation roots and what attestations must show.</summary>
    [JsonPropertyName("attestation")]
    public AttestationConfiguration? Attestation { get; init; }

    /// <summary>yubikey: the PIN and touch policies of generated keys.</summary>
    [JsonPropertyName("generate")]
    public GenerateConfiguration? Generate { get; init; }

    /// <summary>yubikey: how long a signature waits for the operator to insert the right device (default 120 s).</summary>
    [JsonPropertyName("insertTimeoutSeconds")]
    public int? InsertTimeoutSeconds { get; init; }

    public bool IsYubiKey => Type == "yubikey";

    public TokenSelector Selector => new(Token?.Label, Token?.Serial);

    public KeyProtectionPolicy ProtectionPolicy =>
        new(Policy?.AllowExtractable ?? false, Policy?.AllowNotGeneratedOnToken ?? false);

    /// <summary>The options <see cref="Pkcs11Token.Open"/> takes.</summary>
    public Pkcs11TokenOptions ToTokenOptions() => new(Module!, Selector, Pin?.ToPinSource());

    /// <summary>The YubiKey backend's options; loads (and pins) the attestation roots.</summary>
    public YubiKeyBackendOptions ToYubiKeyOptions()
    {
        PivAttestationRoots? roots = null;
        if (Attestation?.Roots is { } path)
        {
            try
            {
                roots = PivAttestationRoots.Load(path, Attestation.PinnedRootFingerprints);
            }
            catch (Exception e) when (e is YubiKeyException or IOException or UnauthorizedAccessException or FormatException)
            {
                throw new ConfigurationException($"backend '{Name}': 'attestation.roots': {e.Message}", e);
            }
        }

        var requirements = new PivAttestationRequirements
        {
            RequirePinAlways = Attestation?.RequirePinAlways ?? true,
            RequireTouchAlways = Attestation?.RequireTouchAlways ?? true,
            AllowEucleakFirmware = Attestation?.AllowEucleakFirmware ?? false,
            MinimumFirmware = Attestation?.MinimumFirmware is { } minimum ? ParseFirmware(minimum) : null,
        };
        var managementKey = ManagementKey?.ToPinSource();
        return new YubiKeyBackendOptions(
            [.. Devices!.Select(d => new YubiKeyHolder(d.Serial!.Value, d.Holder))],
            Pin?.ToPinSource(),
            managementKey is null ? null : () => ManagementKeyBytes(managementKey),
            roots,
            requirements,
            Generate?.PinPolicy is { } pin ? PinPolicyOf(pin)!.Value : PivPinPolicy.Always,
            Generate?.TouchPolicy is { } touch ? TouchPolicyOf(touch)!.Value : PivTouchPolicy.Always,
            TimeSpan.FromSeconds(InsertTimeoutSeconds ?? 120),
            ProtectionPolicy);
    }

    private static PivPinPolicy? PinPolicyOf(string text) => text switch
    {
        "always" => PivPinPolicy.Always,
        "once" => PivPinPolicy.Once,
        "never" => PivPinPolicy.Never,
        _ => null,
    };

    private static PivTouchPolicy? TouchPolicyOf(string text) => text switch
    {
        "always" => PivTouchPolicy.Always,
        "cached" => PivTouchPolicy.Cached,
        "never" => PivTouchPolicy.Never,
        _ => null,
    };

    /// <summary>The management key file holds hex (48 digits for 3DES and AES-192, 32 for AES-128, 64 for AES-256).</summary>
    private static byte[] ManagementKeyBytes(IPinSource source)
    {
        byte[] text;
        try
        {
            text = source.ReadPin();
        }
        catch (Pkcs11TokenException e)
        {
            throw new YubiKeyException(e.Message.Replace("PIN file", "management key file", StringComparison.Ordinal), e);
        }

        try
        {
            if (text.Length is not (32 or 48 or 64) || !text.All(b => Uri.IsHexDigit((char)b)))
            {
                throw new YubiKeyException($"{source.Description.Replace("PIN file", "management key file", StringComparison.Ordinal)} must hold the key as 32, 48 or 64 hex digits");
            }

            var key = new byte[text.Length / 2];
            for (var i = 0; i < key.Length; i++)
            {
                key[i] = (byte)((HexValue(text[2 * i]) << 4) | HexValue(text[(2 * i) + 1]));
            }

            return key;
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(text);
        }
    }

    private static int HexValue(byte c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;

    private static FirmwareVersion ParseFirmware(string text)
    {
        var parts = text.Split('.');
        return parts.Length == 3 && parts.All(p => byte.TryParse(p, System.Globalization.CultureInfo.InvariantCulture, out _))
            ? new FirmwareVersion(int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture), int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture), int.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture))
            : throw new FormatException($"'{text}' is not a firmware version (5.7.0)");
    }

    public void Validate(string where)
    {
        if (string.IsNullOrWhiteSpace(Name))
        {
            throw new ConfigurationException($"{where}: 'name' is required");
        }

        where = $"{where} ('{Name}')";
        if (Type == "yubikey")
        {
            ValidateYubiKey(where);
            return;
        }

        if (Type != "pkcs11")
        {
            throw new ConfigurationException($"{where}: 'type' must be \"pkcs11\" or \"yubikey\"");
        }

        if (Devices is not null || ManagementKey is not null || Attestation is not null || Generate is not null || InsertTimeoutSeconds is not null)
        {
            throw new ConfigurationException($"{where}: 'devices', 'managementKey', 'attestation', 'generate' and 'insertTimeoutSeconds' belong to \"yubikey\" backends");
        }

        if (string.IsNullOrWhiteSpace(Module) || !Path.IsPathRooted(Module))
        {
            throw new ConfigurationException($"{where}: 'module' must be the absolute path of the PKCS#11 module");
        }

        if (Token is null || (string.IsNullOrEmpty(Token.Label) && string.IsNullOrEmpty(Token.Serial)))
        {
            throw new ConfigurationException($"{where}: 'token' needs a 'label', a 'serial', or both (never a slot number)");
        }

        Pin?.Validate(where);
        // 'keys' may be absent: a fresh token has none until the ceremony generates them through the daemon.
        if (Keys is null)
        {
            return;
        }

        var keyNames = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < Keys.Count; i++)
        {
            var k = Keys[i] ?? throw new ConfigurationException($"{where}: keys[{i}] is null");
            if (string.IsNullOrWhiteSpace(k.Name) || !keyNames.Add(k.Name))
            {
                throw new ConfigurationException($"{where}: keys[{i}] needs a unique 'name'");
            }

            if (k.Uri is null)
            {
                throw new ConfigurationException($"{where}: keys[{i}] ('{k.Name}'): 'uri' is required");
            }

            if (!Pkcs11Uri.TryParse(k.Uri, out var uri, out var error))
            {
                throw new ConfigurationException($"{where}: keys[{i}] ('{k.Name}'): 'uri' is not a PKCS#11 URI: {error}");
            }

            if (uri!.QueryAttributeNames.Count > 0)
            {
                throw new ConfigurationException(
                    $"{where}: keys[{i}] ('{k.Name}'): the URI carries {string.Join(", ", uri.QueryAttributeNames.Order(StringComparer.Ordinal))}; the module and the PIN are configured in 'module' and 'pin', not in the key URI");
            }

            if (uri.Id is null && uri.Object is null)
            {
                throw new ConfigurationException($"{where}: keys[{i}] ('{k.Name}'): the URI names no key (give id=, object= or both)");
            }

            if (uri.TokenSelector is { } s && ((s.Label is not null && Token.Label is not null && s.Label != Token.Label)
                || (s.SerialNumber is not null && Token.Serial is not null && !string.Equals(s.SerialNumber, Token.Serial, StringComparison.OrdinalIgnoreCase))))
            {
                throw new ConfigurationException($"{where}: keys[{i}] ('{k.Name}'): the URI names {s}, not this backend's token");
            }
        }
    }
}

internal sealed partial record BackendConfiguration
{
    private void ValidateYubiKey(string where)
    {
        if (Module is not null || Token is not null)
        {
            throw new ConfigurationException($"{where}: a \"yubikey\" backend has no 'module' or 'token': it finds its devices by serial ('devices')");
        }

        if (Devices is not { Count: > 0 })
        {
            throw new ConfigurationException($"{where}: 'devices' must list the YubiKeys by serial (and holder)");
        }

        var serials = new HashSet<uint>();
        for (var i = 0; i < Devices.Count; i++)
        {
            var d = Devices[i] ?? throw new ConfigurationException($"{where}: devices[{i}] is null");
            if (d.Serial is not > 0u || !serials.Add(d.Serial.Value))
            {
                throw new ConfigurationException($"{where}: devices[{i}] needs a unique 'serial' (the number printed on the YubiKey)");
            }
        }

        Pin?.Validate(where);
        ManagementKey?.Validate(where + ": managementKey");
        if (Attestation is { } attestation)
        {
            if (attestation.Roots is { } roots && !Path.IsPathRooted(roots))
            {
                throw new ConfigurationException($"{where}: 'attestation.roots' must be an absolute path");
            }

            foreach (var pinned in attestation.PinnedRootFingerprints ?? [])
            {
                if (!string.Equals(pinned, "yubico", StringComparison.OrdinalIgnoreCase))
                {
                    try
                    {
                        _ = PivAttestationRoots.NormalizeFingerprint(pinned);
                    }
                    catch (FormatException e)
                    {
                        throw new ConfigurationException($"{where}: 'attestation.pinnedRootFingerprints': {e.Message}", e);
                    }
                }
            }

            if (attestation.MinimumFirmware is { } minimum)
            {
                try
                {
                    _ = ParseFirmware(minimum);
                }
                catch (FormatException e)
                {
                    throw new ConfigurationException($"{where}: 'attestation.minimumFirmware': {e.Message}", e);
                }
            }
        }

        if (Generate?.PinPolicy is { } pin && PinPolicyOf(pin) is null)
        {
            throw new ConfigurationException($"{where}: 'generate.pinPolicy' is always, once or never");
        }

        if (Generate?.TouchPolicy is { } touch && TouchPolicyOf(touch) is null)
        {
            throw new ConfigurationException($"{where}: 'generate.touchPolicy' is always, cached or never");
        }

        if (InsertTimeoutSeconds is < 0)
        {
            throw new ConfigurationException($"{where}: 'insertTimeoutSeconds' must not be negative");
        }

        var keyNames = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < (Keys?.Count ?? 0); i++)
        {
            var k = Keys![i] ?? throw new ConfigurationException($"{where}: keys[{i}] is null");
            if (string.IsNullOrWhiteSpace(k.Name) || !keyNames.Add(k.Name))
            {
                throw new ConfigurationException($"{where}: keys[{i}] needs a unique 'name'");
            }

            if (!YubiKeyKeyReference.TryParse(k.Uri, out var reference, out var error))
            {
                throw new ConfigurationException($"{where}: keys[{i}] ('{k.Name}'): {error}");
            }

            if (!serials.Contains(reference!.Serial))
            {
                throw new ConfigurationException($"{where}: keys[{i}] ('{k.Name}'): YubiKey serial {reference.Serial} is not among 'devices'");
            }
        }
    }
}

/// <summary>A YubiKey by serial, and its holder's name (what the operator is asked for).</summary>
internal sealed record YubiKeyDeviceConfiguration
{
    [JsonPropertyName("serial")]
    public uint? Serial { get; init; }

    [JsonPropertyName("holder")]
    public string? Holder { get; init; }
}

/// <summary>Where attestation roots come from, and what an attestation must show.</summary>
internal sealed record AttestationConfiguration
{
    /// <summary>A PEM file of root (and intermediate) certificates, brought to the machine like any other input.</summary>
    [JsonPropertyName("roots")]
    public string? Roots { get; init; }

    /// <summary>SHA-256 fingerprints the roots must have; "yubico" stands for Yubico's published ones.</summary>
    [JsonPropertyName("pinnedRootFingerprints")]
    public List<string>? PinnedRootFingerprints { get; init; }

    [JsonPropertyName("requirePinAlways")]
    public bool? RequirePinAlways { get; init; }

    [JsonPropertyName("requireTouchAlways")]
    public bool? RequireTouchAlways { get; init; }

    [JsonPropertyName("allowEucleakFirmware")]
    public bool? AllowEucleakFirmware { get; init; }

    [JsonPropertyName("minimumFirmware")]
    public string? MinimumFirmware { get; init; }
}

/// <summary>The PIN and touch policies of keys a YubiKey backend generates.</summary>
internal sealed record GenerateConfiguration
{
    [JsonPropertyName("pinPolicy")]
    public string? PinPolicy { get; init; }

    [JsonPropertyName("touchPolicy")]
    public string? TouchPolicy { get; init; }
}

/// <summary>
/// <c>pkcs11</c>: <c>loginIdleSeconds</c> (how long a kept login lives without a call; 0 logs in for every call,
/// default 300) and <c>sessions</c> (sessions lent to concurrent calls under the kept login; default one per core, at
/// least 2).
/// </summary>
internal sealed record Pkcs11SectionConfiguration
{
    public const int MaxSessions = 64;

    [JsonPropertyName("loginIdleSeconds")]
    public int? LoginIdleSeconds { get; init; }

    [JsonPropertyName("sessions")]
    public int? Sessions { get; init; }

    public Pkcs11LoginOptions ToLoginOptions() => new(
        LoginIdleSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : Pkcs11LoginOptions.Default.IdleTimeout,
        Sessions ?? Pkcs11LoginOptions.Default.Sessions);

    public void Validate(string where)
    {
        if (LoginIdleSeconds is < 0)
        {
            throw new ConfigurationException($"{where}: 'pkcs11.loginIdleSeconds' must be 0 (log in for every call) or a number of seconds");
        }

        if (Sessions is < 1 or > MaxSessions)
        {
            throw new ConfigurationException($"{where}: 'pkcs11.sessions' must be between 1 and {MaxSessions}");
        }
    }
}

internal sealed record TokenConfiguration
{
    [JsonPropertyName("label")]
    public string? Label { get; init; }

    [JsonPropertyName("serial")]
    public string? Serial { get; init; }
}

/// <summary>Where the user PIN comes from: a file, or a systemd credential. Never the PIN itself.</summary>
internal sealed record PinConfiguration
{
    [JsonPropertyName("file")]
    public string? File { get; init; }

    [JsonPropertyName("credential")]
    public string? Credential { get; init; }

    public IPinSource ToPinSource() => File is not null ? new FilePinSource(File) : new SystemdCredentialPinSource(Credential!);

    public void Validate(string where)
    {
        if ((File is null) == (Credential is null))
        {
            throw new ConfigurationException($"{where}: 'pin' needs exactly one of 'file' or 'credential'");
        }

        if (File is not null && !Path.IsPathRooted(File))
        {
            throw new ConfigurationException($"{where}: 'pin.file' must be an absolute path");
        }

        if (Credential is not null && (Credential.Length == 0 || Credential.Contains('/', StringComparison.Ordinal)))
        {
            throw new ConfigurationException($"{where}: 'pin.credential' is a credential name (LoadCredential=NAME:...), without '/'");
        }
    }
}

internal sealed record PolicyConfiguration
{
    [JsonPropertyName("allowExtractable")]
    public bool AllowExtractable { get; init; }

    [JsonPropertyName("allowNotGeneratedOnToken")]
    public bool AllowNotGeneratedOnToken { get; init; }
}

internal sealed record KeyConfiguration
{
    [JsonPropertyName("name")]
    public string? Name { get; init; }

    [JsonPropertyName("uri")]
    public string? Uri { get; init; }
}

/// <summary>The configuration is unreadable or invalid.</summary>
internal sealed class ConfigurationException : Exception
{
    public ConfigurationException()
    {
    }

    public ConfigurationException(string message)
        : base(message)
    {
    }

    public ConfigurationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

[JsonSourceGenerationOptions(
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    AllowDuplicateProperties = false,
    ReadCommentHandling = JsonCommentHandling.Disallow)]
[JsonSerializable(typeof(DaemonConfiguration))]
internal sealed partial class DaemonConfigurationJson : JsonSerializerContext;
