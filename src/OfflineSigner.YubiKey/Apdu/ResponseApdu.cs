namespace OfflineSigner.YubiKey.Apdu;

/// <summary>A card's answer: the data (the parts of a chained response joined) and the final status word.</summary>
internal sealed class ResponseApdu(byte[] data, ushort statusWord)
{
    public byte[] Data { get; } = data;

    /// <summary>SW1 SW2 as one number, for example 0x9000.</summary>
    public ushort StatusWord { get; } = statusWord;

    public byte Sw1 => (byte)(StatusWord >> 8);

    public byte Sw2 => (byte)StatusWord;

    public bool IsSuccess => StatusWord == StatusWords.Success;
}
