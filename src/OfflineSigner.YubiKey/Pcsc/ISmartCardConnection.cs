namespace OfflineSigner.YubiKey.Pcsc;

/// <summary>
/// A connection to one card that exchanges raw APDUs. The PC/SC implementation is <see cref="PcscConnection"/>;
/// tests put an in-memory card behind it.
/// </summary>
internal interface ISmartCardConnection : IDisposable
{
    /// <summary>The reader the card is in.</summary>
    string ReaderName { get; }

    /// <summary>
    /// Sends one command APDU and writes the response (data and SW1 SW2) to <paramref name="response"/>; returns its length.
    /// </summary>
    /// <exception cref="YubiKeyRemovedException">the card was removed or reset.</exception>
    /// <exception cref="PcscException">any other PC/SC failure.</exception>
    int Transmit(ReadOnlySpan<byte> command, Span<byte> response);

    /// <summary>Starts a transaction (exclusive access for several APDUs); disposing the result ends it.</summary>
    IDisposable BeginTransaction();
}
