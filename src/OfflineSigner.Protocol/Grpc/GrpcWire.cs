using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace OfflineSigner.Protocol.Grpc;

/// <summary>
/// The pieces of the gRPC-over-HTTP/2 wire format shared by the daemon's server and the client
/// (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md): the 5-byte message prefix, the
/// grpc-timeout header and the percent-encoded grpc-message trailer.
/// </summary>
public static class GrpcWire
{
    /// <summary>The content type of every gRPC request and response.</summary>
    public const string ContentType = "application/grpc";

    /// <summary>Length of the prefix before each message: a compressed flag and a 4-byte big-endian length.</summary>
    public const int PrefixLength = 5;

    /// <summary>Writes the prefix of an uncompressed message of <paramref name="length"/> bytes.</summary>
    public static void WritePrefix(Span<byte> destination, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        destination[0] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(destination[1..PrefixLength], (uint)length);
    }

    /// <summary>Reads a prefix: whether the message is compressed and its announced length (up to 4 GiB - 1).</summary>
    public static (bool Compressed, uint Length) ReadPrefix(ReadOnlySpan<byte> prefix)
    {
        var flag = prefix[0];
        if (flag > 1)
        {
            throw new FormatException($"message prefix has compressed flag {flag}; only 0 and 1 are defined");
        }

        return (flag == 1, BinaryPrimitives.ReadUInt32BigEndian(prefix[1..PrefixLength]));
    }

    /// <summary>
    /// Formats a timeout for the grpc-timeout header: at most 8 digits, in the finest unit that fits, rounded up
    /// so that the server never sees less time than the client allows.
    /// </summary>
    public static string FormatTimeout(TimeSpan timeout)
    {
        var ticks = Math.Max(0, timeout.Ticks);
        var micros = (ticks + 9) / 10;
        if (micros < 100_000_000)
        {
            return micros.ToString(CultureInfo.InvariantCulture) + "u";
        }

        var millis = (micros + 999) / 1000;
        if (millis < 100_000_000)
        {
            return millis.ToString(CultureInfo.InvariantCulture) + "m";
        }

        var seconds = (millis + 999) / 1000;
        if (seconds < 100_000_000)
        {
            return seconds.ToString(CultureInfo.InvariantCulture) + "S";
        }

        return Math.Min(99_999_999, (seconds + 3599) / 3600).ToString(CultureInfo.InvariantCulture) + "H";
    }

    /// <summary>Parses a grpc-timeout header value (1 to 8 ASCII digits and a unit H, M, S, m, u or n).</summary>
    public static bool TryParseTimeout(string? value, out TimeSpan timeout)
    {
        timeout = default;
        if (value is null || value.Length < 2 || value.Length > 9)
        {
            return false;
        }

        long amount = 0;
        foreach (var c in value.AsSpan(0, value.Length - 1))
        {
            if (c is < '0' or > '9')
            {
                return false;
            }

            amount = (amount * 10) + (c - '0');
        }

        long? ticks = value[^1] switch
        {
            'H' => amount * TimeSpan.TicksPerHour,
            'M' => amount * TimeSpan.TicksPerMinute,
            'S' => amount * TimeSpan.TicksPerSecond,
            'm' => amount * TimeSpan.TicksPerMillisecond,
            'u' => amount * 10,
            'n' => (amount + 99) / 100,
            _ => null,
        };
        if (ticks is not { } t)
        {
            return false;
        }

        timeout = TimeSpan.FromTicks(t);
        return true;
    }

    /// <summary>Percent-encodes a status message for the grpc-message trailer (UTF-8; bytes outside 0x20-0x7E and '%' escaped).</summary>
    public static string EncodeMessage(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var bytes = Encoding.UTF8.GetBytes(message);
        var builder = new StringBuilder(bytes.Length);
        foreach (var b in bytes)
        {
            if (b is >= 0x20 and <= 0x7E && b != (byte)'%')
            {
                builder.Append((char)b);
            }
            else
            {
                builder.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }

    /// <summary>Decodes a grpc-message trailer; malformed escapes are kept as they are, as the protocol asks.</summary>
    public static string DecodeMessage(string? encoded)
    {
        if (string.IsNullOrEmpty(encoded))
        {
            return string.Empty;
        }

        var bytes = new List<byte>(encoded.Length);
        for (var i = 0; i < encoded.Length; i++)
        {
            var c = encoded[i];
            if (c == '%' && i + 2 < encoded.Length
                && byte.TryParse(encoded.AsSpan(i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var b))
            {
                bytes.Add(b);
                i += 2;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(c.ToString()));
            }
        }

        return Encoding.UTF8.GetString(bytes.ToArray());
    }
}
