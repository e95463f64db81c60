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

        if (code == PcscError.Success)
        {
            return (int)length;
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
