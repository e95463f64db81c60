using System.Runtime.InteropServices;

namespace OfflineSigner.Pkcs11.Interop;

/// <summary>
/// A CK_SESSION_HANDLE. Closing is skipped when the module was finalized or re-initialized since the session was
/// opened: handle numbers are reused after C_Initialize, and closing a stale number could close someone else's session.
/// </summary>
internal sealed class SafeSessionHandle : SafeHandle
{
    private readonly Pkcs11ModuleCore _module;
    private readonly long _generation;

    public SafeSessionHandle(Pkcs11ModuleCore module, CkUlong handle, long generation)
        : base(0, ownsHandle: true)
    {
        _module = module;
        _generation = generation;
        SetHandle((nint)handle);
    }

    public override bool IsInvalid => handle == 0;

    /// <summary>The module generation (count of C_Initialize calls) the session belongs to.</summary>
    public long Generation => _generation;

    /// <summary>The raw handle for a call. Callers hold a reference (DangerousAddRef) or the owner's lock.</summary>
    public CkUlong Value => (CkUlong)handle;

    protected override bool ReleaseHandle()
    {
        // Best effort by design: a session that cannot be closed (token gone, module finalized) is already dead,
        // and ReleaseHandle must not throw.
        _module.CloseSessionIfCurrent((CkUlong)handle, _generation);
        return true;
    }
}
