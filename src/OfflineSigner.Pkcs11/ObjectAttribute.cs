using System.Buffers.Binary;
using System.Text;
using OfflineSigner.Pkcs11.Interop;

namespace OfflineSigner.Pkcs11;

/// <summary>One PKCS#11 attribute: a CKA_* type and its value bytes as the module sees them (native CK_ULONG layout).</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1711", Justification = "PKCS#11 calls these attributes; the name matches Pkcs11Interop's HighLevelAPI so a swap is mechanical.")]
public sealed class ObjectAttribute
{
    public ObjectAttribute(ulong type, byte[]? value)
    {
        Type = type;
        Value = value;
    }

    /// <summary>The CKA_* type.</summary>
    public ulong Type { get; }

    /// <summary>The value, or null when the module could not give it (sensitive, or not an attribute of the object).</summary>
    public byte[]? Value { get; }

    /// <summary>Whether the module gave a value.</summary>
    public bool IsAvailable => Value is not null;

    public static ObjectAttribute FromBool(ulong type, bool value) => new(type, [value ? (byte)1 : (byte)0]);

    public static ObjectAttribute FromUlong(ulong type, ulong value)
    {
        var bytes = new byte[Pkcs11Layout.UlongSize];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        if (!BitConverter.IsLittleEndian)
        {
            BinaryPrimitives.WriteUInt64BigEndian(bytes, value);
        }

        return new ObjectAttribute(type, bytes);
    }

    public static ObjectAttribute FromBytes(ulong type, ReadOnlySpan<byte> value) => new(type, value.ToArray());

    public static ObjectAttribute FromString(ulong type, string value) => new(type, Encoding.UTF8.GetBytes(value));

    /// <summary>The value as CK_BBOOL, or null when unavailable.</summary>
    public bool? GetBool() => Value is { Length: 1 } v ? v[0] != 0 : null;

    /// <summary>The value as CK_ULONG, or null when unavailable.</summary>
    public ulong? GetUlong()
    {
        if (Value is not { Length: Pkcs11Layout.UlongSize } v)
        {
            return null;
        }

        return BitConverter.IsLittleEndian ? BinaryPrimitives.ReadUInt64LittleEndian(v) : BinaryPrimitives.ReadUInt64BigEndian(v);
    }

    /// <summary>The value as UTF-8 text, or null when unavailable.</summary>
    public string? GetString() => Value is null ? null : Encoding.UTF8.GetString(Value);

    public override string ToString() => $"0x{Type:X}={(Value is null ? "unavailable" : Convert.ToHexString(Value))}";
}

/// <summary>Attribute and mechanism constants the high-level API exposes to callers that need raw access.</summary>
public static class Pkcs11Attributes
{
    public const ulong Class = Cka.Class;
    public const ulong Token = Cka.Token;
    public const ulong Private = Cka.Private;
    public const ulong Label = Cka.Label;
    public const ulong Value = Cka.Value;
    public const ulong KeyType = Cka.KeyType;
    public const ulong Id = Cka.Id;
    public const ulong Sensitive = Cka.Sensitive;
    public const ulong Sign = Cka.Sign;
    public const ulong Verify = Cka.Verify;
    public const ulong Modulus = Cka.Modulus;
    public const ulong ModulusBits = Cka.ModulusBits;
    public const ulong PublicExponent = Cka.PublicExponent;
    public const ulong Extractable = Cka.Extractable;
    public const ulong Local = Cka.Local;
    public const ulong NeverExtractable = Cka.NeverExtractable;
    public const ulong AlwaysSensitive = Cka.AlwaysSensitive;
    public const ulong KeyGenMechanism = Cka.KeyGenMechanism;
    public const ulong EcParams = Cka.EcParams;
    public const ulong EcPoint = Cka.EcPoint;
    public const ulong AlwaysAuthenticate = Cka.AlwaysAuthenticate;
}
