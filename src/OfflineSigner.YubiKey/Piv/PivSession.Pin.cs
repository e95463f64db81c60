using OfflineSigner.YubiKey.Piv.Commands;

namespace OfflineSigner.YubiKey.Piv;

internal sealed partial class PivSession
{
    /// <summary>Verifies the PIN (6 to 8 bytes). The caller owns and wipes <paramref name="pin"/>.</summary>
    /// <exception cref="PivPinException">the PIN was rejected (tries left) or is blocked.</exception>
    public void VerifyPin(ReadOnlySpan<byte> pin)
    {
        using var command = new VerifyPinCommand(pin);
        VerifyPinCommand.Check(Send(command.CreateCommandApdu()));
    }

    /// <summary>The PIN tries left, or null when the PIN is verified in this session (VERIFY without data).</summary>
    public int? PinRetries() => VerifyPinCommand.ParseRetries(Send(new VerifyPinCommand().CreateCommandApdu()));

    /// <summary>Changes the PIN.</summary>
    public void ChangePin(ReadOnlySpan<byte> currentPin, ReadOnlySpan<byte> newPin) =>
        Change(ChangeReferenceCommand.ChangeReference, PivPinBytes.PinReference, currentPin, newPin);

    /// <summary>Changes the PUK.</summary>
    public void ChangePuk(ReadOnlySpan<byte> currentPuk, ReadOnlySpan<byte> newPuk) =>
        Change(ChangeReferenceCommand.ChangeReference, PivPinBytes.PukReference, currentPuk, newPuk);

    /// <summary>Unblocks the PIN with the PUK and sets a new PIN.</summary>
    public void UnblockPin(ReadOnlySpan<byte> puk, ReadOnlySpan<byte> newPin) =>
        Change(ChangeReferenceCommand.ResetRetry, PivPinBytes.PinReference, puk, newPin);

    private void Change(byte ins, byte reference, ReadOnlySpan<byte> current, ReadOnlySpan<byte> replacement)
    {
        using var command = new ChangeReferenceCommand(ins, reference, current, replacement);
        command.Check(Send(command.CreateCommandApdu()));
    }
}
