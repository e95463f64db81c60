using System.Security.Cryptography;
using OfflineSigner.YubiKey.Pcsc;

namespace OfflineSigner.YubiKey.Apdu;

/// <summary>
/// Sends commands over a card connection: command chaining (ISO/IEC 7816-4 §5.1.1.1, CLA bit 0x10) when a short
/// command's data does not fit, and GET RESPONSE (00 C0) while the card answers 61 xx. Extended APDUs carry up to
/// 65535 bytes in one command and take the whole answer at once. Every APDU transmitted is counted.
/// </summary>
internal sealed class ApduChannel(ISmartCardConnection connection)
{
    private const byte ChainingBit = 0x10;
    private const byte GetResponseIns = 0xC0;
    private const int ReceiveBufferSize = 65536 + 2;

    private readonly byte[] _receive = new byte[ReceiveBufferSize];

    /// <summary>The connection underneath.</summary>
    public ISmartCardConnection Connection { get; } = connection;

    /// <summary>Whether commands are sent in extended form (YubiKeys from firmware 4 take them).</summary>
    public bool Extended { get; set; }

    /// <summary>How many APDUs have been transmitted, chained parts and GET RESPONSEs included.</summary>
    public long ApdusSent { get; private set; }

    /// <summary>Time spent waiting in <see cref="ISmartCardConnection.Transmit"/> (card, reader and pcscd), for the benchmark.</summary>
    public TimeSpan TransmitTime => TimeSpan.FromTicks(_transmitTicks * TimeSpan.TicksPerSecond / System.Diagnostics.Stopwatch.Frequency);

    private long _transmitTicks;

    /// <summary>Sends <paramref name="command"/> and returns the complete response.</summary>
    public ResponseApdu Send(CommandApdu command)
    {
        ArgumentNullException.ThrowIfNull(command);
        var maxData = Extended ? CommandApdu.MaxExtendedData : CommandApdu.MaxShortData;
        var data = command.Data;
        while (data.Length > maxData)
        {
            var part = Transmit(command.WithChunk((byte)(command.Cla | ChainingBit), data[..maxData], 0));
            if (!part.IsSuccess)
            {
                return part;
            }

            data = data[maxData..];
        }

        var last = data.Length == command.Data.Length ? command : command.WithChunk(command.Cla, data, command.Ne);
        var response = Transmit(last);
        if (response.Sw1 != 0x61)
        {
            return response;
        }

        var collected = new List<byte[]> { response.Data };
        while (response.Sw1 == 0x61)
        {
            var expect = response.Sw2 == 0 ? (Extended ? 65536 : 256) : response.Sw2;
            response = Transmit(new CommandApdu(0x00, GetResponseIns, 0x00, 0x00, default, expect));
            collected.Add(response.Data);
        }

        var joined = new byte[collected.Sum(c => c.Length)];
        var at = 0;
        foreach (var part in collected)
        {
            part.CopyTo(joined, at);
            at += part.Length;
        }

        return new ResponseApdu(joined, response.StatusWord);
    }

    private ResponseApdu Transmit(CommandApdu command)
    {
        var encoded = command.Encode(Extended);
        int length;
        try
        {
            ApdusSent++;
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            length = Connection.Transmit(encoded, _receive);
            _transmitTicks += System.Diagnostics.Stopwatch.GetTimestamp() - started;
        }
        finally
        {
            command.Wipe(encoded);
        }

        if (length < 2)
        {
            throw new ApduException($"the card answered {length} bytes, not a response APDU (at least SW1 SW2)");
        }

        var response = new ResponseApdu(_receive.AsSpan(0, length - 2).ToArray(), (ushort)((_receive[length - 2] << 8) | _receive[length - 1]));
        CryptographicOperations.ZeroMemory(_receive.AsSpan(0, length));
        return response;
    }
}
