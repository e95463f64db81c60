using OfflineSigner.Pkcs11.Interop;
using OfflineSigner.Pkcs11.Keys;
using OfflineSigner.Signing;
using Xunit;

namespace OfflineSigner.Pkcs11.Tests;

/// <summary>The attribute templates key generation sends, byte by byte.</summary>
public sealed class TemplateTests
{
    public static TheoryData<KeyAlgorithm> Algorithms =>
        [KeyAlgorithm.EcdsaP256, KeyAlgorithm.EcdsaP384, KeyAlgorithm.Ed25519, KeyAlgorithm.Rsa3072, KeyAlgorithm.Rsa4096];

    [Theory]
    [MemberData(nameof(Algorithms))]
    public void Private_key_is_a_sensitive_non_extractable_token_object_that_only_signs(KeyAlgorithm algorithm)
    {
        var t = KeyTemplates.PrivateKey(algorithm, "root-1", [0x01, 0x02]);
        Assert.Equal("0300000000000000", Hex(t, Cka.Class));
        Assert.Equal("01", Hex(t, Cka.Token));
        Assert.Equal("01", Hex(t, Cka.Private));
        Assert.Equal("01", Hex(t, Cka.Sensitive));
        Assert.Equal("00", Hex(t, Cka.Extractable));
        Assert.Equal("01", Hex(t, Cka.Sign));
        Assert.Equal("00", Hex(t, Cka.Decrypt));
        Assert.Equal("00", Hex(t, Cka.Unwrap));
        Assert.Equal("00", Hex(t, Cka.Derive));
        Assert.Equal("0102", Hex(t, Cka.Id));
        Assert.Equal(Convert.ToHexString("root-1"u8), Hex(t, Cka.Label));
        Assert.Equal(t.Count, t.Select(a => a.Type).Distinct().Count());
    }

    [Fact]
    public void Ec_public_keys_carry_the_curve_oid()
    {
        Assert.Equal("06082A8648CE3D030107", Hex(KeyTemplates.PublicKey(KeyAlgorithm.EcdsaP256, "k", [1]), Cka.EcParams));
        Assert.Equal("06052B81040022", Hex(KeyTemplates.PublicKey(KeyAlgorithm.EcdsaP384, "k", [1]), Cka.EcParams));
        Assert.Equal("06032B6570", Hex(KeyTemplates.PublicKey(KeyAlgorithm.Ed25519, "k", [1]), Cka.EcParams));
        Assert.Equal("4000000000000000", Hex(KeyTemplates.PublicKey(KeyAlgorithm.Ed25519, "k", [1]), Cka.KeyType));
        Assert.Equal("0300000000000000", Hex(KeyTemplates.PublicKey(KeyAlgorithm.EcdsaP256, "k", [1]), Cka.KeyType));
    }

    [Fact]
    public void Rsa_public_keys_carry_size_and_exponent()
    {
        var t = KeyTemplates.PublicKey(KeyAlgorithm.Rsa4096, "k", [1]);
        Assert.Equal("0010000000000000", Hex(t, Cka.ModulusBits));
        Assert.Equal("010001", Hex(t, Cka.PublicExponent));
        Assert.Equal("0200000000000000", Hex(t, Cka.Class));
        Assert.Equal("01", Hex(t, Cka.Token));
        Assert.Equal("01", Hex(t, Cka.Verify));
        Assert.Equal("000C000000000000", Hex(KeyTemplates.PublicKey(KeyAlgorithm.Rsa3072, "k", [1]), Cka.ModulusBits));
    }

    [Fact]
    public void Generation_mechanisms()
    {
        Assert.Equal(0x1040UL, KeyTemplates.GenerationMechanism(KeyAlgorithm.EcdsaP256).Type);
        Assert.Equal(0x1055UL, KeyTemplates.GenerationMechanism(KeyAlgorithm.Ed25519).Type);
        Assert.Equal(0x0UL, KeyTemplates.GenerationMechanism(KeyAlgorithm.Rsa3072).Type);
    }

    [Fact]
    public void Keys_are_identified_from_type_and_parameters()
    {
        Assert.Equal(KeyAlgorithm.EcdsaP256, KeyTemplates.Identify(Ckk.Ec, KeyTemplates.P256Params, 0));
        Assert.Equal(KeyAlgorithm.EcdsaP384, KeyTemplates.Identify(Ckk.Ec, KeyTemplates.P384Params, 0));
        Assert.Equal(KeyAlgorithm.Ed25519, KeyTemplates.Identify(Ckk.EcEdwards, KeyTemplates.Ed25519Params, 0));
        Assert.Equal(KeyAlgorithm.Ed25519, KeyTemplates.Identify(Ckk.EcEdwards, KeyTemplates.Ed25519NameParams, 0));
        Assert.Equal(KeyAlgorithm.Rsa3072, KeyTemplates.Identify(Ckk.Rsa, [], 3072));
        Assert.Null(KeyTemplates.Identify(Ckk.Ec, [0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x23], 0));
        Assert.Null(KeyTemplates.Identify(Ckk.Rsa, [], 1024));
    }

    [Fact]
    public void Ec_points_are_accepted_wrapped_or_raw()
    {
        var raw = new byte[65];
        raw[0] = 0x04;
        raw[1] = 0x55;
        byte[] wrapped = [0x04, 0x41, .. raw];
        Assert.Equal(raw, PublicKeyEncoding.UnwrapEcPoint(wrapped, 65));
        Assert.Equal(raw, PublicKeyEncoding.UnwrapEcPoint(raw, 65));
        Assert.Throws<Pkcs11KeyException>(() => PublicKeyEncoding.UnwrapEcPoint([0x04, 0x03, 1, 2, 3], 65));
    }

    private static string Hex(List<ObjectAttribute> template, ulong type) =>
        Convert.ToHexString(Assert.Single(template, a => a.Type == type).Value!);
}
