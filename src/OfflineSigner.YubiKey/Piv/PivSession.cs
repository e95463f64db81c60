using OfflineSigner.YubiKey.Apdu;
using OfflineSigner.YubiKey.Pcsc;
using OfflineSigner.YubiKey.Piv.Commands;

namespace OfflineSigner.YubiKey.Piv;

/// <summary>
/// The PIV application of one card, selected. Split by feature (Pin, Management, KeyPairs, Crypto, Certificates,
/// Attestation, Metadata); every method sends the commands in <see cref="Commands"/> and nothing else. Not thread-safe:
/// a card does one thing at a time, and the backend above serializes its callers.
/// </summary>
internal sealed partial class PivSession : IDisposable
{
    private readonly ApduChannel _channel;
    private readonly bool _ownsConnection;

    private PivSession(ApduChannel channel, bool ownsConnection, FirmwareVersion version, uint? serial)
    {
        _channel = channel;
        _ownsConnection = ownsConnection;
        Version = version;
        Serial = serial;
    }

    /// <summary>The firmware version (GET VERSION).</summary>
    public FirmwareVersion Version { get; }

    /// <summary>The device serial (GET SERIAL, firmware 5 and later), or null on older devices.</summary>
    public uint? Serial { get; }

    /// <summary>The reader the device is in.</summary>
    public string ReaderName => _channel.Connection.ReaderName;

    /// <summary>APDUs sent since the session was opened (for the efficiency targets).</summary>
    public long ApdusSent => _channel.ApdusSent;

    /// <summary>Time spent waiting for the card, reader and pcscd since the session was opened.</summary>
    public TimeSpan TransmitTime => _channel.TransmitTime;

    /// <summary>
    /// SELECTs PIV and reads the version and serial, in one transaction. From firmware 4 on, later commands go as
    /// extended APDUs (one command for any RSA input, one response for any certificate).
    /// </summary>
    public static PivSession Open(ISmartCardConnection connection, bool ownsConnection = true)
    {
        ArgumentNullException.ThrowIfNull(connection);
        try
        {
            var channel = new ApduChannel(connection);
            using (connection.BeginTransaction())
            {
                SelectPivCommand.Check(channel.Send(SelectPivCommand.CreateCommandApdu()));
                var version = GetVersionCommand.Parse(channel.Send(GetVersionCommand.CreateCommandApdu()));
                channel.Extended = version.Major >= 4;
                uint? serial = version.Major >= 5 ? GetSerialCommand.Parse(channel.Send(GetSerialCommand.CreateCommandApdu())) : null;
                return new PivSession(channel, ownsConnection, version, serial);
            }
        }
        catch
        {
            if (ownsConnection)
            {
                connection.Dispose();
            }

            throw;
        }
    }

    /// <summary>Exclusive use of the card for several commands (SCardBeginTransaction); dispose to end it.</summary>
    public IDisposable BeginTransaction() => _channel.Connection.BeginTransaction();

    public void Dispose()
    {
        if (_ownsConnection)
        {
            _channel.Connection.Dispose();
        }
    }

    private ResponseApdu Send(CommandApdu command) => _channel.Send(command);

    private void Require(FirmwareVersion minimum, string feature)
    {
        if (Version < minimum)
        {
            throw new YubiKeyException($"{feature} needs firmware {minimum} or later; this device runs {Version}");
        }
    }
}
