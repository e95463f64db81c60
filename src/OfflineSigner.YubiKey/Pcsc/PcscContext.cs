using System.Text;
using OfflineSigner.YubiKey.Interop;

namespace OfflineSigner.YubiKey.Pcsc;

/// <summary>
/// A PC/SC resource manager context (pcscd): lists readers, connects to cards, waits for insertion. Used from one
/// thread at a time.
/// </summary>
internal sealed unsafe class PcscContext : IDisposable
{
    private readonly SafeCardContextHandle _handle;

    private PcscContext(SafeCardContextHandle handle)
    {
        _handle = handle;
    }

    /// <summary>Establishes a context with the system's (or $PCSCLITE_CSOCK_NAME's) pcscd.</summary>
    /// <exception cref="PcscException">pcsc-lite is not installed or pcscd does not answer.</exception>
    public static PcscContext Establish()
    {
        nint rv;
        nint raw;
        try
        {
            rv = PcscLite.SCardEstablishContext(PcscLite.ScopeSystem, 0, 0, out raw);
        }
        catch (DllNotFoundException e)
        {
            throw new PcscException($"{PcscLite.Library} cannot be loaded (Debian package libpcsclite1): {e.Message}", e);
        }

        var code = PcscError.Code(rv);
        if (code != PcscError.Success)
        {
            throw new PcscException("SCardEstablishContext", code, PcscError.IsNoService(code) ? "pcscd is not running or not reachable" : null);
        }

        var handle = new SafeCardContextHandle(raw);
        if (handle.IsInvalid)
        {
            handle.Dispose();
            throw new PcscException("SCardEstablishContext", PcscError.InvalidHandle, "pcsc-lite returned no context");
        }

        return new PcscContext(handle);
    }

    /// <summary>The names of the readers pcscd knows; empty when there are none.</summary>
    public IReadOnlyList<string> ListReaders()
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        for (var attempt = 0; ; attempt++)
        {
            nuint length = 0;
            var code = PcscError.Code(PcscLite.SCardListReaders(_handle.Value, null, null, ref length));
            if (code == PcscError.NoReadersAvailable)
            {
                return [];
            }

            ThrowIfFailed("SCardListReaders", code);
            var buffer = new byte[(int)length];
            fixed (byte* p = buffer)
            {
                code = PcscError.Code(PcscLite.SCardListReaders(_handle.Value, null, p, ref length));
            }

            if (code == PcscError.NoReadersAvailable)
            {
                return [];
            }

            // A reader that appears between the two calls makes the buffer too small: ask again.
            if (code == PcscError.InsufficientBuffer && attempt < 3)
            {
                continue;
            }

            ThrowIfFailed("SCardListReaders", code);
            return ParseMultiString(buffer.AsSpan(0, Math.Min((int)length, buffer.Length)));
        }
    }

    /// <summary>
    /// Connects to the card in <paramref name="reader"/> with T=1. <paramref name="exclusive"/> keeps every other program
    /// off the card until the connection is closed.
    /// </summary>
    /// <exception cref="YubiKeyNotPresentException">the reader holds no card.</exception>
    /// <exception cref="PcscException">the card is in exclusive use by another program, or another PC/SC failure.</exception>
    public PcscConnection Connect(string reader, bool exclusive)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        var handle = new SafeCardHandle(_handle);
        try
        {
            var name = NullTerminated(reader);
            nint card;
            uint code;
            fixed (byte* p = name)
            {
                code = PcscError.Code(PcscLite.SCardConnect(_handle.Value, p, exclusive ? PcscLite.ShareExclusive : PcscLite.ShareShared, PcscLite.ProtocolT1, out card, out _));
            }

            if (code is PcscError.NoSmartCard or PcscError.RemovedCard)
            {
                throw new YubiKeyNotPresentException($"there is no card in reader '{reader}'");
            }

            if (code == PcscError.SharingViolation)
            {
                throw new PcscException("SCardConnect", code, $"another program is using the card in reader '{reader}'; close it and try again");
            }

            ThrowIfFailed("SCardConnect", code);
            handle.Set(card);
            return new PcscConnection(handle, reader);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Waits up to <paramref name="timeout"/> for a change in any of <paramref name="readers"/> or in the reader list.
    /// Returns false on timeout.
    /// </summary>
    public bool WaitForChange(IReadOnlyList<string> readers, TimeSpan timeout)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        var names = new List<byte[]>(readers.Count + 1) { NullTerminated(PcscLite.PnpNotification) };
        names.AddRange(readers.Select(NullTerminated));
        var states = new ScardReaderState[names.Count];
        var pins = names.Select(n => System.Runtime.InteropServices.GCHandle.Alloc(n, System.Runtime.InteropServices.GCHandleType.Pinned)).ToList();
        try
        {
            for (var i = 0; i < states.Length; i++)
            {
                states[i].Reader = pins[i].AddrOfPinnedObject();
                states[i].CurrentState = (nuint)ReaderStates.Unaware;
            }

            fixed (ScardReaderState* p = states)
            {
                // The first call reports the current state of each reader; the second waits for a change from it.
                var code = PcscError.Code(PcscLite.SCardGetStatusChange(_handle.Value, 0, p, (nuint)states.Length));
                if (code is not (PcscError.Success or PcscError.Timeout))
                {
                    ThrowIfFailed("SCardGetStatusChange", code);
                }

                for (var i = 0; i < states.Length; i++)
                {
                    states[i].CurrentState = states[i].EventState & ~(nuint)ReaderStates.Changed;
                }

                code = PcscError.Code(PcscLite.SCardGetStatusChange(_handle.Value, (nuint)Math.Max(0, (long)timeout.TotalMilliseconds), p, (nuint)states.Length));
                if (code == PcscError.Timeout)
                {
                    return false;
                }

                ThrowIfFailed("SCardGetStatusChange", code);
                return true;
            }
        }
        finally
        {
            foreach (var pin in pins)
            {
                pin.Free();
            }
        }
    }

    public void Dispose() => _handle.Dispose();

    internal static void ThrowIfFailed(string function, uint code)
    {
        if (code != PcscError.Success)
        {
            throw new PcscException(function, code, PcscError.IsNoService(code) ? "pcscd is not running or not reachable" : null);
        }
    }

    internal static List<string> ParseMultiString(ReadOnlySpan<byte> buffer)
    {
        var result = new List<string>();
        while (!buffer.IsEmpty)
        {
            var end = buffer.IndexOf((byte)0);
            if (end <= 0)
            {
                break;
            }

            result.Add(Encoding.UTF8.GetString(buffer[..end]));
            buffer = buffer[(end + 1)..];
        }

        return result;
    }

    private static byte[] NullTerminated(string value)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(value) + 1];
        Encoding.UTF8.GetBytes(value, bytes);
        return bytes;
    }
}
