using System.Globalization;

namespace OfflineSigner.Daemon.Systemd;

/// <summary>One socket systemd passed to the daemon (socket activation).</summary>
internal sealed record InheritedSocket(int Fd, string Name);

/// <summary>
/// Socket activation: LISTEN_PID must name this process, LISTEN_FDS counts the sockets (starting at fd 3), and
/// LISTEN_FDNAMES names them. The variables are unset after reading so that children do not inherit them.
/// </summary>
internal static class ListenFds
{
    public const int First = 3;

    /// <summary>The sockets passed to this process, or none.</summary>
    public static IReadOnlyList<InheritedSocket> FromEnvironment()
    {
        var result = Parse(
            Environment.GetEnvironmentVariable("LISTEN_PID"),
            Environment.GetEnvironmentVariable("LISTEN_FDS"),
            Environment.GetEnvironmentVariable("LISTEN_FDNAMES"),
            Environment.ProcessId);
        Environment.SetEnvironmentVariable("LISTEN_PID", null);
        Environment.SetEnvironmentVariable("LISTEN_FDS", null);
        Environment.SetEnvironmentVariable("LISTEN_FDNAMES", null);
        return result;
    }

    /// <summary>Reads the three variables; throws <see cref="FormatException"/> naming a malformed one.</summary>
    public static IReadOnlyList<InheritedSocket> Parse(string? listenPid, string? listenFds, string? names, int ourPid)
    {
        if (string.IsNullOrEmpty(listenPid) || string.IsNullOrEmpty(listenFds))
        {
            return [];
        }

        if (!int.TryParse(listenPid, NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
        {
            throw new FormatException($"LISTEN_PID '{listenPid}' is not a process id");
        }

        if (pid != ourPid)
        {
            // Meant for another process (a parent that did not unset them): not ours to take.
            return [];
        }

        if (!int.TryParse(listenFds, NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count < 0 || count > 64)
        {
            throw new FormatException($"LISTEN_FDS '{listenFds}' is not a socket count from 0 to 64");
        }

        var labels = string.IsNullOrEmpty(names) ? [] : names.Split(':');
        if (labels.Length != 0 && labels.Length != count)
        {
            throw new FormatException($"LISTEN_FDNAMES names {labels.Length} sockets but LISTEN_FDS is {count}");
        }

        return [.. Enumerable.Range(0, count).Select(i => new InheritedSocket(First + i, labels.Length == 0 ? "unknown" : labels[i]))];
    }
}
