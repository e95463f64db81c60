using OfflineSigner.YubiKey.Piv.Commands;

namespace OfflineSigner.YubiKey.Piv;

internal sealed partial class PivSession
{
    /// <summary>Whether this device answers GET METADATA (firmware 5.3 and later).</summary>
    public bool HasMetadata => Version >= new FirmwareVersion(5, 3, 0);

    /// <summary>A slot's metadata, or null when the slot holds no key.</summary>
    public PivMetadata? GetMetadata(PivSlot slot) => GetMetadata(slot.Value);

    /// <summary>The PIN's metadata (default value, tries).</summary>
    public PivMetadata GetPinMetadata() =>
        GetMetadata(PivPinBytes.PinReference) ?? throw new YubiKeyException("the device returned no PIN metadata");

    private PivMetadata? GetMetadata(byte reference)
    {
        Require(new FirmwareVersion(5, 3, 0), "GET METADATA");
        var command = new GetMetadataCommand(reference);
        return command.Parse(Send(command.CreateCommandApdu()));
    }
}
