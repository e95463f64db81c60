// Status words of ISO/IEC 7816-4 §5.6 as the PIV application (NIST SP 800-73-4 part 2) and YubiKeys use them.
namespace OfflineSigner.YubiKey.Apdu;

/// <summary>The status words the backend tells apart, and the exception each becomes.</summary>
internal static class StatusWords
{
    public const ushort Success = 0x9000;
    public const ushort WrongLength = 0x6700;
    public const ushort SecurityStatusNotSatisfied = 0x6982;
    public const ushort AuthenticationMethodBlocked = 0x6983;
    public const ushort ConditionsNotSatisfied = 0x6985;
    public const ushort IncorrectData = 0x6A80;
    public const ushort FunctionNotSupported = 0x6A81;
    public const ushort FileNotFound = 0x6A82;
    public const ushort ReferenceNotFound = 0x6A88;
    public const ushort WrongParameters = 0x6B00;
    public const ushort InstructionNotSupported = 0x6D00;
    public const ushort ClassNotSupported = 0x6E00;

    /// <summary>63 Cx: verification failed, x tries left.</summary>
    public static bool IsVerifyFailed(ushort sw) => (sw & 0xFFF0) == 0x63C0;

    /// <summary>
    /// Throws the precise exception for an error status word: <see cref="PivPinException"/> for 63 Cx and 69 83 on a
    /// PIN/PUK command, <see cref="PivSecurityStatusException"/> for 69 82, <see cref="PivNotFoundException"/> for
    /// 6A 82 / 6A 88, <see cref="ApduException"/> otherwise. <paramref name="reference"/> ("PIN", "PUK") marks PIN commands.
    /// </summary>
    public static void ThrowIfError(ResponseApdu response, string command, string? reference = null, string? what = null)
    {
        var sw = response.StatusWord;
        if (sw == Success)
        {
            return;
        }

        throw ToException(sw, command, reference, what);
    }

    public static ApduException ToException(ushort sw, string command, string? reference = null, string? what = null)
    {
        var subject = what is null ? command : $"{command} ({what})";
        if (reference is not null && IsVerifyFailed(sw))
        {
            return new PivPinException(command, sw, reference, sw & 0x0F);
        }

        if (reference is not null && sw == AuthenticationMethodBlocked)
        {
            return new PivPinException(command, sw, reference, 0);
        }

        return sw switch
        {
            SecurityStatusNotSatisfied => new PivSecurityStatusException(command, sw,
                $"{subject}: security status not satisfied (69 82): the PIN was not verified, the management key not authenticated, or the touch did not come"),
            AuthenticationMethodBlocked => new ApduException(command, sw, $"{subject}: authentication method blocked (69 83)"),
            FileNotFound => new PivNotFoundException(command, sw, $"{subject}: not found on the device (6A 82)"),
            ReferenceNotFound => new PivNotFoundException(command, sw, $"{subject}: no such key or reference on the device (6A 88)"),
            IncorrectData => new ApduException(command, sw, $"{subject}: the device refused the data (6A 80: unsupported algorithm, empty or imported slot, or malformed input)"),
            WrongParameters => new ApduException(command, sw, $"{subject}: the device refused the parameters (6B 00: no such slot)"),
            ConditionsNotSatisfied => new ApduException(command, sw, $"{subject}: conditions of use not satisfied (69 85)"),
            InstructionNotSupported => new ApduException(command, sw, $"{subject}: the device does not support this instruction (6D 00)"),
            WrongLength => new ApduException(command, sw, $"{subject}: wrong length (67 00)"),
            _ => new ApduException(command, sw, $"{subject}: the device answered {sw >> 8:X2} {sw & 0xFF:X2}"),
        };
    }
}
