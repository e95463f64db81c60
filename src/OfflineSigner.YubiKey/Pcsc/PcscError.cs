namespace OfflineSigner.YubiKey.Pcsc;

/// <summary>The SCARD_* return codes the backend tells apart (pcsclite.h), with their names for messages.</summary>
internal static class PcscError
{
    internal const uint Success = 0x00000000;
    internal const uint Cancelled = 0x80100002;
    internal const uint InvalidHandle = 0x80100003;
    internal const uint InsufficientBuffer = 0x80100008;
    internal const uint UnknownReader = 0x80100009;
    internal const uint Timeout = 0x8010000A;
    internal const uint SharingViolation = 0x8010000B;
    internal const uint NoSmartCard = 0x8010000C;
    internal const uint CommError = 0x80100013;
    internal const uint NotTransmitted = 0x80100016;
    internal const uint ReaderUnavailable = 0x80100017;
    internal const uint NoService = 0x8010001D;
    internal const uint ServiceStopped = 0x8010001E;
    internal const uint NoReadersAvailable = 0x8010002E;
    internal const uint UnresponsiveCard = 0x80100066;
    internal const uint UnpoweredCard = 0x80100067;
    internal const uint ResetCard = 0x80100068;
    internal const uint RemovedCard = 0x80100069;

    private static readonly Dictionary<uint, string> Names = new()
    {
        [Success] = "SCARD_S_SUCCESS",
        [Cancelled] = "SCARD_E_CANCELLED",
        [InvalidHandle] = "SCARD_E_INVALID_HANDLE",
        [InsufficientBuffer] = "SCARD_E_INSUFFICIENT_BUFFER",
        [UnknownReader] = "SCARD_E_UNKNOWN_READER",
        [Timeout] = "SCARD_E_TIMEOUT",
        [SharingViolation] = "SCARD_E_SHARING_VIOLATION",
        [NoSmartCard] = "SCARD_E_NO_SMARTCARD",
        [CommError] = "SCARD_F_COMM_ERROR",
        [NotTransmitted] = "SCARD_E_NOT_TRANSMITTED",
        [ReaderUnavailable] = "SCARD_E_READER_UNAVAILABLE",
        [NoService] = "SCARD_E_NO_SERVICE",
        [ServiceStopped] = "SCARD_E_SERVICE_STOPPED",
        [NoReadersAvailable] = "SCARD_E_NO_READERS_AVAILABLE",
        [UnresponsiveCard] = "SCARD_W_UNRESPONSIVE_CARD",
        [UnpoweredCard] = "SCARD_W_UNPOWERED_CARD",
        [ResetCard] = "SCARD_W_RESET_CARD",
        [RemovedCard] = "SCARD_W_REMOVED_CARD",
    };

    /// <summary>"SCARD_W_REMOVED_CARD (0x80100069)", or the hex code alone.</summary>
    internal static string NameOf(uint code) =>
        Names.TryGetValue(code, out var name) ? $"{name} (0x{code:X8})" : $"SCARD 0x{code:X8}";

    /// <summary>pcsc-lite returns a C long; its codes are 32-bit values.</summary>
    internal static uint Code(nint rv) => unchecked((uint)rv);

    /// <summary>Whether the code means the card went away (removed, reset, or the link to it broke) during a call.</summary>
    internal static bool IsCardGone(uint code) =>
        code is RemovedCard or ResetCard or NoSmartCard or NotTransmitted or UnpoweredCard or UnresponsiveCard or ReaderUnavailable or CommError or InvalidHandle;

    /// <summary>Whether the code means there is no PC/SC service to talk to.</summary>
    internal static bool IsNoService(uint code) => code is NoService or ServiceStopped;
}
