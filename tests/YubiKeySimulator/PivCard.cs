using System.Buffers.Binary;
using System.Security.Cryptography;

namespace OfflineSigner.YubiKeySimulator;

/// <summary>One APDU the card answered, for logs and counts. PIN, PUK and management key data are never recorded.</summary>
public sealed record ApduRecord(DateTimeOffset At, byte Ins, byte P1, byte P2, string Command, ushort StatusWord, int ResponseLength, TimeSpan CardTime);

/// <summary>
/// The PIV application of a YubiKey 5 (firmware 5.4 behaviour by default, 5.7 behind <see cref="CardOptions.Firmware"/>):
/// the command set of ../shared/HARDWARE.md with real cryptography, PIN and PUK retry counters, management key
/// authentication, PIN and touch policies, attestation, and the framing Yubico's tools use (short and extended
/// APDUs, command chaining, 61 xx and GET RESPONSE). Thread-safe: one APDU at a time.
/// </summary>
public sealed partial class PivCard
{
    private const ushort Ok = 0x9000;
    private const ushort WrongLength = 0x6700;
    private const ushort SecurityStatus = 0x6982;
    private const ushort Blocked = 0x6983;
    private const ushort ConditionsNotSatisfied = 0x6985;
    private const ushort IncorrectData = 0x6A80;
    private const ushort FileNotFound = 0x6A82;
    private const ushort ReferenceNotFound = 0x6A88;
    private const ushort WrongP1P2 = 0x6B00;
    private const ushort InsNotSupported = 0x6D00;
    private const ushort ClassNotSupported = 0x6E00;

    private static readonly byte[] PivAid = [0xA0, 0x00, 0x00, 0x03, 0x08];

    private readonly Lock _gate = new();
    private readonly List<ApduRecord> _log = [];
    private readonly CardState _state;

    private bool _selected;
    private bool _pinVerified;
    private bool _managementAuthenticated;
    private byte[]? _witness;
    private DateTimeOffset _lastTouch = DateTimeOffset.MinValue;
    private byte[]? _pending;
    private (byte Ins, byte P1, byte P2)? _chainHeader;
    private MemoryStream? _chain;

    /// <summary>A card with the state in <see cref="CardOptions.StatePath"/> (or a factory-fresh one), attested by <paramref name="ca"/>.</summary>
    public PivCard(CardOptions options, SimulatorCa? ca)
    {
        Options = options ?? throw new ArgumentNullException(nameof(options));
        _state = (options.StatePath is { } path ? CardState.Load(path) : null) ?? Factory(options, ca);
        Save();
    }

    public CardOptions Options { get; }

    /// <summary>The answer to reset of a YubiKey 5 over USB.</summary>
    public static byte[] Atr { get; } = Convert.FromHexString("3BFD1300008131FE158073C021C057597562694B657940");

    /// <summary>The APDUs answered so far (GET RESPONSE and chained parts included).</summary>
    public IReadOnlyList<ApduRecord> Log
    {
        get
        {
            lock (_gate)
            {
                return [.. _log];
            }
        }
    }

    /// <summary>How many APDUs were answered.</summary>
    public int ApduCount
    {
        get
        {
            lock (_gate)
            {
                return _log.Count;
            }
        }
    }

    /// <summary>How many touches the card asked for.</summary>
    public int TouchRequests { get; private set; }

    /// <summary>Where APDU lines are appended (one per command), or null.</summary>
    public string? LogPath { get; set; }

    /// <summary>How the card answers touch requests; may change while the card runs.</summary>
    public TouchMode Touch { get; set; }

    /// <summary>Forgets the log (for counting one operation's APDUs).</summary>
    public void ClearLog()
    {
        lock (_gate)
        {
            _log.Clear();
        }
    }

    /// <summary>The PIN tries left (for tests that check the counter moved).</summary>
    public int PinRetriesRemaining
    {
        get
        {
            lock (_gate)
            {
                return _state.PinRemaining;
            }
        }
    }

    /// <summary>Power off, power on or reset: the card forgets its selection and every security status.</summary>
    public void PowerCycle()
    {
        lock (_gate)
        {
            ClearSecurityState();
            _selected = false;
        }
    }

    /// <summary>Answers one command APDU: the response data and SW1 SW2.</summary>
    public byte[] Process(ReadOnlySpan<byte> apdu)
    {
        lock (_gate)
        {
            var started = DateTimeOffset.UtcNow;
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var command = Parse(apdu);
            byte[] response;
            if (command is null)
            {
                response = Sw(WrongLength);
            }
            else
            {
                response = Answer(command.Value);
            }

            watch.Stop();
            var sw = (ushort)((response[^2] << 8) | response[^1]);
            var header = apdu.Length >= 4 ? (apdu[1], apdu[2], apdu[3]) : ((byte)0, (byte)0, (byte)0);
            var text = Describe(apdu);
            _log.Add(new ApduRecord(started, header.Item1, header.Item2, header.Item3, text, sw, response.Length - 2, watch.Elapsed));
            if (LogPath is { } path)
            {
                File.AppendAllText(path, $"{started:O} -> {text}\n{started:O} <- {response.Length - 2} bytes {sw:X4}\n");
            }

            return response;
        }
    }

    private static string Describe(ReadOnlySpan<byte> apdu)
    {
        // VERIFY, CHANGE REFERENCE, RESET RETRY, management key steps and key import carry secrets: header only.
        if (apdu.Length >= 4 && apdu[1] is 0x20 or 0x24 or 0x2C or 0xFE or 0xFF || (apdu.Length >= 4 && apdu[1] == 0x87 && apdu[3] == 0x9B))
        {
            return Convert.ToHexString(apdu[..4]) + " <data withheld>";
        }

        return apdu.Length > 64 ? Convert.ToHexString(apdu[..64]) + $"... ({apdu.Length} bytes)" : Convert.ToHexString(apdu);
    }

    private readonly record struct Command(byte Cla, byte Ins, byte P1, byte P2, byte[] Data, int Ne, bool Extended);

    /// <summary>ISO/IEC 7816-4 §5.1: cases 1, 2, 3 and 4 in short and extended form; null when the lengths do not add up.</summary>
    private static Command? Parse(ReadOnlySpan<byte> apdu)
    {
        if (apdu.Length < 4)
        {
            return null;
        }

        byte cla = apdu[0], ins = apdu[1], p1 = apdu[2], p2 = apdu[3];
        var body = apdu[4..];
        if (body.IsEmpty)
        {
            return new Command(cla, ins, p1, p2, [], 0, false);
        }

        if (body.Length == 1)
        {
            return new Command(cla, ins, p1, p2, [], body[0] == 0 ? 256 : body[0], false);
        }

        if (body[0] != 0)
        {
            var lc = body[0];
            if (body.Length == 1 + lc)
            {
                return new Command(cla, ins, p1, p2, body.Slice(1, lc).ToArray(), 0, false);
            }

            if (body.Length == 2 + lc)
            {
                return new Command(cla, ins, p1, p2, body.Slice(1, lc).ToArray(), body[^1] == 0 ? 256 : body[^1], false);
            }

            return null;
        }

        if (body.Length == 3)
        {
            var le = (body[1] << 8) | body[2];
            return new Command(cla, ins, p1, p2, [], le == 0 ? 65536 : le, true);
        }

        var elc = (body[1] << 8) | body[2];
        if (body.Length == 3 + elc)
        {
            return new Command(cla, ins, p1, p2, body.Slice(3, elc).ToArray(), 0, true);
        }

        if (body.Length == 5 + elc)
        {
            var le = (body[^2] << 8) | body[^1];
            return new Command(cla, ins, p1, p2, body.Slice(3, elc).ToArray(), le == 0 ? 65536 : le, true);
        }

        return null;
    }

    private byte[] Answer(Command command)
    {
        if (command.Ins == 0xC0)
        {
            return NextPart(command.Extended);
        }

        _pending = null;
        if ((command.Cla & ~0x10) != 0)
        {
            return Sw(ClassNotSupported);
        }

        // Command chaining: keep the parts until the last one (CLA without 0x10) arrives.
        if ((command.Cla & 0x10) != 0)
        {
            if (_chainHeader is { } header && header != (command.Ins, command.P1, command.P2))
            {
                ResetChain();
            }

            _chainHeader = (command.Ins, command.P1, command.P2);
            _chain ??= new MemoryStream();
            _chain.Write(command.Data);
            return Sw(Ok);
        }

        var data = command.Data;
        if (_chain is not null)
        {
            if (_chainHeader == (command.Ins, command.P1, command.P2))
            {
                _chain.Write(data);
                data = _chain.ToArray();
            }

            ResetChain();
        }

        var (body, sw) = Dispatch(command with { Data = data });
        return Frame(body, sw, command.Extended);
    }

    private void ResetChain()
    {
        if (_chain is not null)
        {
            CryptographicOperations.ZeroMemory(_chain.GetBuffer());
            _chain.Dispose();
        }

        _chain = null;
        _chainHeader = null;
    }

    /// <summary>A short command gets at most 256 bytes at once, the rest announced with 61 xx; an extended one gets it all.</summary>
    private byte[] Frame(byte[] body, ushort sw, bool extended)
    {
        var max = extended ? 65536 : 256;
        if (sw != Ok || body.Length <= max)
        {
            return [.. body, (byte)(sw >> 8), (byte)sw];
        }

        _pending = body[max..];
        // 61 00: 256 bytes or more remain; 61 xx: exactly xx remain.
        return [.. body.AsSpan(0, max), 0x61, _pending.Length >= 256 ? (byte)0 : (byte)_pending.Length];
    }

    private byte[] NextPart(bool extended)
    {
        if (_pending is null)
        {
            return Sw(ConditionsNotSatisfied);
        }

        var body = _pending;
        _pending = null;
        return Frame(body, Ok, extended);
    }

    private (byte[] Body, ushort Sw) Dispatch(Command c)
    {
        if (c.Ins == 0xA4)
        {
            return Select(c);
        }

        if (!_selected)
        {
            return ([], InsNotSupported);
        }

        return c.Ins switch
        {
            0xFD => ([Options.Firmware.Major, Options.Firmware.Minor, Options.Firmware.Patch], Ok),
            0xF8 when Options.Firmware.Major >= 5 => (SerialBytes(), Ok),
            0x20 => Verify(c),
            0x24 => ChangeReference(c),
            0x2C => ResetRetry(c),
            0x87 when c.P2 == 0x9B => AuthenticateManagement(c),
            0x87 => UsePrivateKey(c),
            0x47 => Generate(c),
            0xFE => Import(c),
            0xF9 => Attest(c),
            0xF7 when Options.HasMetadata => Metadata(c),
            0xCB => GetData(c),
            0xDB => PutData(c),
            0xFF => SetManagementKey(c),
            0xFA => SetPinRetries(c),
            0xFB => Reset(),
            _ => ([], InsNotSupported),
        };
    }

    private (byte[], ushort) Select(Command c)
    {
        if (c.P1 != 0x04 || c.Data.Length < PivAid.Length || !c.Data.AsSpan(0, PivAid.Length).SequenceEqual(PivAid))
        {
            // The management, OTP, OATH, FIDO and OpenPGP applications are not simulated; a failed SELECT keeps the current one.
            return ([], FileNotFound);
        }

        _selected = true;
        ClearSecurityState();

        // Application property template: AID (with version) and coexistent tag allocation authority.
        return (Convert.FromHexString("61114F0600001000010079074F05A000000308"), Ok);
    }

    private void ClearSecurityState()
    {
        _pinVerified = false;
        _managementAuthenticated = false;
        _witness = null;
        _pending = null;
        ResetChain();
    }

    private byte[] SerialBytes()
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, Options.Serial);
        return bytes;
    }

    private static byte[] Sw(ushort sw) => [(byte)(sw >> 8), (byte)sw];

    private void Save()
    {
        if (Options.StatePath is { } path)
        {
            _state.Save(path);
        }
    }

    private static CardState Factory(CardOptions options, SimulatorCa? ca)
    {
        var state = new CardState();
        if (options.Is57)
        {
            // 5.7 ships with an AES-192 management key of the same default value.
            state.ManagementAlgorithm = 0x0A;
        }

        if (ca is not null)
        {
            var (certificate, key) = ca.IssueDeviceAttestation(options.Serial);
            state.AttestationKey = key;
            state.Objects[0x5FFF01] = CertificateObject(certificate);
        }

        return state;
    }

    /// <summary>The content of a certificate object: 70 certificate, 71 00, FE 00.</summary>
    internal static byte[] CertificateObject(byte[] der) => [.. Tlv(0x70, der), .. Tlv(0x71, [0x00]), 0xFE, 0x00];

    internal static byte[] Tlv(int tag, ReadOnlySpan<byte> value)
    {
        var head = new List<byte>();
        if (tag > 0xFF)
        {
            head.Add((byte)(tag >> 8));
        }

        head.Add((byte)tag);
        switch (value.Length)
        {
            case < 0x80:
                head.Add((byte)value.Length);
                break;
            case <= 0xFF:
                head.Add(0x81);
                head.Add((byte)value.Length);
                break;
            default:
                head.Add(0x82);
                head.Add((byte)(value.Length >> 8));
                head.Add((byte)value.Length);
                break;
        }

        return [.. head, .. value];
    }

    /// <summary>The TLVs of <paramref name="data"/> by tag (first occurrence), or null when they do not parse.</summary>
    internal static Dictionary<int, byte[]>? Tlvs(ReadOnlySpan<byte> data)
    {
        var result = new Dictionary<int, byte[]>();
        var at = 0;
        while (at < data.Length)
        {
            if (at + 2 > data.Length)
            {
                return null;
            }

            int tag = data[at++];
            if ((tag & 0x1F) == 0x1F)
            {
                tag = (tag << 8) | data[at++];
            }

            if (at >= data.Length)
            {
                return null;
            }

            int length = data[at++];
            if (length > 0x80)
            {
                var count = length & 0x7F;
                if (count > 2 || at + count > data.Length)
                {
                    return null;
                }

                length = 0;
                for (var i = 0; i < count; i++)
                {
                    length = (length << 8) | data[at++];
                }
            }
            else if (length == 0x80)
            {
                return null;
            }

            if (at + length > data.Length)
            {
                return null;
            }

            result.TryAdd(tag, data.Slice(at, length).ToArray());
            at += length;
        }

        return result;
    }
}
