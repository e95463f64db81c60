namespace OfflineSigner.Daemon.Grpc;

/// <summary>Limits and the caller allow-list of the gRPC transport.</summary>
internal sealed record GrpcTransportOptions
{
    /// <summary>Largest request message accepted, checked on the 5-byte prefix before any allocation.</summary>
    public int MaxMessageBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>Calls running at once; more are refused with RESOURCE_EXHAUSTED (bounds memory and HSM load).</summary>
    public int MaxConcurrentCalls { get; init; } = 32;

    /// <summary>HTTP/2 streams one connection may open at once.</summary>
    public int MaxStreamsPerConnection { get; init; } = 16;

    /// <summary>Connections at once.</summary>
    public long MaxConnections { get; init; } = 64;

    /// <summary>Users allowed to call. Empty together with <see cref="AllowedGids"/>: only the daemon's own user.</summary>
    public IReadOnlyList<uint> AllowedUids { get; init; } = [];

    /// <summary>Groups allowed to call (primary or supplementary group of the calling process).</summary>
    public IReadOnlyList<uint> AllowedGids { get; init; } = [];

    /// <summary>The daemon's own uid.</summary>
    public uint DaemonUid { get; init; } = Native.Uid;

    /// <summary>Whether the caller may call at all.</summary>
    public bool Allows(PeerCredentials caller)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (AllowedUids.Count == 0 && AllowedGids.Count == 0)
        {
            return caller.Uid == DaemonUid;
        }

        if (AllowedUids.Contains(caller.Uid) || (caller.Gid != PeerCredentials.NoGid && AllowedGids.Contains(caller.Gid)))
        {
            return true;
        }

        return AllowedGids.Count > 0 && caller.Pid > 0 && SupplementaryGroups(caller.Pid).Any(AllowedGids.Contains);
    }

    /// <summary>The supplementary groups of a process, from /proc/PID/status (empty when it cannot be read).</summary>
    private static List<uint> SupplementaryGroups(int pid)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines($"/proc/{pid}/status");
        }
        catch (IOException)
        {
            return [];
        }
        catch (UnauthorizedAccessException)
        {
            return [];
        }

        var groups = lines.FirstOrDefault(l => l.StartsWith("Groups:", StringComparison.Ordinal));
        return groups is null
            ? []
            : groups["Groups:".Length..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)
                .Select(g => uint.TryParse(g, System.Globalization.CultureInfo.InvariantCulture, out var id) ? id : PeerCredentials.NoGid)
                .Where(g => g != PeerCredentials.NoGid)
                .ToList();
    }
}
