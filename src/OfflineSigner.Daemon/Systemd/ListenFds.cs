using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace OfflineSigner.Daemon.Systemd;

/// <summary>
/// One socket systemd passed to the daemon (socket activation): its descriptor, its name from LISTEN_FDNAMES
/// (FileDescriptorName=, by default the socket unit's name) and, once checked, the path it is bound to.
/// </summary>
internal sealed record InheritedSocket(int Fd, string Name)
{
    /// <summary>The bound path ("@name" for an abstract socket), or null before <see cref="ListenFds.Check"/>.</summary>
    public string? Path { get; init; }

    /// <summary>
    /// Wraps the descriptor in a <see cref="Socket"/> that owns it (disposing the socket closes the descriptor).
    /// Take each descriptor once, and not at all when it is handed to something else that owns it (Kestrel's
    /// ListenHandle does).
    /// </summary>
    public Socket Adopt() => new(new SafeSocketHandle(Fd, ownsHandle: true));
}

/// <summary>
/// Socket activation: LISTEN_PID must name this process, LISTEN_FDS counts the sockets (starting at fd 3), and
/// LISTEN_FDNAMES names them, colon-separated. The variables are unset after reading so that children do not
/// inherit them, and each passed descriptor must be a listening AF_UNIX stream socket (ListenStream= with a path).
/// Malformed values throw <see cref="FormatException"/> naming the variable.
/// </summary>
internal static partial class ListenFds
{
    /// <summary>The first passed descriptor (SD_LISTEN_FDS_START).</summary>
    public const int First = 3;

    /// <summary>More sockets than any unit of ours passes; a larger count is a broken environment.</summary>
    public const int MaxCount = 64;

    private const int AfUnix = 1;
    private const int SockStream = 1;
    private const int SockDgram = 2;
    private const int SockSeqpacket = 5;
    private const int SolSocket = 1;
    private const int SoType = 3;
    private const int SoAcceptConn = 30;
    private const int SoDomain = 39;
    private const int FGetFd = 1;
    private const int FSetFd = 2;
    private const int FdCloexec = 1;
    private const int Ebadf = 9;
    private const int Enotsock = 88;

    /// <summary>
    /// The sockets passed to this process (none when the variables are absent or meant for another process),
    /// each checked by <see cref="Check"/> and marked close-on-exec. Unsets the three variables in every case.
    /// </summary>
    public static IReadOnlyList<InheritedSocket> FromEnvironment()
    {
        try
        {
            var parsed = Parse(
                Environment.GetEnvironmentVariable("LISTEN_PID"),
                Environment.GetEnvironmentVariable("LISTEN_FDS"),
                Environment.GetEnvironmentVariable("LISTEN_FDNAMES"),
                Environment.ProcessId);
            return [.. parsed.Select(Check)];
        }
        finally
        {
            Environment.SetEnvironmentVariable("LISTEN_PID", null);
            Environment.SetEnvironmentVariable("LISTEN_FDS", null);
            Environment.SetEnvironmentVariable("LISTEN_FDNAMES", null);
        }
    }

    /// <summary>Reads the three variables; throws <see cref="FormatException"/> naming a malformed one.</summary>
    public static IReadOnlyList<InheritedSocket> Parse(string? listenPid, string? listenFds, string? names, int ourPid)
    {
        if (string.IsNullOrEmpty(listenPid) || string.IsNullOrEmpty(listenFds))
        {
            return [];
        }

        if (!int.TryParse(listenPid, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid <= 0)
        {
            throw new FormatException($"LISTEN_PID '{listenPid}' is not a process id");
        }

        if (pid != ourPid)
        {
            // Meant for another process (a parent that did not unset them): not ours to take.
            return [];
        }

        if (!int.TryParse(listenFds, NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count > MaxCount)
        {
            throw new FormatException($"LISTEN_FDS '{listenFds}' is not a socket count from 0 to {MaxCount}");
        }

        var labels = string.IsNullOrEmpty(names) ? [] : names.Split(':');
        if (labels.Length != 0 && labels.Length != count)
        {
            throw new FormatException($"LISTEN_FDNAMES '{names}' names {labels.Length} socket(s) but LISTEN_FDS is {count}");
        }

        return [.. Enumerable.Range(0, count).Select(i => new InheritedSocket(First + i, labels.Length == 0 || labels[i].Length == 0 ? "unknown" : labels[i]))];
    }

    /// <summary>
    /// Checks that the descriptor is open and is a listening AF_UNIX stream socket, marks it close-on-exec, and
    /// returns it with its bound path. Throws <see cref="FormatException"/> naming LISTEN_FDS and the descriptor.
    /// The descriptor is only inspected, never closed or taken.
    /// </summary>
    public static InheritedSocket Check(InheritedSocket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        var where = $"LISTEN_FDS: fd {socket.Fd} ({socket.Name})";
        const string Needed = "offline-signerd needs a listening AF_UNIX stream socket (ListenStream=/path in the socket unit)";
        var flags = fcntl(socket.Fd, FGetFd, 0);
        if (flags < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new FormatException(errno == Ebadf ? $"{where} is not an open descriptor" : $"{where} cannot be inspected: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        var domain = SocketOption(socket.Fd, SoDomain, where, Needed);
        if (domain != AfUnix)
        {
            throw new FormatException($"{where} is a socket of address family {domain}, not AF_UNIX; {Needed}");
        }

        var type = SocketOption(socket.Fd, SoType, where, Needed);
        if (type != SockStream)
        {
            var kind = type switch { SockDgram => "a datagram socket", SockSeqpacket => "a seqpacket socket", _ => $"a socket of type {type}" };
            throw new FormatException($"{where} is {kind}, not a stream socket; {Needed}");
        }

        if (SocketOption(socket.Fd, SoAcceptConn, where, Needed) == 0)
        {
            throw new FormatException($"{where} is a stream socket that is not listening; {Needed}");
        }

        if ((flags & FdCloexec) == 0 && fcntl(socket.Fd, FSetFd, flags | FdCloexec) < 0)
        {
            throw new FormatException($"{where} cannot be marked close-on-exec: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }

        return socket with { Path = BoundPath(socket.Fd) };
    }

    private static int SocketOption(int fd, int option, string where, string needed)
    {
        var length = (uint)sizeof(int);
        if (getsockopt(fd, SolSocket, option, out var value, ref length) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new FormatException(errno == Enotsock ? $"{where} is not a socket; {needed}" : $"{where} cannot be inspected: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        return value;
    }

    /// <summary>The path of an AF_UNIX socket (sockaddr_un: a 2-byte family, then up to 108 path bytes), or null.</summary>
    private static unsafe string? BoundPath(int fd)
    {
        const int Size = 2 + 108;
        var buffer = stackalloc byte[Size];
        var length = (uint)Size;
        if (getsockname(fd, buffer, ref length) != 0 || length <= 2 || length > Size)
        {
            return null;
        }

        var path = new ReadOnlySpan<byte>(buffer + 2, (int)length - 2);
        if (path[0] == 0)
        {
            return "@" + Encoding.UTF8.GetString(path[1..]);
        }

        var end = path.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? path : path[..end]);
    }

    [LibraryImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    private static partial int getsockopt(int fd, int level, int option, out int value, ref uint length);

    [LibraryImport("libc", EntryPoint = "getsockname", SetLastError = true)]
    private static unsafe partial int getsockname(int fd, byte* address, ref uint length);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int fcntl(int fd, int command, int argument);
}
