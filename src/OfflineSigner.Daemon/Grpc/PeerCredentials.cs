using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace OfflineSigner.Daemon.Grpc;

/// <summary>Who is at the other end of a connection, as the kernel reports it.</summary>
internal sealed record PeerCredentials(uint Uid, uint Gid, int Pid)
{
    /// <summary>Unknown gid (TCP connections only carry the owner's uid).</summary>
    public const uint NoGid = uint.MaxValue;

    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

    /// <summary>Reads SO_PEERCRED of a connected Unix domain socket (struct ucred: pid, uid, gid).</summary>
    public static PeerCredentials FromUnixSocket(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        Span<byte> ucred = stackalloc byte[12];
        var length = socket.GetRawSocketOption(SolSocket, SoPeerCred, ucred);
        if (length != 12)
        {
            throw new IOException($"SO_PEERCRED returned {length} bytes, expected 12");
        }

        return new PeerCredentials(
            BinaryPrimitives.ReadUInt32LittleEndian(ucred[4..8]),
            BinaryPrimitives.ReadUInt32LittleEndian(ucred[8..12]),
            BinaryPrimitives.ReadInt32LittleEndian(ucred[0..4]));
    }

    /// <summary>
    /// The owner of the client end of a loopback TCP connection, from /proc/net/tcp{,6}: the kernel lists each socket
    /// with its owner's uid. Null when the connection is not found (then the caller is refused).
    /// </summary>
    public static PeerCredentials? FromLoopbackTcp(IPEndPoint? remote, IPEndPoint? local)
    {
        if (remote is null || local is null || !IPAddress.IsLoopback(remote.Address))
        {
            return null;
        }

        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            if (!File.Exists(table))
            {
                continue;
            }

            foreach (var line in File.ReadLines(table).Skip(1))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length > 7 && PortOf(fields[1]) == remote.Port && PortOf(fields[2]) == local.Port
                    && uint.TryParse(fields[7], NumberStyles.None, CultureInfo.InvariantCulture, out var uid))
                {
                    return new PeerCredentials(uid, NoGid, 0);
                }
            }
        }

        return null;
    }

    private static int PortOf(string address)
    {
        var colon = address.LastIndexOf(':');
        return colon > 0 && int.TryParse(address.AsSpan(colon + 1), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var port) ? port : -1;
    }
}
