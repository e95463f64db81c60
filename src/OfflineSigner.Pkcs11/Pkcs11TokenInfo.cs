using System.Text;
using OfflineSigner.Pkcs11.Interop;

namespace OfflineSigner.Pkcs11;

/// <summary>What the token's flags say about failed PIN attempts (CKF_USER_PIN_COUNT_LOW / FINAL_TRY / LOCKED).</summary>
public enum PinRetryStatus
{
    /// <summary>The token reports no recent failure (or does not report retries at all).</summary>
    NoFailures,

    /// <summary>An incorrect PIN was entered since the last successful login.</summary>
    CountLow,

    /// <summary>One more incorrect PIN locks the token.</summary>
    FinalTry,

    /// <summary>The user PIN is locked.</summary>
    Locked,
}

/// <summary>CK_TOKEN_INFO, with the padded text fields trimmed.</summary>
public sealed record Pkcs11TokenInfo(
    string Label,
    string ManufacturerId,
    string Model,
    string SerialNumber,
    ulong Flags,
    ulong MinPinLength,
    ulong MaxPinLength)
{
    public bool LoginRequired => (Flags & Ckf.LoginRequired) != 0;

    public bool TokenInitialized => (Flags & Ckf.TokenInitialized) != 0;

    public bool UserPinInitialized => (Flags & Ckf.UserPinInitialized) != 0;

    public bool ProtectedAuthenticationPath => (Flags & Ckf.ProtectedAuthenticationPath) != 0;

    public bool WriteProtected => (Flags & Ckf.WriteProtected) != 0;

    /// <summary>The user PIN's retry state from the flags, most severe first.</summary>
    public PinRetryStatus UserPinStatus => PinStatusFromFlags(Flags);

    /// <summary>The user PIN's retry state that <paramref name="flags"/> report.</summary>
    public static PinRetryStatus PinStatusFromFlags(ulong flags)
    {
        if ((flags & Ckf.UserPinLocked) != 0)
        {
            return PinRetryStatus.Locked;
        }

        if ((flags & Ckf.UserPinFinalTry) != 0)
        {
            return PinRetryStatus.FinalTry;
        }

        return (flags & Ckf.UserPinCountLow) != 0 ? PinRetryStatus.CountLow : PinRetryStatus.NoFailures;
    }

    /// <summary>Words for an operator.</summary>
    public static string Describe(PinRetryStatus status) => status switch
    {
        PinRetryStatus.Locked => "the user PIN is locked; unlock it with the SO PIN or re-initialize the token",
        PinRetryStatus.FinalTry => "one try left before the user PIN locks",
        PinRetryStatus.CountLow => "the token reports failed PIN attempts (retry counter decreased)",
        _ => "the token reports no failed PIN attempts",
    };

    internal static unsafe Pkcs11TokenInfo FromNative(in CkTokenInfo info)
    {
        fixed (CkTokenInfo* p = &info)
        {
            return new Pkcs11TokenInfo(
                Text(p->Label, 32),
                Text(p->ManufacturerId, 32),
                Text(p->Model, 16),
                Text(p->SerialNumber, 16),
                p->Flags,
                p->MinPinLen,
                p->MaxPinLen);
        }
    }

    /// <summary>A blank-padded CK_UTF8CHAR field without its padding.</summary>
    internal static unsafe string Text(byte* field, int length)
    {
        var span = new ReadOnlySpan<byte>(field, length);
        var end = span.Length;
        while (end > 0 && (span[end - 1] == (byte)' ' || span[end - 1] == 0))
        {
            end--;
        }

        return Encoding.UTF8.GetString(span[..end]);
    }
}

/// <summary>CK_INFO: the module's own description.</summary>
public sealed record Pkcs11LibraryInfo(string ManufacturerId, string LibraryDescription, Version CryptokiVersion, Version LibraryVersion);

/// <summary>CK_SLOT_INFO.</summary>
public sealed record Pkcs11SlotInfo(string SlotDescription, string ManufacturerId, ulong Flags)
{
    public bool TokenPresent => (Flags & Ckf.TokenPresent) != 0;
}
