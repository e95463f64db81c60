using System.Security.Cryptography;
using OfflineSigner.Tuf.Crypto;
using Xunit;

namespace OfflineSigner.Signing.Tests;

/// <summary>Ed25519 through libcrypto and the ECDSA signature encodings.</summary>
public sealed class PrimitiveTests
{
    // RFC 8032 §7.1, TEST 1 (empty message), TEST 2 (one byte) and TEST 3 (two bytes): seed, public key, message, signature.
    public static TheoryData<string, string, string, string> Rfc8032Vectors() => new()
    {
        {
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        },
        {
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
        },
        {
            "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            "af82",
            "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"
        },
    };

    [Theory]
    [MemberData(nameof(Rfc8032Vectors))]
    public void Ed25519_matches_rfc8032(string seed, string publicKey, string message, string signature)
    {
        using var key = Ed25519PrivateKey.FromSeed(Convert.FromHexString(seed));
        Assert.Equal(publicKey, Convert.ToHexStringLower(key.PublicKey.Ed25519RawKey));
        Assert.Equal(signature, Convert.ToHexStringLower(key.Sign(Convert.FromHexString(message))));
        Assert.True(Ed25519.Verify(Convert.FromHexString(publicKey), Convert.FromHexString(message), Convert.FromHexString(signature)));
        Assert.False(Ed25519.Verify(Convert.FromHexString(publicKey), [.. Convert.FromHexString(message), 0], Convert.FromHexString(signature)));
    }

    [Fact]
    public void Ed25519_verify_returns_false_for_wrong_lengths_and_never_throws()
    {
        using var key = Ed25519PrivateKey.Generate();
        var sig = key.Sign("m"u8);
        var raw = key.PublicKey.Ed25519RawKey.ToArray();
        Assert.True(Ed25519.Verify(raw, "m"u8, sig));
        Assert.False(Ed25519.Verify(raw, "m"u8, sig.AsSpan(0, 63)));
        Assert.False(Ed25519.Verify(raw, "m"u8, [.. sig, 0]));
        Assert.False(Ed25519.Verify(raw, "m"u8, []));
        Assert.False(Ed25519.Verify(raw.AsSpan(0, 31), "m"u8, sig));
        Assert.False(Ed25519.Verify(new byte[32], "m"u8, sig));

        // s >= L (the group order) must be refused: add L to s, which leaves s mod L unchanged.
        var malleable = (byte[])sig.Clone();
        AddGroupOrder(malleable.AsSpan(32));
        Assert.False(Ed25519.Verify(raw, "m"u8, malleable));
    }

    [Fact]
    public void Ed25519_pkcs8_round_trip_keeps_the_key()
    {
        using var key = Ed25519PrivateKey.Generate();
        var pkcs8 = key.ExportPkcs8PrivateKey();
        using var again = Ed25519PrivateKey.ImportPkcs8PrivateKey(pkcs8);
        Assert.Equal(key.PublicKey, again.PublicKey);
        Assert.Throws<CryptographicException>(() => Ed25519PrivateKey.ImportPkcs8PrivateKey(pkcs8.AsSpan(1)));
        Assert.Throws<ArgumentException>(() => Ed25519PrivateKey.FromSeed(new byte[31]));
    }

    [Fact]
    public void Der_and_p1363_convert_both_ways()
    {
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        for (var i = 0; i < 64; i++)
        {
            var message = BitConverter.GetBytes(i);
            var rs = ecdsa.SignData(message, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
            var der = ecdsa.SignData(message, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);

            // .NET's own DER encoder is the reference for ours.
            var ours = SignatureVerifier.P1363ToDer(rs);
            Assert.True(ecdsa.VerifyData(message, ours, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence));
            Assert.Equal(rs, SignatureVerifier.DerToP1363(ours, 32));
            Assert.True(ecdsa.VerifyData(message, SignatureVerifier.DerToP1363(der, 32), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
        }
    }

    [Fact]
    public void Der_with_small_values_is_minimal()
    {
        var rs = new byte[64];
        rs[31] = 1;
        rs[32] = 0x80;
        var der = SignatureVerifier.P1363ToDer(rs);
        // r = 1 takes one byte; s has its top bit set and takes a leading zero byte to stay positive.
        Assert.Equal("3026020101022100" + "80" + new string('0', 62), Convert.ToHexStringLower(der));
        Assert.Equal(rs, SignatureVerifier.DerToP1363(der, 32));
    }

    [Theory]
    [InlineData("3006020101020101ff")] // trailing byte after the sequence
    [InlineData("300702020001020101")] // non-minimal INTEGER (leading zero)
    [InlineData("30060201ff020101")] // negative r
    [InlineData("3006020100020101")] // r = 0
    [InlineData("3003020101")] // s missing
    [InlineData("3009020101020101020101")] // a third integer
    [InlineData("3180020101020101")] // indefinite length / wrong tag
    [InlineData("")]
    public void Der_to_p1363_is_strict(string hex)
    {
        Assert.Throws<CryptographicException>(() => SignatureVerifier.DerToP1363(Convert.FromHexString(hex), 32));
    }

    [Fact]
    public void Der_integer_larger_than_the_field_is_refused()
    {
        var tooBig = new byte[66];
        tooBig[0] = 0x7f;
        tooBig[33] = 0x7f;
        var der = SignatureVerifier.P1363ToDer(tooBig);
        Assert.Throws<CryptographicException>(() => SignatureVerifier.DerToP1363(der, 32));
        Assert.Throws<ArgumentException>(() => SignatureVerifier.P1363ToDer(new byte[63]));
    }

    private static void AddGroupOrder(Span<byte> littleEndianScalar)
    {
        // L = 2^252 + 27742317777372353535851937790883648493, little-endian.
        ReadOnlySpan<byte> order =
        [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
        ];
        var carry = 0;
        for (var i = 0; i < 32; i++)
        {
            var sum = littleEndianScalar[i] + order[i] + carry;
            littleEndianScalar[i] = (byte)sum;
            carry = sum >> 8;
        }
    }
}
