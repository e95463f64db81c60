using System.Buffers.Binary;
using System.Net.Sockets;

namespace OfflineSigner.YubiKeySimulator;

/// <summary>
/// The card's side of vsmartcard's vpcd protocol: a TCP client to the port pcscd's vpcd driver listens on; every
/// message is a 2-byte big-endian length and a payload. A 1-byte payload is a control message (00 power off, 01 power
/// on, 02 reset: no reply; 04 get ATR: the ATR); anything longer is a command APDU, answered with the response APDU.
/// Closing the connection is removing the card; connecting again is inserting it.
/// </summary>
public sealed class VpcdLink : IDisposable
{
    private readonly PivCard _card;
    private readonly string _host;
    private readonly int _port;
    private readonly Lock _gate = new();
    private readonly ManualResetEventSlim _inserted = new(true);
    private readonly ManualResetEventSlim _connected = new(false);
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private TcpClient? _client;
    private Func<byte[], bool>? _removeOn;
    private DateTime _removedAt = DateTime.MinValue;

    /// <summary>
    /// How long a removed card stays out at least. pcscd polls a vpcd reader every 400 ms and must see the reader empty
    /// at least once, or it never notices the removal (and then not the insertion either); nobody reinserts a YubiKey
    /// faster than this anyway.
    /// </summary>
    public static TimeSpan MinimumAbsence { get; } = TimeSpan.FromSeconds(1);

    public VpcdLink(PivCard card, string host, int port)
    {
        _card = card ?? throw new ArgumentNullException(nameof(card));
        _host = host;
        _port = port;
        _thread = new Thread(Run) { IsBackground = true, Name = $"vpcd {host}:{port}" };
        _thread.Start();
    }

    /// <summary>Whether vpcd has taken the card (it sent at least one message on this connection).</summary>
    public bool IsConnected => _connected.IsSet;

    /// <summary>Waits until vpcd accepted the card.</summary>
    public bool WaitConnected(TimeSpan timeout) => _connected.Wait(timeout);

    /// <summary>Pulls the card out: the connection closes at once and stays closed until <see cref="Insert"/>.</summary>
    public void Remove()
    {
        _removedAt = DateTime.UtcNow;
        _inserted.Reset();
        Drop();
    }

    /// <summary>Puts the card back in.</summary>
    public void Insert()
    {
        var wait = _removedAt + MinimumAbsence - DateTime.UtcNow;
        if (wait > TimeSpan.Zero)
        {
            Thread.Sleep(wait);
        }

        _card.PowerCycle();
        _inserted.Set();
    }

    /// <summary>
    /// Pulls the card out when the next command APDU matching <paramref name="predicate"/> arrives, before answering it
    /// (removal in the middle of an operation). One shot.
    /// </summary>
    public void RemoveOn(Func<byte[], bool> predicate) => _removeOn = predicate;

    public void Dispose()
    {
        _stop.Cancel();
        _inserted.Set();
        Drop();
        _thread.Join(TimeSpan.FromSeconds(5));
        _stop.Dispose();
        _inserted.Dispose();
        _connected.Dispose();
    }

    private void Drop()
    {
        lock (_gate)
        {
            _client?.Dispose();
            _client = null;
        }

        _connected.Reset();
    }

    private void Run()
    {
        while (!_stop.IsCancellationRequested)
        {
            _inserted.Wait();
            if (_stop.IsCancellationRequested)
            {
                return;
            }

            TcpClient client;
            try
            {
                client = new TcpClient { NoDelay = true };
                client.Connect(_host, _port);
            }
            catch (SocketException)
            {
                // pcscd (and its vpcd listener) may not be up yet.
                Thread.Sleep(100);
                continue;
            }

            lock (_gate)
            {
                _client = client;
            }

            _card.PowerCycle();
            try
            {
                Serve(client);
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or InvalidOperationException)
            {
                // Removed, or vpcd went away: wait for the next insertion or connection.
            }
            finally
            {
                Drop();
                client.Dispose();
            }
        }
    }

    private void Serve(TcpClient client)
    {
        var stream = client.GetStream();
        var header = new byte[2];
        while (!_stop.IsCancellationRequested)
        {
            stream.ReadExactly(header);

            // The first message shows that vpcd accepted the connection (a connect alone only reaches its backlog).
            _connected.Set();

            // vpcd writes the length and the payload in two send() calls on a socket with Nagle's algorithm on: the
            // payload waits until the length is acknowledged, and a delayed ACK would cost 40 ms per message. Linux
            // acknowledges at once when TCP_QUICKACK is set after the read (it does not stay set).
            QuickAck(client.Client);
            var length = BinaryPrimitives.ReadUInt16BigEndian(header);
            var payload = new byte[length];
            stream.ReadExactly(payload);
            if (length == 1)
            {
                switch (payload[0])
                {
                    case 0x00 or 0x01 or 0x02:
                        _card.PowerCycle();
                        break;
                    case 0x04:
                        Send(stream, PivCard.Atr);
                        break;
                    default:
                        break;
                }

                continue;
            }

            if (_removeOn is { } predicate && predicate(payload))
            {
                _removeOn = null;
                Remove();
                return;
            }

            Send(stream, _card.Process(payload));
        }
    }

    private static void QuickAck(Socket socket)
    {
        if (OperatingSystem.IsLinux())
        {
            const int IpProtoTcp = 6;
            const int TcpQuickAck = 12;
            socket.SetRawSocketOption(IpProtoTcp, TcpQuickAck, [1, 0, 0, 0]);
        }
    }

    private static void Send(NetworkStream stream, byte[] message)
    {
        // Never a zero-length reply: vpcd reads that as "card removed".
        var frame = new byte[2 + message.Length];
        BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)message.Length);
        message.CopyTo(frame, 2);
        stream.Write(frame);
    }
}
