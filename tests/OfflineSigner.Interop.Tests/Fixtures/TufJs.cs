using System.Text.Json;
using OfflineSigner.Tests.Shared;

namespace OfflineSigner.Interop.Tests.Fixtures;

/// <summary>
/// tuf-js (npm), an independent TUF client: runs tests/peers/tufjs-refresh.mjs, which serves a repository folder on
/// 127.0.0.1 and refreshes from it with tuf-js's Updater. Skips the test when node or tuf-js is missing.
/// </summary>
internal static class TufJs
{
    /// <summary>
    /// Refreshes from <paramref name="repositoryDir"/> (metadata/ and targets/ as python-tuf lays them out),
    /// trusting <paramref name="trustedRoot"/> at first, then looks up and downloads <paramref name="targets"/>.
    /// With <paramref name="metadataDir"/> the client's cached state persists between calls (a cached root.json
    /// there wins over <paramref name="trustedRoot"/>), so a second call sees what a returning client sees.
    /// </summary>
    public static TufJsResult Refresh(
        string repositoryDir,
        string trustedRoot,
        IEnumerable<string>? targets = null,
        string? metadataDir = null,
        bool infoOnly = false)
    {
        var node = Peers.RequireTufJs();
        var args = new List<string> { Peers.Script("tufjs-refresh.mjs"), repositoryDir, trustedRoot };
        args.AddRange(targets ?? []);
        if (metadataDir is not null)
        {
            args.AddRange(["--metadata-dir", metadataDir]);
        }

        if (infoOnly)
        {
            args.Add("--info-only");
        }

        var result = ProcessRunner.Run(node, args, TimeSpan.FromMinutes(3), workingDirectory: Peers.Dir);
        if (result.ExitCode is not (0 or 1))
        {
            throw new PeerToolException("tufjs-refresh.mjs could not run\n" + result);
        }

        try
        {
            return Parse(result);
        }
        catch (JsonException e)
        {
            throw new PeerToolException("tufjs-refresh.mjs wrote no JSON result\n" + result, e);
        }
    }

    private static TufJsResult Parse(ProcessResult result)
    {
        using var doc = JsonDocument.Parse(result.StdOut);
        var root = doc.RootElement;
        var ok = root.GetProperty("ok").GetBoolean();
        if (ok != (result.ExitCode == 0))
        {
            throw new PeerToolException("tufjs-refresh.mjs exit code and result disagree\n" + result);
        }

        static int? Version(JsonElement e, string name) =>
            e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : null;

        var targets = new List<TufJsTarget>();
        if (root.TryGetProperty("targets", out var t))
        {
            foreach (var item in t.EnumerateArray())
            {
                var hashes = item.GetProperty("hashes").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
                targets.Add(new TufJsTarget(
                    item.GetProperty("path").GetString()!,
                    item.GetProperty("length").GetInt64(),
                    hashes,
                    item.GetProperty("sha256").ValueKind == JsonValueKind.String ? item.GetProperty("sha256").GetString() : null));
            }
        }

        return new TufJsResult(
            ok,
            root.TryGetProperty("error", out var err) ? err.GetString() : null,
            Version(root, "root_version"),
            Version(root, "timestamp_version"),
            Version(root, "snapshot_version"),
            Version(root, "targets_version"),
            targets,
            [.. root.GetProperty("requests").EnumerateArray().Select(r => r.GetString()!)],
            result);
    }
}

/// <summary>The outcome of one tuf-js refresh. <see cref="Requests"/> lists "STATUS /path" for every HTTP request made.</summary>
internal sealed record TufJsResult(
    bool Ok,
    string? Error,
    int? RootVersion,
    int? TimestampVersion,
    int? SnapshotVersion,
    int? TargetsVersion,
    IReadOnlyList<TufJsTarget> Targets,
    IReadOnlyList<string> Requests,
    ProcessResult Process)
{
    public override string ToString() => Process.ToString();
}

/// <summary>A target tuf-js found (and, unless info only, downloaded and verified: <see cref="Sha256"/> of the file).</summary>
internal sealed record TufJsTarget(string Path, long Length, IReadOnlyDictionary<string, string> Hashes, string? Sha256);
