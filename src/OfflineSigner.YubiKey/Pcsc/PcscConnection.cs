using System.Security.Cryptography;
using OfflineSigner.YubiKey.Interop;

namespace OfflineSigner.YubiKey.Pcsc;

/// <summary>A T=1 connection to the card in one reader, through pcscd.</summary>
internal sealed unsafe class PcscConnection : ISmartCardConnection
{
    private readonly SafeCardHandle _card;

    internal PcscConnection(SafeCardHandle card, string readerName)
    {
        _card = card;
        ReaderName = readerName;
    }

    public string ReaderName { get; }

    /// <summary>
    /// Leave the card as it is on close instead of resetting it. The default reset clears the PIN and management key
    /// status this connection may have set, so that nothing verified outlives the session; a probe that only read the
    /// serial leaves the card alone.
    /// </summary>
    public void LeaveCardOnClose() => _card.Disposition = PcscLite.LeaveCard;

    public int Transmit(ReadOnlySpan<byte> command, Span<byte> response)
    {
        ObjectDisposedException.ThrowIf(_card.IsClosed, this);
        var length = (nuint)response.Length;
        uint code;
        fixed (byte* send = command)
        fixed (byte* receive = response)
        {
            code = PcscError.Code(PcscLite.SCardTransmit(_card.Value, PcscLite.T1Pci, send, (nuint)command.Length, null, receive, ref length));
        }

        if (code == PcscError.Success && length >= 2)
        {
            return (int)length;
        }

        if (code == PcscError.Success)
        {
            // Every response APDU carries SW1 SW2; a reader that hands back less lost the card mid-command (vpcd does
            // exactly this when its card goes away while answering).
            throw new YubiKeyRemovedException($"the card in reader '{ReaderName}' stopped answering in the middle of a command ({length} bytes instead of a response): it was removed");
        }

        // Nothing the card may have written is trusted after a failure.
        CryptographicOperations.ZeroMemory(response);
        if (PcscError.IsCardGone(code))
        {
            throw new YubiKeyRemovedException($"the card in reader '{ReaderName}' was removed or reset during the operation ({PcscError.NameOf(code)})");
        }

        throw new PcscException("SCardTransmit", code);
    }

    public IDisposable BeginTransaction()
    {
        ObjectDisposedException.ThrowIf(_card.IsClosed, this);
        var code = PcscError.Code(PcscLite.SCardBeginTransaction(_card.Value));
        if (PcscError.IsCardGone(code))
        {
            throw new YubiKeyRemovedException($"the card in reader '{ReaderName}' was removed or reset ({PcscError.NameOf(code)})");
        }

        PcscContext.ThrowIfFailed("SCardBeginTransaction", code);
        return new Transaction(this);
    }

    public void Dispose() => _card.Dispose();

    private void EndTransaction()
    {
        if (!_card.IsClosed)
        {
            // A failure here (card gone) leaves nothing to end; the next call reports the removal.
            _ = PcscLite.SCardEndTransaction(_card.Value, PcscLite.LeaveCard);
        }
    }

    private sealed class Transaction(PcscConnection connection) : IDisposable
    {
        private int _ended;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _ended, 1) == 0)
            {
                connection.EndTransaction();
            }
        }
    }
}
