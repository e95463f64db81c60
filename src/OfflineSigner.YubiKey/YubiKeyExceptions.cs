using OfflineSigner.Signing;

namespace OfflineSigner.YubiKey;

/// <summary>The root of every error the YubiKey backend raises.</summary>
public class YubiKeyException : SigningException
{
    public YubiKeyException()
    {
    }

    public YubiKeyException(string message)
        : base(message)
    {
    }

    public YubiKeyException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>A PC/SC function failed: names the function and the SCARD code.</summary>
public class PcscException : YubiKeyException
{
    public PcscException()
    {
        Function = string.Empty;
    }

    public PcscException(string message)
        : base(message)
    {
        Function = string.Empty;
    }

    public PcscException(string message, Exception innerException)
        : base(message, innerException)
    {
        Function = string.Empty;
    }

    public PcscException(string function, uint code, string? detail = null)
        : base($"{function} failed: {Pcsc.PcscError.NameOf(code)}{(detail is null ? string.Empty : ": " + detail)}")
    {
        Function = function;
        Code = code;
    }

    /// <summary>The PC/SC function that failed, for example "SCardTransmit".</summary>
    public string Function { get; }

    /// <summary>The SCARD_E_* / SCARD_W_* code it returned.</summary>
    public uint Code { get; }
}

/// <summary>
/// The YubiKey was removed (or reset by another program) while an operation was running. Whatever that operation was,
/// it did not complete on the host's side: nothing was returned. Reinserting the device and repeating works.
/// </summary>
public class YubiKeyRemovedException : YubiKeyException
{
    public YubiKeyRemovedException()
    {
    }

    public YubiKeyRemovedException(string message)
        : base(message)
    {
    }

    public YubiKeyRemovedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The YubiKey a key reference names is not inserted (another one may be).</summary>
public class YubiKeyNotPresentException : YubiKeyException
{
    public YubiKeyNotPresentException()
    {
        PresentSerials = [];
    }

    public YubiKeyNotPresentException(string message)
        : base(message)
    {
        PresentSerials = [];
    }

    public YubiKeyNotPresentException(string message, Exception innerException)
        : base(message, innerException)
    {
        PresentSerials = [];
    }

    public YubiKeyNotPresentException(uint serial, IReadOnlyList<uint> present, string message)
        : base(message)
    {
        Serial = serial;
        PresentSerials = present;
    }

    /// <summary>The serial that was asked for.</summary>
    public uint Serial { get; }

    /// <summary>The serials of the YubiKeys that are inserted.</summary>
    public IReadOnlyList<uint> PresentSerials { get; }
}

/// <summary>The card answered a command with an error status word.</summary>
public class ApduException : YubiKeyException
{
    public ApduException()
    {
        Command = string.Empty;
    }

    public ApduException(string message)
        : base(message)
    {
        Command = string.Empty;
    }

    public ApduException(string message, Exception innerException)
        : base(message, innerException)
    {
        Command = string.Empty;
    }

    public ApduException(string command, ushort statusWord, string message)
        : base(message)
    {
        Command = command;
        StatusWord = statusWord;
    }

    /// <summary>The command that failed, in PIV's words (for example "GENERAL AUTHENTICATE").</summary>
    public string Command { get; }

    /// <summary>SW1 SW2.</summary>
    public ushort StatusWord { get; }
}

/// <summary>A PIN or PUK was rejected (with the tries left), or is blocked.</summary>
public class PivPinException : ApduException
{
    public PivPinException()
    {
    }

    public PivPinException(string message)
        : base(message)
    {
    }

    public PivPinException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public PivPinException(string command, ushort statusWord, string reference, int retriesRemaining)
        : base(command, statusWord, retriesRemaining == 0
            ? $"the {reference} is blocked (no tries left){(reference == "PIN" ? "; unblock it with the PUK" : "; reset the PIV application")}"
            : $"the {reference} was rejected; {retriesRemaining} {(retriesRemaining == 1 ? "try" : "tries")} left")
    {
        Reference = reference;
        RetriesRemaining = retriesRemaining;
    }

    /// <summary>"PIN" or "PUK".</summary>
    public string Reference { get; } = "PIN";

    /// <summary>The tries left; 0 when blocked.</summary>
    public int RetriesRemaining { get; }

    /// <summary>Whether no tries are left.</summary>
    public bool Blocked => RetriesRemaining == 0;
}

/// <summary>69 82: the command needs a PIN verification, a touch or management key authentication it did not get.</summary>
public class PivSecurityStatusException : ApduException
{
    public PivSecurityStatusException()
    {
    }

    public PivSecurityStatusException(string message)
        : base(message)
    {
    }

    public PivSecurityStatusException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public PivSecurityStatusException(string command, ushort statusWord, string message)
        : base(command, statusWord, message)
    {
    }
}

/// <summary>6A 82 / 6A 88: the object, key or slot asked for does not exist on the device.</summary>
public class PivNotFoundException : ApduException
{
    public PivNotFoundException()
    {
    }

    public PivNotFoundException(string message)
        : base(message)
    {
    }

    public PivNotFoundException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public PivNotFoundException(string command, ushort statusWord, string message)
        : base(command, statusWord, message)
    {
    }
}

/// <summary>An attestation does not verify or does not meet the policy; <see cref="Problems"/> says why.</summary>
public class PivAttestationException : YubiKeyException
{
    public PivAttestationException()
    {
        Problems = [];
    }

    public PivAttestationException(string message)
        : base(message)
    {
        Problems = [message];
    }

    public PivAttestationException(string message, Exception innerException)
        : base(message, innerException)
    {
        Problems = [message];
    }

    public PivAttestationException(string subject, IReadOnlyList<string> problems)
        : base($"{subject}: {string.Join("; ", problems ?? [])}")
    {
        Problems = problems ?? [];
    }

    /// <summary>Every reason, one sentence each.</summary>
    public IReadOnlyList<string> Problems { get; }
}

/// <summary>Generation was asked for a slot that already holds a key: a ceremony never overwrites one.</summary>
public class PivSlotOccupiedException : YubiKeyException
{
    public PivSlotOccupiedException()
    {
    }

    public PivSlotOccupiedException(string message)
        : base(message)
    {
    }

    public PivSlotOccupiedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
