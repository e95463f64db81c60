using OfflineSigner.Pkcs11.Interop;

namespace OfflineSigner.Pkcs11;

/// <summary>
/// A PKCS#11 module (a vendor's shared library), loaded and initialized with OS locking.
/// Opening the same path twice shares one initialized module; the last <see cref="Dispose"/> calls C_Finalize.
/// </summary>
public sealed unsafe class Pkcs11Module : IDisposable
{
    private Pkcs11ModuleCore? _core;

    private Pkcs11Module(Pkcs11ModuleCore core)
    {
        _core = core;
    }

    /// <summary>The module's absolute path.</summary>
    public string Path => Core.Path;

    internal Pkcs11ModuleCore Core => _core ?? throw new ObjectDisposedException(nameof(Pkcs11Module));

    /// <summary>
    /// Loads the module at <paramref name="path"/> (absolute) and calls C_Initialize with CKF_OS_LOCKING_OK.
    /// Throws <see cref="Pkcs11ModuleException"/> when the file is missing, is not a shared library, or is not a PKCS#11 module.
    /// </summary>
    public static Pkcs11Module Load(string path) => new(Pkcs11ModuleRegistry.Acquire(path));

    /// <summary>C_GetInfo.</summary>
    public Pkcs11LibraryInfo GetInfo()
    {
        var core = Core;
        CkInfo info;
        using (core.EnterCall())
        {
            Pkcs11Exception.ThrowIfFailed("C_GetInfo", core.Functions.GetInfo(&info));
        }

        return new Pkcs11LibraryInfo(
            Pkcs11TokenInfo.Text(info.ManufacturerId, 32),
            Pkcs11TokenInfo.Text(info.LibraryDescription, 32),
            new Version(info.CryptokiVersion.Major, info.CryptokiVersion.Minor),
            new Version(info.LibraryVersion.Major, info.LibraryVersion.Minor));
    }

    /// <summary>C_GetSlotList: the slots, by default only those with a token present.</summary>
    public IReadOnlyList<Pkcs11Slot> GetSlotList(bool tokenPresent = true)
    {
        var core = Core;
        using (core.EnterCall())
        {
            var present = tokenPresent ? (byte)1 : (byte)0;
            for (var attempt = 0; ; attempt++)
            {
                CkUlong count = 0;
                Pkcs11Exception.ThrowIfFailed("C_GetSlotList", core.Functions.GetSlotList(present, null, &count));
                if (count == 0)
                {
                    return [];
                }

                var ids = new CkUlong[(int)count];
                CkUlong rv;
                fixed (CkUlong* p = ids)
                {
                    rv = core.Functions.GetSlotList(present, p, &count);
                }

                // A token can appear between the two calls; ask again (bounded).
                if (rv == Ckr.BufferTooSmall && attempt < 3)
                {
                    continue;
                }

                Pkcs11Exception.ThrowIfFailed("C_GetSlotList", rv);
                var slots = new Pkcs11Slot[(int)count];
                for (var i = 0; i < slots.Length; i++)
                {
                    slots[i] = new Pkcs11Slot(this, ids[i]);
                }

                return slots;
            }
        }
    }

    /// <summary>
    /// The slot whose token matches <paramref name="selector"/>, or null. Slots whose token cannot be read
    /// (C_GetTokenInfo fails, for example after the token was removed) are skipped, and listed in <paramref name="unreadable"/>.
    /// Throws when more than one token matches: a selector must name one token.
    /// </summary>
    public Pkcs11Slot? FindToken(TokenSelector selector, ICollection<Pkcs11Exception>? unreadable = null)
    {
        ArgumentNullException.ThrowIfNull(selector);
        Pkcs11Slot? found = null;
        foreach (var slot in GetSlotList(tokenPresent: true))
        {
            Pkcs11TokenInfo info;
            try
            {
                info = slot.GetTokenInfo();
            }
            catch (Pkcs11Exception e)
            {
                unreadable?.Add(e);
                continue;
            }

            if (!info.TokenInitialized || !selector.Matches(info))
            {
                continue;
            }

            if (found is not null)
            {
                throw new Pkcs11TokenException($"more than one token matches {selector}; add the serial number to the configuration");
            }

            found = slot;
        }

        return found;
    }

    /// <summary>
    /// C_Finalize then C_Initialize, so the module rescans its tokens. Every open session of this module dies;
    /// <see cref="Pkcs11Token"/> recovers its own. Skipped when someone else re-initialized since <paramref name="observedGeneration"/>.
    /// </summary>
    public void Reinitialize(long observedGeneration) => Core.Reinitialize(observedGeneration);

    /// <summary>The count of C_Initialize calls on this module in this process (sessions of an older generation are dead).</summary>
    public long Generation => Core.Generation;

    public void Dispose()
    {
        var core = Interlocked.Exchange(ref _core, null);
        if (core is not null)
        {
            Pkcs11ModuleRegistry.Release(core);
        }
    }
}
