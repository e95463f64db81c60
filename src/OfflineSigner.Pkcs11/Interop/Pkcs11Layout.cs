// PKCS#11 v2.40 base specification, section 3 (data types) for the platform this build targets.
// The one place that chooses the native layout: Linux and macOS x64/arm64 use an 8-byte CK_ULONG with
// natural alignment ("API80"); Windows would need a 4-byte CK_ULONG, pack 1 and the first function
// pointer at offset 2. Every struct and every read of the function table goes through these definitions.
global using CkUlong = nuint;

using System.Runtime.InteropServices;

namespace OfflineSigner.Pkcs11.Interop;

internal static class Pkcs11Layout
{
    /// <summary>Offset of the first function pointer in CK_FUNCTION_LIST (after the 2-byte CK_VERSION, aligned).</summary>
    public const int FunctionTableOffset = 8;

    /// <summary>Size of CK_ULONG in bytes.</summary>
    public const int UlongSize = 8;

    /// <summary>CK_UNAVAILABLE_INFORMATION, the length C_GetAttributeValue reports for an attribute it cannot give.</summary>
    public static readonly CkUlong UnavailableInformation = nuint.MaxValue;

    /// <summary>Throws when the process does not use the layout this build was written for.</summary>
    public static void EnsureSupportedPlatform()
    {
        if (OperatingSystem.IsWindows() || IntPtr.Size != 8)
        {
            throw new PlatformNotSupportedException(
                "this PKCS#11 binding uses the 64-bit Unix layout (8-byte CK_ULONG, natural alignment); "
                + RuntimeInformation.OSDescription + " " + RuntimeInformation.ProcessArchitecture + " is not supported");
        }
    }
}
