using System.Security.Cryptography;
using OfflineSigner.Tests.Shared;
using OfflineSigner.YubiKey.Apdu;
using OfflineSigner.YubiKey.Piv;
using OfflineSigner.YubiKey.Piv.Commands;
using Xunit;

namespace OfflineSigner.YubiKey.Tests;

/// <summary>
/// Every PIV command the backend sends, byte for byte against ../shared/HARDWARE.md's command table (and SP 800-73-4),
/// and the parsing of the answers, with no device.
/// </summary>
public sealed class PivCommandTests
{
    private static string Hex(CommandApdu command, bool extended = false) => Convert.ToHexString(command.Encode(extended));

    [Fact]
    public void Application_commands()
    {
        Assert.Equal("00A4040005A00000030800", Hex(SelectPivCommand.CreateCommandApdu()));
        Assert.Equal("00FD000000", Hex(GetVersionCommand.CreateCommandApdu()));
        Assert.Equal("00F8000000", Hex(GetSerialCommand.CreateCommandApdu()));
        Assert.Equal(new FirmwareVersion(5, 4, 3), GetVersionCommand.Parse(new ResponseApdu([5, 4, 3], 0x9000)));
        Assert.Equal(12345678u, GetSerialCommand.Parse(new ResponseApdu([0x00, 0xBC, 0x61, 0x4E], 0x9000)));
        Assert.Throws<YubiKeyException>(() => GetVersionCommand.Parse(new ResponseApdu([5, 4], 0x9000)));
        Assert.Throws<YubiKeyException>(() => SelectPivCommand.Check(new ResponseApdu([], 0x6A82)));
    }

    [Fact]
    public void Verify_pads_the_pin_with_ff_and_wipes_it()
    {
        var command = new VerifyPinCommand("123456"u8);
        var apdu = command.CreateCommandApdu();
        Assert.Equal("0020008008313233343536FFFF", Hex(apdu));
        Assert.True(apdu.Sensitive);
        command.Dispose();
        Assert.All(apdu.Data.ToArray(), b => Assert.Equal(0, b));
        Assert.Equal("00200080", Hex(new VerifyPinCommand().CreateCommandApdu()));
        Assert.Equal("0020008008" + "3132333435363738", Hex(new VerifyPinCommand("12345678"u8).CreateCommandApdu()));
        Assert.Throws<ArgumentException>(() => new VerifyPinCommand("12345"u8));
        Assert.Throws<ArgumentException>(() => new VerifyPinCommand("123456789"u8));
    }

    [Fact]
    public void Verify_without_data_reads_the_retry_state()
    {
        Assert.Null(VerifyPinCommand.ParseRetries(new ResponseApdu([], 0x9000)));
        Assert.Equal(3, VerifyPinCommand.ParseRetries(new ResponseApdu([], 0x63C3)));
        Assert.Equal(0, VerifyPinCommand.ParseRetries(new ResponseApdu([], 0x6983)));
        var wrong = Assert.Throws<PivPinException>(() => VerifyPinCommand.Check(new ResponseApdu([], 0x63C2)));
        Assert.Equal(2, wrong.RetriesRemaining);
        Assert.False(wrong.Blocked);
        Assert.True(Assert.Throws<PivPinException>(() => VerifyPinCommand.Check(new ResponseApdu([], 0x6983))).Blocked);
    }

    [Fact]
    public void Change_reference_and_reset_retry()
    {
        using var change = new ChangeReferenceCommand(ChangeReferenceCommand.ChangeReference, 0x80, "123456"u8, "654321"u8);
        Assert.Equal("0024008010" + "313233343536FFFF" + "363534333231FFFF", Hex(change.CreateCommandApdu()));
        using var puk = new ChangeReferenceCommand(ChangeReferenceCommand.ChangeReference, 0x81, "12345678"u8, "87654321"u8);
        Assert.Equal("0024008110" + "3132333435363738" + "3837363534333231", Hex(puk.CreateCommandApdu()));
        using var reset = new ChangeReferenceCommand(ChangeReferenceCommand.ResetRetry, 0x80, "12345678"u8, "123456"u8);
        Assert.Equal("002C008010" + "3132333435363738" + "313233343536FFFF", Hex(reset.CreateCommandApdu()));
        var e = Assert.Throws<PivPinException>(() => reset.Check(new ResponseApdu([], 0x63C1)));
        Assert.Equal("PUK", e.Reference);
    }

    [Fact]
    public void Management_key_authentication_with_the_default_3des_key()
    {
        Assert.Equal("0087039B047C02800000", Hex(new InitializeManagementAuthenticationCommand(PivManagementKeyAlgorithm.TripleDes).CreateCommandApdu()));
        Assert.Equal("00870C9B047C02800000", Hex(new InitializeManagementAuthenticationCommand(PivManagementKeyAlgorithm.Aes256).CreateCommandApdu()));
        var witness = InitializeManagementAuthenticationCommand.ParseWitness(
            new ResponseApdu(Convert.FromHexString("7C0A80081122334455667788"), 0x9000), PivManagementKeyAlgorithm.TripleDes);
        Assert.Equal("1122334455667788", Convert.ToHexString(witness));
        using var complete = new CompleteManagementAuthenticationCommand(PivManagementKeyAlgorithm.TripleDes, Convert.FromHexString("0102030405060708"), Convert.FromHexString("A1A2A3A4A5A6A7A8"));
        Assert.Equal("0087039B167C148008010203040506070881" + "08A1A2A3A4A5A6A7A800", Hex(complete.CreateCommandApdu()));
        Assert.Throws<PivSecurityStatusException>(() => CompleteManagementAuthenticationCommand.ParseResponse(new ResponseApdu([], 0x6982)));
    }

    [Theory]
    [InlineData("010203040506070801020304050607080102030405060708")]   // the default key: K1 = K2 = K3
    [InlineData("0123456789ABCDEF23456789ABCDEF01456789ABCDEF0123")]   // three different halves
    [InlineData("0123456789ABCDEF0123456789ABCDEF456789ABCDEF0123")]   // K1 = K2
    public void Triple_des_blocks_match_openssl(string keyHex)
    {
        var openssl = TestEnvironment.RequireTool("openssl", "Debian package openssl");
        var block = Convert.FromHexString("00112233445566778899AABBCCDDEEFF")[..8];
        var ours = PivManagementKeys.Transform(PivManagementKeyAlgorithm.TripleDes, Convert.FromHexString(keyHex), block, encrypt: true);
        using var dir = TestEnvironment.CreateTempDir("des");
        var output = Path.Combine(dir.Path, "out.bin");
        var result = ProcessRunner.Run(openssl, ["enc", "-des-ede3", "-K", keyHex, "-nopad", "-e", "-out", output], stdin: block);
        Assert.True(result.ExitCode == 0, result.ToString());
        var peer = File.ReadAllBytes(output);
        Assert.Equal(Convert.ToHexString(peer), Convert.ToHexString(ours));
        Assert.Equal(block, PivManagementKeys.Transform(PivManagementKeyAlgorithm.TripleDes, Convert.FromHexString(keyHex), ours, encrypt: false));
    }

    [Fact]
    public void Generate_with_and_without_policies()
    {
        var plain = new GenerateKeyPairCommand(new PivSlot(0x94), PivAlgorithm.EccP256, PivPinPolicy.Default, PivTouchPolicy.Default).CreateCommandApdu();
        Assert.Equal("0047009405AC0380011100", Hex(plain));
        Assert.Equal("00470094000005AC038001110000", Hex(plain, extended: true));
        Assert.Equal("0047009C00000BAC09800111AA0103AB01020000",
            Hex(new GenerateKeyPairCommand(PivSlot.Signature, PivAlgorithm.EccP256, PivPinPolicy.Always, PivTouchPolicy.Always).CreateCommandApdu(), extended: true));
        Assert.Equal("0047009A00000BAC09800107AA0102AB01010000",
            Hex(new GenerateKeyPairCommand(PivSlot.Authentication, PivAlgorithm.Rsa2048, PivPinPolicy.Once, PivTouchPolicy.Never).CreateCommandApdu(), extended: true));
    }

    [Fact]
    public void Generated_public_keys_become_subject_public_key_infos()
    {
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var p = ec.ExportParameters(false);
        var point = BerTlv.Concat([0x04], p.Q.X!, p.Q.Y!);
        var response = new ResponseApdu(BerTlv.Encode(0x7F49, BerTlv.Encode(0x86, point)), 0x9000);
        Assert.StartsWith("7F49438641", Convert.ToHexString(response.Data), StringComparison.Ordinal);
        var spki = new GenerateKeyPairCommand(PivSlot.Signature, PivAlgorithm.EccP256, PivPinPolicy.Default, PivTouchPolicy.Default).Parse(response);
        Assert.Equal(ec.ExportSubjectPublicKeyInfo(), spki);

        using var rsa = RSA.Create(2048);
        var r = rsa.ExportParameters(false);
        var rsaResponse = new ResponseApdu(BerTlv.Encode(0x7F49, BerTlv.Concat(BerTlv.Encode(0x81, r.Modulus!), BerTlv.Encode(0x82, r.Exponent!))), 0x9000);
        Assert.StartsWith("7F4982010981820100", Convert.ToHexString(rsaResponse.Data), StringComparison.Ordinal);
        Assert.Equal(rsa.ExportSubjectPublicKeyInfo(), new GenerateKeyPairCommand(PivSlot.Signature, PivAlgorithm.Rsa2048, 0, 0).Parse(rsaResponse));

        // A point off the curve, a short point, a 1024-bit modulus under an RSA-2048 label: all refused.
        var bad = (byte[])point.Clone();
        bad[^1] ^= 1;
        Assert.Throws<YubiKeyException>(() => new GenerateKeyPairCommand(PivSlot.Signature, PivAlgorithm.EccP256, 0, 0).Parse(new ResponseApdu(BerTlv.Encode(0x7F49, BerTlv.Encode(0x86, bad)), 0x9000)));
        Assert.Throws<YubiKeyException>(() => new GenerateKeyPairCommand(PivSlot.Signature, PivAlgorithm.EccP256, 0, 0).Parse(new ResponseApdu(BerTlv.Encode(0x7F49, BerTlv.Encode(0x86, point.AsSpan(0, 64))), 0x9000)));
        using var small = RSA.Create(1024);
        var s = small.ExportParameters(false);
        Assert.Throws<YubiKeyException>(() => new GenerateKeyPairCommand(PivSlot.Signature, PivAlgorithm.Rsa2048, 0, 0).Parse(new ResponseApdu(BerTlv.Encode(0x7F49, BerTlv.Concat(BerTlv.Encode(0x81, s.Modulus!), BerTlv.Encode(0x82, s.Exponent!))), 0x9000)));
        Assert.Throws<PivSecurityStatusException>(() => new GenerateKeyPairCommand(PivSlot.Signature, PivAlgorithm.EccP256, 0, 0).Parse(new ResponseApdu([], 0x6982)));
    }

    [Fact]
    public void Sign_attest_metadata_and_data_objects()
    {
        var hash = new byte[32];
        hash[0] = 0xAB;
        Assert.Equal("0087119C0000267C2482008120" + Convert.ToHexString(hash) + "0000",
            Hex(new SignCommand(PivSlot.Signature, PivAlgorithm.EccP256, hash).CreateCommandApdu(), extended: true));
        var rsaInput = new byte[256];
        Assert.StartsWith("0087079C" + "00010A" + "7C820106" + "8200" + "81820100",
            Hex(new SignCommand(PivSlot.Signature, PivAlgorithm.Rsa2048, rsaInput).CreateCommandApdu(), extended: true), StringComparison.Ordinal);
        Assert.Equal("AABB", Convert.ToHexString(new SignCommand(PivSlot.Signature, PivAlgorithm.EccP256, hash).Parse(new ResponseApdu(Convert.FromHexString("7C048202AABB"), 0x9000))));
        Assert.Throws<PivSecurityStatusException>(() => new SignCommand(PivSlot.Signature, PivAlgorithm.EccP256, hash).Parse(new ResponseApdu([], 0x6982)));

        Assert.Equal("00F99C00000000", Hex(new AttestCommand(PivSlot.Signature).CreateCommandApdu(), extended: true));
        Assert.Throws<PivNotFoundException>(() => new AttestCommand(PivSlot.Signature).Parse(new ResponseApdu([], 0x6A80)));

        Assert.Equal("00F7009C000000", Hex(new GetMetadataCommand(0x9C).CreateCommandApdu(), extended: true));
        Assert.Null(new GetMetadataCommand(0x9C).Parse(new ResponseApdu([], 0x6A88)));
        var metadata = new GetMetadataCommand(0x80).Parse(new ResponseApdu(Convert.FromHexString("0101FF0202000005010106020302"), 0x9000))!;
        Assert.Equal(PivAlgorithm.Pin, metadata.Algorithm);
        Assert.True(metadata.IsDefault);
        Assert.Equal(3, metadata.TotalRetries);
        Assert.Equal(2, metadata.RetriesRemaining);

        Assert.Equal("00CB3FFF055C035FC10A00", Hex(new GetDataCommand(0x5FC10A).CreateCommandApdu()));
        Assert.Equal("00CB3FFF0000055C035FFF010000", Hex(new GetDataCommand(0x5FFF01).CreateCommandApdu(), extended: true));
        Assert.Null(new GetDataCommand(0x5FC102).Parse(new ResponseApdu([], 0x6A82)));
        Assert.Equal("0102", Convert.ToHexString(new GetDataCommand(0x5FC102).Parse(new ResponseApdu(Convert.FromHexString("53020102"), 0x9000))!));

        var certificate = new byte[] { 0x30, 0x03, 0x02, 0x01, 0x01 };
        var content = PivCertificateObject.Wrap(certificate);
        Assert.Equal("70053003020101" + "710100" + "FE00", Convert.ToHexString(content));
        Assert.Equal("00DB3FFF13" + "5C035FC10A" + "530C" + Convert.ToHexString(content), Hex(new PutDataCommand(0x5FC10A, content).CreateCommandApdu()));
        Assert.Equal(certificate, PivCertificateObject.Unwrap(content, 0x5FC10A));
        Assert.Throws<YubiKeyException>(() => PivCertificateObject.Unwrap(Convert.FromHexString("70053003020101710101"), 0x5FC10A));
    }

    [Fact]
    public void Slots_name_their_certificate_objects()
    {
        Assert.Equal(0x5FC105, PivSlot.Authentication.CertificateObjectId);
        Assert.Equal(0x5FC10A, PivSlot.Signature.CertificateObjectId);
        Assert.Equal(0x5FC10B, PivSlot.KeyManagement.CertificateObjectId);
        Assert.Equal(0x5FC101, PivSlot.CardAuthentication.CertificateObjectId);
        Assert.Equal(0x5FC10D, new PivSlot(0x82).CertificateObjectId);
        Assert.Equal(0x5FC120, new PivSlot(0x95).CertificateObjectId);
        Assert.Equal(0x5FFF01, PivSlot.Attestation.CertificateObjectId);
        Assert.Equal(24, PivSlot.KeySlots.Count);
        Assert.Equal("9c", PivSlot.Parse("9C").ToString());
        Assert.Throws<FormatException>(() => PivSlot.Parse("9b"));
        Assert.Throws<FormatException>(() => PivSlot.Parse("96"));
        Assert.Equal(PivPinPolicy.Always, PivSlot.Signature.DefaultPinPolicy);
    }
}
