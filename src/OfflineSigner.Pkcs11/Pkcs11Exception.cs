using System.Collections.Frozen;
using System.Reflection;
using System.Text;
using OfflineSigner.Pkcs11.Interop;
using OfflineSigner.Signing;

namespace OfflineSigner.Pkcs11;

/// <summary>A PKCS#11 function returned an error: names the function and the CKR code.</summary>
public class Pkcs11Exception : SigningException
{
    private static readonly FrozenDictionary<ulong, string> Names = BuildNames();

    public Pkcs11Exception()
    {
        Function = string.Empty;
    }

    public Pkcs11Exception(string message)
        : base(message)
    {
        Function = string.Empty;
    }

    public Pkcs11Exception(string message, Exception innerException)
        : base(message, innerException)
    {
        Function = string.Empty;
    }

    public Pkcs11Exception(string function, ulong returnValue)
        : base($"{function} failed: {NameOf(returnValue)}")
    {
        Function = function;
        ReturnValue = returnValue;
    }

    public Pkcs11Exception(string function, ulong returnValue, string detail)
        : base($"{function} failed: {NameOf(returnValue)}: {detail}")
    {
        Function = function;
        ReturnValue = returnValue;
    }

    /// <summary>The PKCS#11 function that failed, for example "C_Sign".</summary>
    public string Function { get; }

    /// <summary>The CK_RV the function returned.</summary>
    public ulong ReturnValue { get; }

    /// <summary>The symbolic name of <see cref="ReturnValue"/>, for example "CKR_PIN_INCORRECT".</summary>
    public string ReturnValueName => NameOf(ReturnValue);

    /// <summary>"CKR_PIN_INCORRECT (0xA0)", or the hex code alone for vendor values.</summary>
    public static string NameOf(ulong returnValue) =>
        Names.TryGetValue(returnValue, out var name) ? $"{name} (0x{returnValue:X})" : $"CKR 0x{returnValue:X}";

    internal static void ThrowIfFailed(string function, CkUlong rv)
    {
        if (rv != Ckr.Ok)
        {
            throw new Pkcs11Exception(function, rv);
        }
    }

    private static FrozenDictionary<ulong, string> BuildNames()
    {
        var names = new Dictionary<ulong, string>();
        foreach (var field in typeof(Ckr).GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            if (field.IsLiteral && field.GetRawConstantValue() is { } value)
            {
                names[Convert.ToUInt64(value, System.Globalization.CultureInfo.InvariantCulture)] = "CKR_" + ToUpperSnake(field.Name);
            }
        }

        return names.ToFrozenDictionary();
    }

    private static string ToUpperSnake(string pascal)
    {
        var sb = new StringBuilder(pascal.Length + 8);
        for (var i = 0; i < pascal.Length; i++)
        {
            var c = pascal[i];
            if (i > 0 && char.IsUpper(c))
            {
                sb.Append('_');
            }

            sb.Append(char.ToUpperInvariant(c));
        }

        return sb.ToString();
    }
}

/// <summary>A module path is missing, is not a shared library, or is not a PKCS#11 module.</summary>
public class Pkcs11ModuleException : SigningException
{
    public Pkcs11ModuleException()
    {
    }

    public Pkcs11ModuleException(string message)
        : base(message)
    {
    }

    public Pkcs11ModuleException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The configured token is not present, or cannot be logged in to.</summary>
public class Pkcs11TokenException : SigningException
{
    public Pkcs11TokenException()
    {
    }

    public Pkcs11TokenException(string message)
        : base(message)
    {
    }

    public Pkcs11TokenException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The token refused the PIN, or says its PIN is locked. Never carries the PIN.</summary>
public class Pkcs11PinException : Pkcs11TokenException
{
    public Pkcs11PinException()
    {
    }

    public Pkcs11PinException(string message)
        : base(message)
    {
    }

    public Pkcs11PinException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public Pkcs11PinException(string message, PinRetryStatus status, Exception? innerException = null)
        : base(message, innerException ?? new Pkcs11Exception(message))
    {
        Status = status;
    }

    /// <summary>What the token's flags say about the retries left after the failure.</summary>
    public PinRetryStatus Status { get; }
}

/// <summary>A configured key is missing, ambiguous, or not the key that was opened.</summary>
public class Pkcs11KeyException : SigningException
{
    public Pkcs11KeyException()
    {
    }

    public Pkcs11KeyException(string message)
        : base(message)
    {
    }

    public Pkcs11KeyException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
