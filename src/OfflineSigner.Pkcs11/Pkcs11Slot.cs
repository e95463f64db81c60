using OfflineSigner.Pkcs11.Interop;

namespace OfflineSigner.Pkcs11;

/// <summary>A slot of a module. Slot ids are not stable across restarts: find tokens by label or serial.</summary>
public sealed unsafe class Pkcs11Slot
{
    internal Pkcs11Slot(Pkcs11Module module, CkUlong slotId)
    {
        Module = module;
        SlotId = slotId;
    }

    public Pkcs11Module Module { get; }

    public ulong SlotId { get; }

    /// <summary>C_GetSlotInfo.</summary>
    public Pkcs11SlotInfo GetSlotInfo()
    {
        var core = Module.Core;
        CkSlotInfo info;
        using (core.EnterCall())
        {
            Pkcs11Exception.ThrowIfFailed("C_GetSlotInfo", core.Functions.GetSlotInfo((CkUlong)SlotId, &info));
        }

        return new Pkcs11SlotInfo(Pkcs11TokenInfo.Text(info.SlotDescription, 64), Pkcs11TokenInfo.Text(info.ManufacturerId, 32), info.Flags);
    }

    /// <summary>C_GetTokenInfo.</summary>
    public Pkcs11TokenInfo GetTokenInfo()
    {
        var core = Module.Core;
        CkTokenInfo info;
        using (core.EnterCall())
        {
            Pkcs11Exception.ThrowIfFailed("C_GetTokenInfo", core.Functions.GetTokenInfo((CkUlong)SlotId, &info));
        }

        return Pkcs11TokenInfo.FromNative(info);
    }

    /// <summary>C_GetMechanismList.</summary>
    public IReadOnlyList<ulong> GetMechanismList()
    {
        var core = Module.Core;
        using (core.EnterCall())
        {
            CkUlong count = 0;
            Pkcs11Exception.ThrowIfFailed("C_GetMechanismList", core.Functions.GetMechanismList((CkUlong)SlotId, null, &count));
            var list = new CkUlong[(int)count];
            fixed (CkUlong* p = list)
            {
                Pkcs11Exception.ThrowIfFailed("C_GetMechanismList", core.Functions.GetMechanismList((CkUlong)SlotId, p, &count));
            }

            return [.. list.AsSpan(0, (int)count).ToArray().Select(m => (ulong)m)];
        }
    }

    /// <summary>C_OpenSession: a serial session, read-write unless <paramref name="readWrite"/> is false.</summary>
    public Pkcs11Session OpenSession(bool readWrite = true)
    {
        var core = Module.Core;
        using (core.EnterCall())
        {
            CkUlong handle = 0;
            var flags = Ckf.SerialSession | (readWrite ? Ckf.RwSession : 0);
            Pkcs11Exception.ThrowIfFailed("C_OpenSession", core.Functions.OpenSession((CkUlong)SlotId, flags, 0, 0, &handle));
            return new Pkcs11Session(this, new SafeSessionHandle(core, handle, core.Generation));
        }
    }
}
