// VERIFY (§3.2.1), CHANGE REFERENCE DATA (§3.2.2) and RESET RETRY COUNTER (§3.2.3) for the PIV PIN (80) and PUK (81).
using System.Security.Cryptography;
using OfflineSigner.YubiKey.Apdu;

namespace OfflineSigner.YubiKey.Piv.Commands;

/// <summary>PIN and PUK values: 6 to 8 bytes, padded to 8 with FF on the wire.</summary>
internal static class PivPinBytes
{
    public const byte PinReference = 0x80;
    public const byte PukReference = 0x81;
    public const int PaddedLength = 8;

    /// <summary>Writes <paramref name="value"/> padded with FF into <paramref name="destination"/> (8 bytes).</summary>
    public static void WritePadded(ReadOnlySpan<byte> value, Span<byte> destination, string what)
    {
        if (value.Length is < 6 or > PaddedLength)
        {
            throw new ArgumentException($"a PIV {what} is 6 to 8 bytes, not {value.Length}");
        }

        destination[..PaddedLength].Fill(0xFF);
        value.CopyTo(destination);
    }

    public static string Name(byte reference) => reference == PukReference ? "PUK" : "PIN";
}

/// <summary>VERIFY: checks the PIN; without data it asks for the tries left (63 Cx) or whether it is verified (90 00).</summary>
internal sealed class VerifyPinCommand : IDisposable
{
    private readonly byte[]? _padded;

    /// <summary>A VERIFY carrying <paramref name="pin"/>. The command keeps a padded copy; <see cref="Dispose"/> wipes it.</summary>
    public VerifyPinCommand(ReadOnlySpan<byte> pin)
    {
        _padded = new byte[PivPinBytes.PaddedLength];
        PivPinBytes.WritePadded(pin, _padded, "PIN");
    }

    /// <summary>A VERIFY without data (reads the retry state).</summary>
    public VerifyPinCommand()
    {
    }

    public CommandApdu CreateCommandApdu() => _padded is null
        ? new CommandApdu(0x00, 0x20, 0x00, PivPinBytes.PinReference)
        : new CommandApdu(0x00, 0x20, 0x00, PivPinBytes.PinReference, _padded, sensitive: true);

    public void Dispose()
    {
        if (_padded is not null)
        {
            CryptographicOperations.ZeroMemory(_padded);
        }
    }

    /// <summary>For a VERIFY without data: null when the PIN is verified, else the tries left (0 when blocked).</summary>
    public static int? ParseRetries(ResponseApdu response)
    {
        if (response.IsSuccess)
        {
            return null;
        }

        if (StatusWords.IsVerifyFailed(response.StatusWord))
        {
            return response.Sw2 & 0x0F;
        }

        if (response.StatusWord == StatusWords.AuthenticationMethodBlocked)
        {
            return 0;
        }

        throw StatusWords.ToException(response.StatusWord, "VERIFY");
    }

    public static void Check(ResponseApdu response) => StatusWords.ThrowIfError(response, "VERIFY", "PIN");
}

/// <summary>CHANGE REFERENCE DATA (24) and RESET RETRY COUNTER (2C): two 8-byte padded values.</summary>
internal sealed class ChangeReferenceCommand : IDisposable
{
    public const byte ChangeReference = 0x24;
    public const byte ResetRetry = 0x2C;

    private readonly byte _ins;
    private readonly byte _reference;
    private readonly byte[] _data = new byte[2 * PivPinBytes.PaddedLength];

    /// <summary>
    /// CHANGE REFERENCE DATA for the PIN (80) or PUK (81): current value, new value. RESET RETRY COUNTER (for the PIN):
    /// the PUK, then the new PIN.
    /// </summary>
    public ChangeReferenceCommand(byte ins, byte reference, ReadOnlySpan<byte> current, ReadOnlySpan<byte> replacement)
    {
        if (ins is not (ChangeReference or ResetRetry) || reference is not (PivPinBytes.PinReference or PivPinBytes.PukReference))
        {
            throw new ArgumentException("CHANGE REFERENCE DATA or RESET RETRY COUNTER, for the PIN or PUK");
        }

        _ins = ins;
        _reference = reference;
        var firstName = ins == ResetRetry ? "PUK" : PivPinBytes.Name(reference);
        PivPinBytes.WritePadded(current, _data, firstName);
        PivPinBytes.WritePadded(replacement, _data.AsSpan(PivPinBytes.PaddedLength), ins == ResetRetry ? "PIN" : PivPinBytes.Name(reference));
    }

    public CommandApdu CreateCommandApdu() => new(0x00, _ins, 0x00, _reference, _data, sensitive: true);

    public void Dispose() => CryptographicOperations.ZeroMemory(_data);

    public void Check(ResponseApdu response) => StatusWords.ThrowIfError(
        response,
        _ins == ResetRetry ? "RESET RETRY COUNTER" : "CHANGE REFERENCE DATA",
        _ins == ResetRetry ? "PUK" : PivPinBytes.Name(_reference));
}
