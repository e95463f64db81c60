// PIV key references, algorithms and policies as NIST SP 800-73-4 part 1 §5 and Yubico's PIV extensions number them.
using System.Globalization;

namespace OfflineSigner.YubiKey.Piv;

/// <summary>A PIV key slot: 9a, 9c, 9d, 9e, the retired slots 82..95, or the attestation slot f9.</summary>
public readonly record struct PivSlot
{
    public PivSlot(byte value)
    {
        if (!IsKnown(value))
        {
            throw new ArgumentOutOfRangeException(nameof(value), $"{value:x2} is not a PIV key slot (9a, 9c, 9d, 9e, 82..95, f9)");
        }

        Value = value;
    }

    /// <summary>PIV Authentication (9a).</summary>
    public static PivSlot Authentication => new(0x9A);

    /// <summary>Digital Signature (9c): PIN policy "always" by default.</summary>
    public static PivSlot Signature => new(0x9C);

    /// <summary>Key Management (9d).</summary>
    public static PivSlot KeyManagement => new(0x9D);

    /// <summary>Card Authentication (9e).</summary>
    public static PivSlot CardAuthentication => new(0x9E);

    /// <summary>The device's attestation key (f9).</summary>
    public static PivSlot Attestation => new(0xF9);

    /// <summary>The key reference byte.</summary>
    public byte Value { get; }

    /// <summary>The slots a key for signing can be in (not f9), in the order devices list them.</summary>
    public static IReadOnlyList<PivSlot> KeySlots { get; } =
        [.. new byte[] { 0x9A, 0x9C, 0x9D, 0x9E }.Concat(Enumerable.Range(0x82, 20).Select(i => (byte)i)).Select(b => new PivSlot(b))];

    /// <summary>The data object holding the slot's certificate (SP 800-73-4 part 1 table 3; 5FFF01 for f9).</summary>
    public int CertificateObjectId => Value switch
    {
        0x9A => 0x5FC105,
        0x9C => 0x5FC10A,
        0x9D => 0x5FC10B,
        0x9E => 0x5FC101,
        0xF9 => 0x5FFF01,
        _ => 0x5FC10D + (Value - 0x82),
    };

    /// <summary>The PIN policy a key gets in this slot when generation names none.</summary>
    public PivPinPolicy DefaultPinPolicy => Value == 0x9C ? PivPinPolicy.Always : Value == 0x9E ? PivPinPolicy.Never : PivPinPolicy.Once;

    /// <summary>Parses "9c" (or "0x9c"), case-insensitive.</summary>
    public static PivSlot Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var digits = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? text[2..] : text;
        if (digits.Length != 2 || !byte.TryParse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value) || !IsKnown(value))
        {
            throw new FormatException($"'{text}' is not a PIV slot (two hex digits: 9a, 9c, 9d, 9e, 82..95)");
        }

        return new PivSlot(value);
    }

    /// <summary>Whether <paramref name="value"/> is a PIV key slot.</summary>
    public static bool IsKnown(byte value) => value is 0x9A or 0x9C or 0x9D or 0x9E or 0xF9 or (>= 0x82 and <= 0x95);

    /// <summary>Lowercase hex, as YubiKeys write it in attestation subjects ("9c").</summary>
    public override string ToString() => Value.ToString("x2", CultureInfo.InvariantCulture);
}

/// <summary>The algorithm identifiers of PIV (SP 800-78-4 table 6-2) and Yubico's additions.</summary>
public enum PivAlgorithm : byte
{
    TripleDes = 0x03,
    Rsa3072 = 0x05,
    Rsa1024 = 0x06,
    Rsa2048 = 0x07,
    Aes128 = 0x08,
    Aes192 = 0x0A,
    Aes256 = 0x0C,
    EccP256 = 0x11,
    EccP384 = 0x14,
    Rsa4096 = 0x16,
    Ed25519 = 0xE0,
    X25519 = 0xE1,
    Pin = 0xFF,
}

/// <summary>When the device asks for the PIN before using a key (Yubico's PIN policy, tag AA).</summary>
public enum PivPinPolicy : byte
{
    Default = 0,
    Never = 1,
    Once = 2,
    Always = 3,
    MatchOnce = 4,
    MatchAlways = 5,
}

/// <summary>When the device asks for a touch before using a key (Yubico's touch policy, tag AB).</summary>
public enum PivTouchPolicy : byte
{
    Default = 0,
    Never = 1,
    Always = 2,
    Cached = 3,
}

/// <summary>The algorithm of the management key (slot 9b).</summary>
public enum PivManagementKeyAlgorithm : byte
{
    TripleDes = 0x03,
    Aes128 = 0x08,
    Aes192 = 0x0A,
    Aes256 = 0x0C,
}

/// <summary>Where a slot's key came from (metadata tag 03).</summary>
public enum PivKeyOrigin : byte
{
    Unknown = 0,
    Generated = 1,
    Imported = 2,
}

/// <summary>A firmware version, as GET VERSION and attestation extension 1.3.6.1.4.1.41482.3.3 give it.</summary>
public readonly record struct FirmwareVersion(int Major, int Minor, int Patch) : IComparable<FirmwareVersion>
{
    /// <summary>5.7.0: Ed25519, AES management keys by default, and the fix for EUCLEAK (CVE-2024-45678).</summary>
    public static FirmwareVersion EucleakFixed => new(5, 7, 0);

    public static FirmwareVersion FromBytes(ReadOnlySpan<byte> bytes) =>
        bytes.Length == 3 ? new(bytes[0], bytes[1], bytes[2]) : throw new FormatException($"a firmware version is 3 bytes, not {bytes.Length}");

    public int CompareTo(FirmwareVersion other) =>
        Major != other.Major ? Major.CompareTo(other.Major) : Minor != other.Minor ? Minor.CompareTo(other.Minor) : Patch.CompareTo(other.Patch);

    public static bool operator <(FirmwareVersion left, FirmwareVersion right) => left.CompareTo(right) < 0;

    public static bool operator >(FirmwareVersion left, FirmwareVersion right) => left.CompareTo(right) > 0;

    public static bool operator <=(FirmwareVersion left, FirmwareVersion right) => left.CompareTo(right) <= 0;

    public static bool operator >=(FirmwareVersion left, FirmwareVersion right) => left.CompareTo(right) >= 0;

    public override string ToString() => $"{Major}.{Minor}.{Patch}";
}

/// <summary>Which PIV algorithm holds a key of each of the signing seam's algorithms.</summary>
internal static class PivAlgorithms
{
    public static PivAlgorithm FromKeyAlgorithm(Signing.KeyAlgorithm algorithm) => algorithm switch
    {
        Signing.KeyAlgorithm.EcdsaP256 => PivAlgorithm.EccP256,
        Signing.KeyAlgorithm.EcdsaP384 => PivAlgorithm.EccP384,
        Signing.KeyAlgorithm.Ed25519 => PivAlgorithm.Ed25519,
        Signing.KeyAlgorithm.Rsa2048 => PivAlgorithm.Rsa2048,
        Signing.KeyAlgorithm.Rsa3072 => PivAlgorithm.Rsa3072,
        Signing.KeyAlgorithm.Rsa4096 => PivAlgorithm.Rsa4096,
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "no PIV algorithm holds this key type"),
    };

    public static Signing.KeyAlgorithm ToKeyAlgorithm(PivAlgorithm algorithm) => algorithm switch
    {
        PivAlgorithm.EccP256 => Signing.KeyAlgorithm.EcdsaP256,
        PivAlgorithm.EccP384 => Signing.KeyAlgorithm.EcdsaP384,
        PivAlgorithm.Ed25519 => Signing.KeyAlgorithm.Ed25519,
        PivAlgorithm.Rsa2048 => Signing.KeyAlgorithm.Rsa2048,
        PivAlgorithm.Rsa3072 => Signing.KeyAlgorithm.Rsa3072,
        PivAlgorithm.Rsa4096 => Signing.KeyAlgorithm.Rsa4096,
        _ => throw new YubiKeyException($"PIV algorithm {(byte)algorithm:X2} is not one the signer can use"),
    };

    /// <summary>The size in bytes of a signature input (RSA: the modulus) or of an ECDSA field element.</summary>
    public static int InputSize(PivAlgorithm algorithm) => algorithm switch
    {
        PivAlgorithm.EccP256 => 32,
        PivAlgorithm.EccP384 => 48,
        PivAlgorithm.Rsa1024 => 128,
        PivAlgorithm.Rsa2048 => 256,
        PivAlgorithm.Rsa3072 => 384,
        PivAlgorithm.Rsa4096 => 512,
        _ => 0,
    };

    public static bool IsRsa(PivAlgorithm algorithm) => algorithm is PivAlgorithm.Rsa1024 or PivAlgorithm.Rsa2048 or PivAlgorithm.Rsa3072 or PivAlgorithm.Rsa4096;

    public static bool IsEcdsa(PivAlgorithm algorithm) => algorithm is PivAlgorithm.EccP256 or PivAlgorithm.EccP384;
}
