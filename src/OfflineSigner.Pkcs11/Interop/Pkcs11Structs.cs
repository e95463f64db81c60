// PKCS#11 v2.40 base specification, section 3: the structures passed to and from the module.
using System.Runtime.InteropServices;

namespace OfflineSigner.Pkcs11.Interop;

[StructLayout(LayoutKind.Sequential)]
internal struct CkVersion
{
    public byte Major;
    public byte Minor;
}

[StructLayout(LayoutKind.Sequential)]
internal struct CkAttribute
{
    public CkUlong Type;
    public nint Value;
    public CkUlong ValueLen;
}

[StructLayout(LayoutKind.Sequential)]
internal struct CkMechanism
{
    public CkUlong Mechanism;
    public nint Parameter;
    public CkUlong ParameterLen;
}

[StructLayout(LayoutKind.Sequential)]
internal struct CkCInitializeArgs
{
    public nint CreateMutex;
    public nint DestroyMutex;
    public nint LockMutex;
    public nint UnlockMutex;
    public CkUlong Flags;
    public nint Reserved;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct CkInfo
{
    public CkVersion CryptokiVersion;
    public fixed byte ManufacturerId[32];
    public CkUlong Flags;
    public fixed byte LibraryDescription[32];
    public CkVersion LibraryVersion;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct CkSlotInfo
{
    public fixed byte SlotDescription[64];
    public fixed byte ManufacturerId[32];
    public CkUlong Flags;
    public CkVersion HardwareVersion;
    public CkVersion FirmwareVersion;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct CkTokenInfo
{
    public fixed byte Label[32];
    public fixed byte ManufacturerId[32];
    public fixed byte Model[16];
    public fixed byte SerialNumber[16];
    public CkUlong Flags;
    public CkUlong MaxSessionCount;
    public CkUlong SessionCount;
    public CkUlong MaxRwSessionCount;
    public CkUlong RwSessionCount;
    public CkUlong MaxPinLen;
    public CkUlong MinPinLen;
    public CkUlong TotalPublicMemory;
    public CkUlong FreePublicMemory;
    public CkUlong TotalPrivateMemory;
    public CkUlong FreePrivateMemory;
    public CkVersion HardwareVersion;
    public CkVersion FirmwareVersion;
    public fixed byte UtcTime[16];
}

[StructLayout(LayoutKind.Sequential)]
internal struct CkRsaPkcsPssParams
{
    public CkUlong HashAlg;
    public CkUlong Mgf;
    public CkUlong SaltLength;
}
