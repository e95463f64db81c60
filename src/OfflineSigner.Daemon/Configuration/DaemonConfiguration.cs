using System.Text.Json;
using System.Text.Json.Serialization;
using OfflineSigner.Pkcs11;
using OfflineSigner.Signing;

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

/// <summary>One PKCS#11 backend: a module, a token on it, its PIN source, and the keys used from it.</summary>
internal sealed record BackendConfiguration
{
    [JsonPropertyName("name")]
    public string? Name { get; init; }

    /// <summary>"pkcs11" (the only type so far).</summary>
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

    public TokenSelector Selector => new(Token?.Label, Token?.Serial);

    public KeyProtectionPolicy ProtectionPolicy =>
        new(Policy?.AllowExtractable ?? false, Policy?.AllowNotGeneratedOnToken ?? false);

    /// <summary>The options <see cref="Pkcs11Token.Open"/> takes.</summary>
    public Pkcs11TokenOptions ToTokenOptions() => new(Module!, Selector, Pin?.ToPinSource());

    public void Validate(string where)
    {
        if (string.IsNullOrWhiteSpace(Name))
        {
            throw new ConfigurationException($"{where}: 'name' is required");
        }

        where = $"{where} ('{Name}')";
        if (Type != "pkcs11")
        {
            throw new ConfigurationException($"{where}: 'type' must be \"pkcs11\"");
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
