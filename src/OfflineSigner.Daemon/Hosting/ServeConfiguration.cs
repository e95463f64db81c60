using System.Text.Json;
using OfflineSigner.Daemon.Configuration;
using OfflineSigner.Daemon.Policy;
using OfflineSigner.Daemon.Services;

namespace OfflineSigner.Daemon.Hosting;

/// <summary>
/// The "daemon" section of the configuration file: where to listen, who may call, where the audit log is, the
/// message size limit and the signing policy. Every member is optional (defaults below); unknown members are errors.
/// </summary>
internal sealed record ServeConfiguration
{
    public string SocketPath { get; init; } = "/run/offline-signerd/offline-signerd.sock";

    public IReadOnlyList<uint> AllowedUids { get; init; } = [];

    public IReadOnlyList<uint> AllowedGids { get; init; } = [];

    public string AuditLogPath { get; init; } = "/var/lib/offline-signerd/audit.jsonl";

    public int MaxMessageBytes { get; init; } = 4 * 1024 * 1024;

    public SigningPolicyOptions Policy { get; init; } = new();

    /// <summary>Reads the section (absent: all defaults); throws <see cref="ConfigurationException"/> naming the member.</summary>
    public static ServeConfiguration From(JsonElement? section, string where)
    {
        if (section is not { } daemon)
        {
            return new ServeConfiguration();
        }

        Expect(daemon, JsonValueKind.Object, where + ".daemon");
        var result = new ServeConfiguration();
        foreach (var member in daemon.EnumerateObject())
        {
            var path = $"{where}.daemon.{member.Name}";
            result = member.Name switch
            {
                "socket" => result with { SocketPath = String(member.Value, path) },
                "allowedUids" => result with { AllowedUids = Ids(member.Value, path) },
                "allowedGids" => result with { AllowedGids = Ids(member.Value, path) },
                "auditLog" => result with { AuditLogPath = String(member.Value, path) },
                "maxMessageBytes" => result with { MaxMessageBytes = Positive(member.Value, path, 1024, 64 * 1024 * 1024) },
                "policy" => result with { Policy = ReadPolicy(member.Value, path) },
                _ => throw new ConfigurationException($"{path}: unknown member"),
            };
        }

        if (!Path.IsPathRooted(result.SocketPath) || !Path.IsPathRooted(result.AuditLogPath))
        {
            throw new ConfigurationException($"{where}.daemon: socket and auditLog must be absolute paths");
        }

        return result;
    }

    private static SigningPolicyOptions ReadPolicy(JsonElement element, string where)
    {
        Expect(element, JsonValueKind.Object, where);
        var policy = new SigningPolicyOptions();
        foreach (var member in element.EnumerateObject())
        {
            var path = $"{where}.{member.Name}";
            policy = member.Name switch
            {
                "maxExpiryDays" => policy with { MaxExpiry = Merge(policy.MaxExpiry, Days(member.Value, path)) },
                "delegatedMaxExpiryDays" => policy with { DefaultMaxExpiry = TimeSpan.FromDays(Positive(member.Value, path, 1, 36500)) },
                "rootCertificateValidityDays" => policy with { MaxCertificateValidity = TimeSpan.FromDays(Positive(member.Value, path, 1, 36500)) },
                "maxVersionBump" => policy with { MaxVersionBump = Map(member.Value, path, (v, p) => (long)Positive(v, p, 1, 1_000_000)) },
                "keyRoles" => policy with { KeyRoles = Map(member.Value, path, (v, p) => (IReadOnlyList<string>)Strings(v, p)).ToDictionary(kv => KeyDirectory.Normalize(kv.Key), kv => kv.Value, StringComparer.Ordinal) },
                _ => throw new ConfigurationException($"{path}: unknown member"),
            };
        }

        return policy;
    }

    private static Dictionary<string, TimeSpan> Merge(IReadOnlyDictionary<string, TimeSpan> defaults, Dictionary<string, TimeSpan> given)
    {
        var merged = new Dictionary<string, TimeSpan>(defaults, StringComparer.Ordinal);
        foreach (var (role, days) in given)
        {
            merged[role] = days;
        }

        return merged;
    }

    private static Dictionary<string, TimeSpan> Days(JsonElement element, string where) =>
        Map(element, where, (v, p) => TimeSpan.FromDays(Positive(v, p, 1, 36500)));

    private static Dictionary<string, T> Map<T>(JsonElement element, string where, Func<JsonElement, string, T> read)
    {
        Expect(element, JsonValueKind.Object, where);
        var map = new Dictionary<string, T>(StringComparer.Ordinal);
        foreach (var member in element.EnumerateObject())
        {
            if (!map.TryAdd(member.Name, read(member.Value, $"{where}.{member.Name}")))
            {
                throw new ConfigurationException($"{where}: '{member.Name}' appears twice");
            }
        }

        return map;
    }

    private static List<string> Strings(JsonElement element, string where)
    {
        Expect(element, JsonValueKind.Array, where);
        return element.EnumerateArray().Select((e, i) => String(e, $"{where}[{i}]")).ToList();
    }

    private static List<uint> Ids(JsonElement element, string where)
    {
        Expect(element, JsonValueKind.Array, where);
        return element.EnumerateArray().Select((e, i) => e.ValueKind == JsonValueKind.Number && e.TryGetUInt32(out var id)
            ? id
            : throw new ConfigurationException($"{where}[{i}] must be a numeric id")).ToList();
    }

    private static string String(JsonElement element, string where) =>
        element.ValueKind == JsonValueKind.String && element.GetString() is { Length: > 0 } s ? s : throw new ConfigurationException($"{where} must be a non-empty string");

    private static int Positive(JsonElement element, string where, int min, int max) =>
        element.ValueKind == JsonValueKind.Number && element.TryGetInt32(out var n) && n >= min && n <= max
            ? n
            : throw new ConfigurationException($"{where} must be an integer from {min} to {max}");

    private static void Expect(JsonElement element, JsonValueKind kind, string where)
    {
        if (element.ValueKind != kind)
        {
            throw new ConfigurationException($"{where} must be a JSON {kind.ToString().ToLowerInvariant()}");
        }
    }
}
