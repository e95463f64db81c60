using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using OfflineSigner.Pkcs11.Interop;
using Xunit;

namespace OfflineSigner.Pkcs11.Tests;

/// <summary>The Linux x64 layout of the PKCS#11 structures, checked against the sizes and offsets of pkcs11.h.</summary>
public sealed unsafe class LayoutTests
{
    [Fact]
    public void Attribute_and_mechanism_are_24_bytes_with_fields_at_0_8_16()
    {
        Assert.Equal(24, sizeof(CkAttribute));
        Assert.Equal(0, (int)Marshal.OffsetOf<CkAttribute>(nameof(CkAttribute.Type)));
        Assert.Equal(8, (int)Marshal.OffsetOf<CkAttribute>(nameof(CkAttribute.Value)));
        Assert.Equal(16, (int)Marshal.OffsetOf<CkAttribute>(nameof(CkAttribute.ValueLen)));
        Assert.Equal(24, sizeof(CkMechanism));
        Assert.Equal(8, (int)Marshal.OffsetOf<CkMechanism>(nameof(CkMechanism.Parameter)));
        Assert.Equal(16, (int)Marshal.OffsetOf<CkMechanism>(nameof(CkMechanism.ParameterLen)));
    }

    [Fact]
    public void Initialize_args_are_48_bytes_with_flags_at_32()
    {
        Assert.Equal(48, sizeof(CkCInitializeArgs));
        Assert.Equal(32, (int)Marshal.OffsetOf<CkCInitializeArgs>(nameof(CkCInitializeArgs.Flags)));
    }

    [Fact]
    public void Info_structures_have_the_sizes_of_pkcs11_h()
    {
        Assert.Equal(208, sizeof(CkTokenInfo));
        Assert.Equal(96, (int)Marshal.OffsetOf<CkTokenInfo>(nameof(CkTokenInfo.Flags)));
        Assert.Equal(184, (int)Marshal.OffsetOf<CkTokenInfo>(nameof(CkTokenInfo.HardwareVersion)));
        Assert.Equal(188, (int)Marshal.OffsetOf<CkTokenInfo>(nameof(CkTokenInfo.UtcTime)));
        Assert.Equal(112, sizeof(CkSlotInfo));
        Assert.Equal(96, (int)Marshal.OffsetOf<CkSlotInfo>(nameof(CkSlotInfo.Flags)));
        Assert.Equal(88, sizeof(CkInfo));
        Assert.Equal(40, (int)Marshal.OffsetOf<CkInfo>(nameof(CkInfo.Flags)));
        Assert.Equal(80, (int)Marshal.OffsetOf<CkInfo>(nameof(CkInfo.LibraryVersion)));
    }

    [Fact]
    public void Pss_parameters_are_three_little_endian_ulongs()
    {
        Assert.Equal(24, sizeof(CkRsaPkcsPssParams));
        var bytes = Pkcs11Mechanism.RsaPssSha256.Parameter!;
        Assert.Equal(
            "5002000000000000" + "0200000000000000" + "2000000000000000",
            Convert.ToHexString(bytes));
        Assert.Equal(0xDUL, Pkcs11Mechanism.RsaPssSha256.Type);
    }

    [Fact]
    public void Function_list_reads_each_pointer_at_8_plus_8_times_its_index()
    {
        // A fake CK_FUNCTION_LIST: version 2.40, then 68 pointers whose values are 0x1000 + index.
        const int entries = 68;
        var table = (byte*)NativeMemory.AllocZeroed((nuint)(8 + (8 * entries)));
        try
        {
            table[0] = 2;
            table[1] = 40;
            for (var i = 0; i < entries; i++)
            {
                *(nint*)(table + 8 + (8 * i)) = 0x1000 + i;
            }

            var list = Pkcs11FunctionList.FromTable((nint)table);
            Assert.Equal(2, list.Version.Major);
            Assert.Equal(40, list.Version.Minor);
            Assert.Equal(0x1000 + 0, (nint)list.Initialize);
            Assert.Equal(0x1000 + 1, (nint)list.Finalize);
            Assert.Equal(0x1000 + 4, (nint)list.GetSlotList);
            Assert.Equal(0x1000 + 6, (nint)list.GetTokenInfo);
            Assert.Equal(0x1000 + 12, (nint)list.OpenSession);
            Assert.Equal(0x1000 + 18, (nint)list.Login);
            Assert.Equal(0x1000 + 24, (nint)list.GetAttributeValue);
            Assert.Equal(0x1000 + 27, (nint)list.FindObjects);
            Assert.Equal(0x1000 + 42, (nint)list.SignInit);
            Assert.Equal(0x1000 + 43, (nint)list.Sign);
            Assert.Equal(0x1000 + 49, (nint)list.Verify);
            Assert.Equal(0x1000 + 59, (nint)list.GenerateKeyPair);
            Assert.Equal(0x1000 + 64, (nint)list.GenerateRandom);

            // A null entry is a broken module, named as such.
            *(nint*)(table + 8 + (8 * 43)) = 0;
            var e = Assert.Throws<Pkcs11ModuleException>(() => Pkcs11FunctionList.FromTable((nint)table));
            Assert.Contains("C_Sign", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            NativeMemory.Free(table);
        }
    }

    [Fact]
    public void Attribute_template_lays_out_the_array_then_8_byte_aligned_values()
    {
        using var t = NativeAttributeTemplate.From(
        [
            ObjectAttribute.FromUlong(Cka.Class, Cko.PrivateKey),
            ObjectAttribute.FromBool(Cka.Sensitive, true),
            ObjectAttribute.FromBytes(Cka.Id, [0xAB, 0xCD, 0xEF]),
        ]);
        var bytes = t.Bytes;
        Assert.Equal(72, t.ValuesOffset);
        Assert.Equal(72 + 8 + 8 + 8, bytes.Length);
        var baseAddress = (nint)t.Attributes;

        // Attribute 0: CKA_CLASS, pointer to offset 72, length 8, value CKO_PRIVATE_KEY little-endian.
        Assert.Equal(0UL, ReadU64(bytes, 0));
        Assert.Equal((ulong)(baseAddress + 72), ReadU64(bytes, 8));
        Assert.Equal(8UL, ReadU64(bytes, 16));
        Assert.Equal("0300000000000000", Convert.ToHexString(bytes.Slice(72, 8)));

        // Attribute 1: CKA_SENSITIVE, one byte CK_TRUE at offset 80.
        Assert.Equal(0x103UL, ReadU64(bytes, 24));
        Assert.Equal((ulong)(baseAddress + 80), ReadU64(bytes, 32));
        Assert.Equal(1UL, ReadU64(bytes, 40));
        Assert.Equal(1, bytes[80]);

        // Attribute 2: CKA_ID, three bytes at offset 88.
        Assert.Equal(0x102UL, ReadU64(bytes, 48));
        Assert.Equal((ulong)(baseAddress + 88), ReadU64(bytes, 56));
        Assert.Equal(3UL, ReadU64(bytes, 64));
        Assert.Equal("ABCDEF", Convert.ToHexString(bytes.Slice(88, 3)));
    }

    [Fact]
    public void Attribute_lengths_probe_has_null_values()
    {
        using var t = NativeAttributeTemplate.ForLengths([Cka.EcPoint, Cka.Label]);
        Assert.Equal(48, t.Bytes.Length);
        Assert.Equal(0x181UL, ReadU64(t.Bytes, 0));
        Assert.Equal(0UL, ReadU64(t.Bytes, 8));
        Assert.Equal(0UL, ReadU64(t.Bytes, 16));
        Assert.Equal(3UL, ReadU64(t.Bytes, 24));
    }

    [Fact]
    public void Unavailable_attribute_reads_as_null()
    {
        using var t = NativeAttributeTemplate.Allocate(1, _ => Cka.Value, [4]);
        t.Attributes[0].ValueLen = Pkcs11Layout.UnavailableInformation;
        Assert.Null(t.ReadValue(0));
    }

    [Fact]
    public void Return_values_are_named()
    {
        var e = new Pkcs11Exception("C_Login", 0xA0);
        Assert.Equal("C_Login failed: CKR_PIN_INCORRECT (0xA0)", e.Message);
        Assert.Equal("CKR_PIN_INCORRECT (0xA0)", e.ReturnValueName);
        Assert.Equal("CKR_SESSION_HANDLE_INVALID (0xB3)", Pkcs11Exception.NameOf(0xB3));
        Assert.Equal("CKR_USER_PIN_NOT_INITIALIZED (0x102)", Pkcs11Exception.NameOf(0x102));
        Assert.Equal("CKR 0x80000001", Pkcs11Exception.NameOf(0x80000001));
    }

    private static ulong ReadU64(ReadOnlySpan<byte> bytes, int offset) =>
        System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(bytes.Slice(offset, 8));

    [Fact]
    public void Bool_and_ulong_attributes_use_one_byte_and_eight_bytes()
    {
        Assert.Equal([1], ObjectAttribute.FromBool(Cka.Token, true).Value);
        Assert.Equal([0], ObjectAttribute.FromBool(Cka.Extractable, false).Value);
        Assert.Equal(8, ObjectAttribute.FromUlong(Cka.KeyType, Ckk.EcEdwards).Value!.Length);
        Assert.Equal(0x40UL, ObjectAttribute.FromUlong(Cka.KeyType, Ckk.EcEdwards).GetUlong());
        Assert.Equal(Pkcs11Layout.UlongSize, Unsafe.SizeOf<nuint>());
    }
}
