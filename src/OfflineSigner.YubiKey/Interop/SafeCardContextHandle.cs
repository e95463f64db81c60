using System.Runtime.InteropServices;

namespace OfflineSigner.YubiKey.Interop;

/// <summary>An SCARDCONTEXT from SCardEstablishContext, released with SCardReleaseContext.</summary>
internal sealed class SafeCardContextHandle : SafeHandle
{
    public SafeCardContextHandle()
        : base(0, ownsHandle: true)
    {
    }

    internal SafeCardContextHandle(nint context)
        : base(0, ownsHandle: true)
    {
        SetHandle(context);
    }

    // pcsc-lite contexts are positive numbers; 0 is never a valid context.
    public override bool IsInvalid => handle == 0;

    /// <summary>The raw context for a call. Callers keep this handle alive (DangerousAddRef or a using scope).</summary>
    internal nint Value => handle;

    protected override bool ReleaseHandle() => PcscLite.SCardReleaseContext(handle) == 0;
}
