using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace OfflineSigner.Audit;

/// <summary>
/// Which build is running: the version and commit compiled into the program, and the SHA-256 of the release manifest
/// installed beside it (scripts/release.sh writes <c>release-manifest.json</c> into the programs' folder; it lists
/// the SHA-256 of every installed file). Both programs print it for <c>--version</c>, and the daemon records it in
/// the audit log when it starts, so a ceremony transcript names exactly which build signed.
/// </summary>
public sealed record BuildIdentity(string Program, string Version, string? Commit, string ManifestPath, string? ManifestSha256, string? ManifestProblem)
{
    /// <summary>The file name of the release manifest, beside the programs.</summary>
    public const string ManifestFileName = "release-manifest.json";

    /// <summary>The identity of the running program, <paramref name="assembly"/> installed in <see cref="AppContext.BaseDirectory"/>.</summary>
    public static BuildIdentity Current(string program, Assembly assembly) => Of(program, assembly, AppContext.BaseDirectory);

    /// <summary>The identity of <paramref name="assembly"/>, with the release manifest looked for in <paramref name="directory"/>.</summary>
    public static BuildIdentity Of(string program, Assembly assembly, string directory)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        var informational = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? assembly.GetName().Version?.ToString() ?? "unknown";
        var plus = informational.IndexOf('+', StringComparison.Ordinal);
        var version = plus < 0 ? informational : informational[..plus];
        var commit = plus < 0 ? null : informational[(plus + 1)..];

        var path = Path.Combine(directory, ManifestFileName);
        string? digest = null;
        string? problem = null;
        try
        {
            var bytes = File.ReadAllBytes(path);
            digest = Convert.ToHexStringLower(SHA256.HashData(bytes));
            problem = CheckManifest(bytes, version, commit);
        }
        catch (FileNotFoundException)
        {
            problem = "absent (not an installed release)";
        }
        catch (DirectoryNotFoundException)
        {
            problem = "absent (not an installed release)";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problem = "unreadable: " + e.Message;
        }

        return new BuildIdentity(program, version, commit, path, digest, problem);
    }

    /// <summary>The lines <c>--version</c> prints.</summary>
    public string VersionText()
    {
        var text = new StringBuilder();
        text.Append(Program).Append(' ').Append(Version).Append('\n');
        text.Append("commit ").Append(Commit ?? "unknown").Append('\n');
        text.Append("release manifest ");
        if (ManifestSha256 is not null)
        {
            text.Append("sha256:").Append(ManifestSha256).Append(' ').Append(ManifestPath);
        }
        else
        {
            text.Append(ManifestPath).Append(": ").Append(ManifestProblem);
        }

        text.Append('\n');
        if (ManifestSha256 is not null && ManifestProblem is not null)
        {
            text.Append("warning: release manifest ").Append(ManifestProblem).Append('\n');
        }

        return text.ToString();
    }

    /// <summary>One line for the audit log's <c>daemon_started</c> entry.</summary>
    public string AuditDetail() =>
        $"version {Version}; commit {Commit ?? "unknown"}; release manifest "
        + (ManifestSha256 is not null ? "sha256 " + ManifestSha256 + (ManifestProblem is null ? string.Empty : " (" + ManifestProblem + ")") : ManifestProblem);

    /// <summary>Null when the manifest names this build; otherwise what differs.</summary>
    private static string? CheckManifest(byte[] bytes, string version, string? commit)
    {
        try
        {
            using var doc = JsonDocument.Parse(bytes);
            var root = doc.RootElement;
            var listedVersion = root.TryGetProperty("version", out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            var listedCommit = root.TryGetProperty("commit", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
            if (listedVersion != version)
            {
                return $"names version {listedVersion ?? "(none)"}, this program is {version}";
            }

            if (commit is not null && listedCommit != commit)
            {
                return $"names commit {listedCommit ?? "(none)"}, this program was built from {commit}";
            }

            return null;
        }
        catch (JsonException)
        {
            return "is not valid JSON";
        }
    }
}
