using System.Security.Cryptography;
using OfflineSigner.Signing;
using OfflineSigner.Tests.Shared;
using OfflineSigner.YubiKey.Piv;
using OfflineSigner.YubiKey.Tests.Support;
using OfflineSigner.YubiKeySimulator;
using Xunit;

namespace OfflineSigner.YubiKey.Tests;

/// <summary>The YubiKey backend through a real pcscd and vpcd to the simulated card: devices, keys, PINs, removal, touch.</summary>
[Collection(SimulatedCard.Collection)]
public sealed class PivBackendTests
{
    internal static readonly byte[] Pin = "123456"u8.ToArray();
    internal static readonly byte[] ManagementKey = Convert.FromHexString("010203040506070801020304050607080102030405060708");

    [Fact]
    public void Opens_the_device_by_serial_and_names_the_right_one_when_another_is_inserted()
    {
        using var card = SimulatedCard.Insert();
        var listed = Assert.Single(YubiKeyDevices.List(), d => d.Serial == card.Serial);
        Assert.Equal(new FirmwareVersion(5, 4, 3), listed.Firmware);
        Assert.Equal(card.ReaderName, listed.ReaderName);

        using (var device = YubiKeyDevices.Open(card.Serial))
        {
            Assert.Equal(card.Serial, device.Serial);
            Assert.Equal(3, device.PinRetries());
        }

        var wanted = card.Serial + 1;
        var missing = Assert.Throws<YubiKeyNotPresentException>(() => YubiKeyDevices.Open(wanted, "Alice"));
        Assert.Equal($"insert Alice's YubiKey with serial {wanted}: inserted: YubiKey serial {card.Serial}, which is not the right one", missing.Message);
        Assert.Equal([card.Serial], missing.PresentSerials);
    }

    [Fact]
    public void Waits_for_the_right_device_asking_for_it_by_serial_and_holder()
    {
        using var card = SimulatedCard.Insert();
        var wanted = card.Serial + 7;
        var prompts = new List<string>();
        SimulatedCard? second = null;
        var inserter = new Thread(() =>
        {
            Thread.Sleep(1500);
            second = SimulatedCard.Insert(new CardOptions { Serial = wanted }, slot: 1, ca: card.Ca);
        });
        inserter.Start();
        try
        {
            using var device = YubiKeyDevices.WaitAndOpen(wanted, "Bob", TimeSpan.FromSeconds(30), prompts.Add);
            Assert.Equal(wanted, device.Serial);
            Assert.Equal($"insert Bob's YubiKey with serial {wanted}: inserted: YubiKey serial {card.Serial}, which is not the right one", Assert.Single(prompts));
        }
        finally
        {
            inserter.Join();
            second?.Dispose();
        }

        var timeout = Assert.Throws<YubiKeyNotPresentException>(() => YubiKeyDevices.WaitAndOpen(wanted + 1, "Bob", TimeSpan.FromMilliseconds(300), null));
        Assert.Contains($"serial {wanted + 1}", timeout.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Generating_refuses_an_occupied_slot_and_a_wrong_management_key()
    {
        using var card = SimulatedCard.Insert();
        using var device = YubiKeyDevices.Open(card.Serial);
        var key = device.GenerateKey(PivSlot.Signature, KeyAlgorithm.EcdsaP256, PivPinPolicy.Always, PivTouchPolicy.Never, ManagementKey);
        var again = Assert.Throws<PivSlotOccupiedException>(() => device.GenerateKey(PivSlot.Signature, KeyAlgorithm.EcdsaP256, PivPinPolicy.Always, PivTouchPolicy.Never, ManagementKey));
        Assert.Contains("already holds", again.Message, StringComparison.Ordinal);
        Assert.Equal(key.SubjectPublicKeyInfo, device.GetKey(PivSlot.Signature)!.SubjectPublicKeyInfo);

        var wrong = (byte[])ManagementKey.Clone();
        wrong[^1] ^= 0xFF;
        Assert.Throws<PivSecurityStatusException>(() => device.GenerateKey(PivSlot.Authentication, KeyAlgorithm.EcdsaP256, PivPinPolicy.Once, PivTouchPolicy.Never, wrong));
        Assert.Null(device.GetKey(PivSlot.Authentication));
    }

    [Fact]
    public void A_wrong_pin_counts_down_then_blocks_and_is_never_retried()
    {
        using var card = SimulatedCard.Insert();
        using (var device = YubiKeyDevices.Open(card.Serial))
        {
            device.GenerateKey(PivSlot.Authentication, KeyAlgorithm.EcdsaP256, PivPinPolicy.Once, PivTouchPolicy.Never, ManagementKey);
            device.GenerateKey(PivSlot.Signature, KeyAlgorithm.EcdsaP256, PivPinPolicy.Always, PivTouchPolicy.Never, ManagementKey);
        }

        // PIN policy "once": the PIN is checked when the signer opens.
        for (var left = 2; left >= 1; left--)
        {
            using var device = YubiKeyDevices.Open(card.Serial);
            var e = Assert.Throws<PivPinException>(() => device.OpenSigner(PivSlot.Authentication, "654321"u8));
            Assert.Equal(left, e.RetriesRemaining);
            Assert.Contains($"{left} {(left == 1 ? "try" : "tries")} left", e.Message, StringComparison.Ordinal);
            Assert.Equal(left, card.Card.PinRetriesRemaining);
        }

        // PIN policy "always": the PIN is checked at each signature; the last wrong one blocks it.
        using (var device = YubiKeyDevices.Open(card.Serial))
        using (var signer = device.OpenSigner(PivSlot.Signature, "654321"u8))
        {
            var before = card.Card.ApduCount;
            var blocked = Assert.Throws<PivPinException>(() => signer.Sign("x"u8, HashAlgorithmName.SHA256));
            Assert.True(blocked.Blocked);
            Assert.Contains("blocked", blocked.Message, StringComparison.Ordinal);
            Assert.Contains("PUK", blocked.Message, StringComparison.Ordinal);

            // One VERIFY, and no signature attempted after it failed.
            Assert.Equal(1, card.Card.ApduCount - before);
            Assert.DoesNotContain(card.Card.Log.Skip(before), r => r.Ins == 0x87);
        }

        using (var device = YubiKeyDevices.Open(card.Serial))
        {
            var stillBlocked = Assert.Throws<PivPinException>(() => device.VerifyPin(Pin));
            Assert.True(stillBlocked.Blocked);
            Assert.Equal(0, device.PinRetries());
            device.Session.UnblockPin("12345678"u8, Pin);
            Assert.Equal(3, device.PinRetries());
        }
    }

    [Fact]
    public void Removal_in_the_middle_of_a_signature_fails_clearly_and_the_next_signature_after_reinsertion_works()
    {
        using var card = SimulatedCard.Insert();
        byte[] spki;
        using (var device = YubiKeyDevices.Open(card.Serial))
        {
            spki = device.GenerateKey(PivSlot.Signature, KeyAlgorithm.EcdsaP256, PivPinPolicy.Always, PivTouchPolicy.Never, ManagementKey).SubjectPublicKeyInfo;
        }

        var message = "root.json, version 2"u8.ToArray();
        var signer = YubiKeyDevices.Open(card.Serial).OpenSigner(PivSlot.Signature, Pin);
        using (signer)
        {
            signer.Sign(message, HashAlgorithmName.SHA256);

            // Pulled out after VERIFY, as GENERAL AUTHENTICATE reaches the card.
            card.Key.Link.RemoveOn(apdu => apdu.Length > 4 && apdu[1] == 0x87 && apdu[3] == 0x9C);
            var removed = Assert.Throws<YubiKeyRemovedException>(() => signer.Sign(message, HashAlgorithmName.SHA256));
            Assert.Contains($"YubiKey serial {card.Serial} was removed during the signature with slot 9c", removed.Message, StringComparison.Ordinal);
            Assert.Contains("nothing was signed", removed.Message, StringComparison.Ordinal);

            // While it is out, the signer says which device to insert.
            var absent = Assert.Throws<YubiKeyNotPresentException>(() => signer.Sign(message, HashAlgorithmName.SHA256));
            Assert.Contains($"serial {card.Serial}", absent.Message, StringComparison.Ordinal);

            card.Key.Reinsert();
            card.WaitPresent();
            var signature = signer.Sign(message, HashAlgorithmName.SHA256);
            using var ec = ECDsa.Create();
            ec.ImportSubjectPublicKeyInfo(spki, out _);
            Assert.True(ec.VerifyData(message, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
        }

        // And a signer opened afresh works too.
        using var fresh = YubiKeyDevices.Open(card.Serial).OpenSigner(PivSlot.Signature, Pin);
        fresh.SelfTest();
    }

    [Fact]
    public void A_signature_takes_at_most_two_card_commands_once_the_signer_is_open()
    {
        using var card = SimulatedCard.Insert();
        using (var device = YubiKeyDevices.Open(card.Serial))
        {
            device.GenerateKey(PivSlot.Signature, KeyAlgorithm.EcdsaP256, PivPinPolicy.Always, PivTouchPolicy.Never, ManagementKey);
            device.GenerateKey(PivSlot.Authentication, KeyAlgorithm.Rsa2048, PivPinPolicy.Once, PivTouchPolicy.Never, ManagementKey);
        }

        foreach (var (slot, expected) in new[] { (PivSlot.Signature, 2), (PivSlot.Authentication, 1) })
        {
            using var signer = YubiKeyDevices.Open(card.Serial).OpenSigner(slot, Pin);
            var before = card.Card.ApduCount;
            var ours = signer.ApdusSent;
            for (var i = 0; i < 5; i++)
            {
                signer.Sign(RandomNumberGenerator.GetBytes(100), HashAlgorithmName.SHA256);
            }

            Assert.Equal(5 * expected, card.Card.ApduCount - before);
            Assert.Equal(5 * expected, signer.ApdusSent - ours);
        }
    }

    [Fact]
    public void Touch_is_asked_for_by_serial_and_a_touch_that_never_comes_fails_cleanly()
    {
        using var card = SimulatedCard.Insert(new CardOptions { TouchDelay = TimeSpan.FromMilliseconds(300) });
        using (var device = YubiKeyDevices.Open(card.Serial))
        {
            device.GenerateKey(PivSlot.Signature, KeyAlgorithm.EcdsaP256, PivPinPolicy.Always, PivTouchPolicy.Always, ManagementKey);
        }

        var prompts = new List<string>();
        using var signer = YubiKeyDevices.Open(card.Serial, "Carol").OpenSigner(PivSlot.Signature, Pin, new PivSignerOptions { TouchPrompt = prompts.Add });
        card.Card.Touch = TouchMode.Delay;
        signer.Sign("touched"u8, HashAlgorithmName.SHA256);
        Assert.Equal($"touch Carol's YubiKey serial {card.Serial} now (slot 9c)", Assert.Single(prompts));
        Assert.Equal(1, card.Card.TouchRequests);

        card.Card.Touch = TouchMode.Refuse;
        var refused = Assert.Throws<PivSecurityStatusException>(() => signer.Sign("not touched"u8, HashAlgorithmName.SHA256));
        Assert.Contains("touch did not come", refused.Message, StringComparison.Ordinal);
        card.Card.Touch = TouchMode.Auto;
        signer.Sign("touched again"u8, HashAlgorithmName.SHA256);
    }

    [Fact]
    public void The_signer_refuses_a_slot_that_holds_another_key_than_the_enrolled_one()
    {
        using var card = SimulatedCard.Insert();
        using var device = YubiKeyDevices.Open(card.Serial);
        device.GenerateKey(PivSlot.Signature, KeyAlgorithm.EcdsaP256, PivPinPolicy.Always, PivTouchPolicy.Never, ManagementKey);
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var e = Assert.Throws<YubiKeyException>(() => device.OpenSigner(PivSlot.Signature, Pin, new PivSignerOptions { ExpectedPublicKey = other.ExportSubjectPublicKeyInfo() }));
        Assert.Contains("not the enrolled one", e.Message, StringComparison.Ordinal);
        Assert.Throws<PivNotFoundException>(() => device.OpenSigner(PivSlot.KeyManagement, Pin));
    }

    [Fact]
    public void The_card_keeps_its_keys_and_counters_in_its_state_file_across_runs()
    {
        using var dir = TestEnvironment.CreateTempDir("yubikey-state");
        var state = Path.Combine(dir.Path, "card.json");
        using var ca = SimulatorCa.Create();
        byte[] spki;
        uint serial;
        using (var card = SimulatedCard.Insert(new CardOptions { StatePath = state }, ca: ca))
        {
            serial = card.Serial;
            using var device = YubiKeyDevices.Open(card.Serial);
            spki = device.GenerateKey(PivSlot.Signature, KeyAlgorithm.EcdsaP384, PivPinPolicy.Always, PivTouchPolicy.Never, ManagementKey).SubjectPublicKeyInfo;
            Assert.Throws<PivPinException>(() => device.VerifyPin("000000"u8));
        }

        using var again = SimulatedCard.Insert(new CardOptions { StatePath = state, Serial = serial }, ca: ca);
        using var reopened = YubiKeyDevices.Open(serial);
        Assert.Equal(spki, reopened.GetKey(PivSlot.Signature)!.SubjectPublicKeyInfo);
        Assert.Equal(2, reopened.PinRetries());
        using var signer = reopened.OpenSigner(PivSlot.Signature, Pin);
        signer.SelfTest();
    }
}
