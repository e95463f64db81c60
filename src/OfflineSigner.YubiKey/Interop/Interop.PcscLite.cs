// PC/SC as pcsc-lite implements it (winscard.h, pcsclite.h) on Linux x64: LONG, DWORD, SCARDCONTEXT and SCARDHANDLE
// are all 8 bytes (C long), SCARD_IO_REQUEST is 16 bytes. macOS uses a 32-bit DWORD: that layout is not supported here.
using System.Runtime.InteropServices;

namespace OfflineSigner.YubiKey.Interop;

/// <summary>One-to-one bindings of the libpcsclite functions the YubiKey backend needs.</summary>
internal static unsafe partial class PcscLite
{
    /// <summary>The pcsc-lite client library (Debian libpcsclite1).</summary>
    internal const string Library = "libpcsclite.so.1";

    internal const uint ScopeSystem = 2;
    internal const uint ShareExclusive = 1;
    internal const uint ShareShared = 2;
    internal const uint ProtocolT1 = 2;
    internal const uint LeaveCard = 0;
    internal const uint ResetCard = 1;

    /// <summary>An infinite SCardGetStatusChange timeout.</summary>
    internal const uint Infinite = 0xFFFFFFFF;

    /// <summary>The pseudo reader whose state changes when a reader is added or removed.</summary>
    internal const string PnpNotification = @"\\?PnP?\Notification";

    [LibraryImport(Library)]
    internal static partial nint SCardEstablishContext(nuint scope, nint reserved1, nint reserved2, out nint context);

    [LibraryImport(Library)]
    internal static partial nint SCardReleaseContext(nint context);

    [LibraryImport(Library)]
    internal static partial nint SCardListReaders(nint context, byte* groups, byte* readers, ref nuint readersLength);

    [LibraryImport(Library)]
    internal static partial nint SCardConnect(nint context, byte* reader, nuint shareMode, nuint preferredProtocols, out nint card, out nuint activeProtocol);

    [LibraryImport(Library)]
    internal static partial nint SCardReconnect(nint card, nuint shareMode, nuint preferredProtocols, nuint initialization, out nuint activeProtocol);

    [LibraryImport(Library)]
    internal static partial nint SCardDisconnect(nint card, nuint disposition);

    [LibraryImport(Library)]
    internal static partial nint SCardBeginTransaction(nint card);

    [LibraryImport(Library)]
    internal static partial nint SCardEndTransaction(nint card, nuint disposition);

    [LibraryImport(Library)]
    internal static partial nint SCardTransmit(nint card, ScardIoRequest* sendPci, byte* send, nuint sendLength, ScardIoRequest* receivePci, byte* receive, ref nuint receiveLength);

    [LibraryImport(Library)]
    internal static partial nint SCardStatus(nint card, byte* readerName, ref nuint readerNameLength, out nuint state, out nuint protocol, byte* atr, ref nuint atrLength);

    [LibraryImport(Library)]
    internal static partial nint SCardGetStatusChange(nint context, nuint timeout, ScardReaderState* states, nuint count);

    [LibraryImport(Library)]
    internal static partial nint SCardCancel(nint context);

    private static readonly Lazy<nint> T1PciAddress = new(() =>
    {
        var library = NativeLibrary.Load(Library, typeof(PcscLite).Assembly, DllImportSearchPath.SafeDirectories);
        return NativeLibrary.GetExport(library, "g_rgSCardT1Pci");
    });

    /// <summary>The library's g_rgSCardT1Pci (the T=1 protocol control information), resolved once.</summary>
    internal static ScardIoRequest* T1Pci => (ScardIoRequest*)T1PciAddress.Value;
}

/// <summary>SCARD_IO_REQUEST: the protocol and the size of this header (16 bytes on Linux x64).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ScardIoRequest
{
    public nuint Protocol;
    public nuint PciLength;
}

/// <summary>SCARD_READERSTATE (80 bytes on Linux x64: two pointers, three DWORDs, a 33-byte ATR, padding).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct ScardReaderState
{
    public const int MaxAtrSize = 33;

    public nint Reader;
    public nint UserData;
    public nuint CurrentState;
    public nuint EventState;
    public nuint AtrLength;
    public fixed byte Atr[MaxAtrSize];
}

/// <summary>The SCARD_STATE_* flags of a reader.</summary>
[Flags]
internal enum ReaderStates : uint
{
    Unaware = 0x0,
    Ignore = 0x1,
    Changed = 0x2,
    Unknown = 0x4,
    Unavailable = 0x8,
    Empty = 0x10,
    Present = 0x20,
    AtrMatch = 0x40,
    Exclusive = 0x80,
    InUse = 0x100,
    Mute = 0x200,
}
