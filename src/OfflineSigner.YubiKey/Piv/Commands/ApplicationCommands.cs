// SELECT (SP 800-73-4 part 2 §3.1.1) and Yubico's GET VERSION (FD) and GET SERIAL (F8).
using System.Buffers.Binary;
using OfflineSigner.YubiKey.Apdu;

namespace OfflineSigner.YubiKey.Piv.Commands;

/// <summary>SELECT the PIV application by its AID prefix A0 00 00 03 08.</summary>
internal static class SelectPivCommand
{
    public static ReadOnlyMemory<byte> PivAid { get; } = new byte[] { 0xA0, 0x00, 0x00, 0x03, 0x08 };

    public static CommandApdu CreateCommandApdu() => new(0x00, 0xA4, 0x04, 0x00, PivAid, ne: 256);

    public static void Check(ResponseApdu response)
    {
        if (response.StatusWord is StatusWords.FileNotFound or StatusWords.InstructionNotSupported)
        {
            throw new YubiKeyException("the card has no PIV application");
        }

        StatusWords.ThrowIfError(response, "SELECT", what: "PIV application");
    }
}

/// <summary>GET VERSION: the firmware version, three bytes.</summary>
internal static class GetVersionCommand
{
    public static CommandApdu CreateCommandApdu() => new(0x00, 0xFD, 0x00, 0x00, ne: 256);

    public static FirmwareVersion Parse(ResponseApdu response)
    {
        StatusWords.ThrowIfError(response, "GET VERSION");
        return response.Data.Length == 3
            ? FirmwareVersion.FromBytes(response.Data)
            : throw new YubiKeyException($"GET VERSION returned {response.Data.Length} bytes, not 3");
    }
}

/// <summary>GET SERIAL (firmware 5 and later): the device serial, four bytes big-endian.</summary>
internal static class GetSerialCommand
{
    public static CommandApdu CreateCommandApdu() => new(0x00, 0xF8, 0x00, 0x00, ne: 256);

    public static uint Parse(ResponseApdu response)
    {
        StatusWords.ThrowIfError(response, "GET SERIAL");
        return response.Data.Length == 4
            ? BinaryPrimitives.ReadUInt32BigEndian(response.Data)
            : throw new YubiKeyException($"GET SERIAL returned {response.Data.Length} bytes, not 4");
    }
}
