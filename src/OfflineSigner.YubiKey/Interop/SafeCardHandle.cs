using System.Runtime.InteropServices;

namespace OfflineSigner.YubiKey.Interop;

/// <summary>
/// An SCARDHANDLE from SCardConnect, disconnected with SCardDisconnect. It holds a reference on its context so that
/// the context is never released before the card connection made in it.
/// </summary>
internal sealed class SafeCardHandle : SafeHandle
{
    private readonly SafeCardContextHandle _context;
    private bool _contextReferenced;

    internal SafeCardHandle(SafeCardContextHandle context)
        : base(0, ownsHandle: true)
    {
        _context = context;
    }

    public override bool IsInvalid => handle == 0;

    /// <summary>What SCardDisconnect does with the card when the handle is released (SCARD_RESET_CARD clears PIV state).</summary>
    internal uint Disposition { get; set; } = PcscLite.ResetCard;

    internal nint Value => handle;

    /// <summary>Takes ownership of <paramref name="card"/>; from now on the context stays alive until it is disconnected.</summary>
    internal void Set(nint card)
    {
        _context.DangerousAddRef(ref _contextReferenced);
        SetHandle(card);
    }

    protected override bool ReleaseHandle()
    {
        try
        {
            // Best effort: a card that is gone has nothing left to disconnect, and ReleaseHandle must not throw.
            _ = PcscLite.SCardDisconnect(handle, Disposition);
            return true;
        }
        finally
        {
            if (_contextReferenced)
            {
                _context.DangerousRelease();
            }
        }
    }
}
