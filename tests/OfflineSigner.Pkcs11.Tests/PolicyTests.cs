using System.Text;
using OfflineSigner.Pkcs11.Interop;
using OfflineSigner.Signing;
using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Pkcs11.Tests;

/// <summary>Key protection policy, PIN retry flags and PIN sources: no device needed.</summary>
public sealed class PolicyTests
{
    private static readonly KeyProtectionEvidence Good = new("pkcs11", "pkcs11:object=k", true, true, true, false, true, "CKM_EC_KEY_PAIR_GEN");

    [Fact]
    public void A_key_generated_on_the_token_that_never_left_it_passes_the_strict_policy()
    {
        Assert.Empty(Good.Violations(KeyProtectionPolicy.Strict));
    }

    [Fact]
    public void Extractable_imported_or_unknown_keys_are_refused_unless_allowed()
    {
        var extractable = Good with { Extractable = true, NeverExtractable = false };
        Assert.Contains("the key is extractable", extractable.Violations(KeyProtectionPolicy.Strict));
        Assert.Empty(extractable.Violations(new KeyProtectionPolicy(AllowExtractable: true)));

        var imported = Good with { GeneratedOnDevice = false };
        Assert.Contains("the key was not generated on the device (it was imported)", imported.Violations(KeyProtectionPolicy.Strict));
        Assert.Empty(imported.Violations(new KeyProtectionPolicy(AllowNotGeneratedOnDevice: true)));

        var onceExtractable = Good with { NeverExtractable = false };
        Assert.Single(onceExtractable.Violations(KeyProtectionPolicy.Strict));

        var unknown = new KeyProtectionEvidence("pkcs11", "k", null, null, null, null, null, null);
        Assert.Equal(3, unknown.Violations(KeyProtectionPolicy.Strict).Count);
    }

    [Theory]
    [InlineData(0x0UL, PinRetryStatus.NoFailures)]
    [InlineData(0x10000UL, PinRetryStatus.CountLow)]
    [InlineData(0x30000UL, PinRetryStatus.FinalTry)]
    [InlineData(0x70000UL, PinRetryStatus.Locked)]
    [InlineData(0x4042DUL, PinRetryStatus.Locked)]
    public void Pin_status_comes_from_the_most_severe_flag(ulong flags, PinRetryStatus expected)
    {
        Assert.Equal(expected, Pkcs11TokenInfo.PinStatusFromFlags(flags));
    }

    [Fact]
    public void Pin_file_loses_its_final_newline_and_must_not_be_world_readable()
    {
        using var dir = TestEnvironment.CreateTempDir("pin");
        var path = Path.Combine(dir.Path, "pin");
        File.WriteAllBytes(path, Encoding.ASCII.GetBytes("12 34\r\n"));
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Assert.Equal("12 34"u8.ToArray(), new FilePinSource(path).ReadPin());

        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        var e = Assert.Throws<Pkcs11TokenException>(() => new FilePinSource(path).ReadPin());
        Assert.Contains("readable or writable by other users", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("12 34", e.Message, StringComparison.Ordinal);

        File.WriteAllBytes(path, "\n"u8.ToArray());
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Assert.Contains("is empty", Assert.Throws<Pkcs11TokenException>(() => new FilePinSource(path).ReadPin()).Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", Assert.Throws<Pkcs11TokenException>(() => new FilePinSource(path + ".missing").ReadPin()).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Systemd_credential_names_are_file_names()
    {
        Assert.Throws<ArgumentException>(() => new SystemdCredentialPinSource("../etc/shadow"));
        Assert.Equal("systemd credential 'hsm-pin'", new SystemdCredentialPinSource("hsm-pin").Description);
    }

    [Fact]
    public void Bytes_pin_source_hands_out_copies_and_wipes_its_own()
    {
        var source = new BytesPinSource("9876"u8);
        var first = source.ReadPin();
        first[0] = 0;
        Assert.Equal("9876"u8.ToArray(), source.ReadPin());
        source.Dispose();
        Assert.Equal(new byte[4], source.ReadPin());
    }

    [Fact]
    public void Recoverable_errors_are_the_ones_a_new_session_can_cure()
    {
        Assert.True(Pkcs11Token.IsRecoverable(Ckr.SessionHandleInvalid));
        Assert.True(Pkcs11Token.IsRecoverable(Ckr.DeviceRemoved));
        Assert.True(Pkcs11Token.IsRecoverable(Ckr.TokenNotPresent));
        Assert.True(Pkcs11Token.IsRecoverable(Ckr.KeyHandleInvalid));
        Assert.False(Pkcs11Token.IsRecoverable(Ckr.PinIncorrect));
        Assert.False(Pkcs11Token.IsRecoverable(Ckr.PinLocked));
        Assert.False(Pkcs11Token.IsRecoverable(Ckr.MechanismInvalid));
    }
}
