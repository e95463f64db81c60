using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using OfflineSigner.Pkcs11;
using OfflineSigner.Signing;
using OfflineSigner.YubiKey;
using OfflineSigner.YubiKey.Piv;
using OfflineSigner.YubiKeySimulator;

namespace OfflineSigner.YubiKeyBench;

/// <summary>
/// Card commands and time per signature, once the signer is open, for a key on a simulated YubiKey 5 (firmware 5.4.3)
/// in this process's own pcscd: our PivSigner, and Yubico's ykcs11 (2.2.0) through our PKCS#11 backend, side by side
/// in one run on the same card. The simulator logs every APDU and the time it spent answering it (the "card time");
/// the rest of a signature's wall time is the host's: pcscd, vpcd, and the client. For PivSigner the client's own
/// share (wall time minus the time waiting in SCardTransmit) is shown separately.
/// Usage: YubiKeyBench [SIGNATURES] [ROUNDS]
/// </summary>
internal static class Program
{
    private const string Ykcs11 = "/usr/lib/x86_64-linux-gnu/libykcs11.so";
    private static readonly byte[] Pin = "123456"u8.ToArray();
    private static readonly byte[] ManagementKey = Convert.FromHexString("010203040506070801020304050607080102030405060708");

    private sealed record Row(string Workload, string Client, double ApdusPerSignature, double WallMs, double CardMs, double ClientMs);

    public static int Main(string[] args)
    {
        var signatures = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 200;
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
        try
        {
            _ = PcscRig.Sandbox;
        }
        catch (PcscdUnavailableException e)
        {
            Console.Error.WriteLine("pcscd with vpcd cannot run here: " + e.Message);
            return 3;
        }

        if (!File.Exists(Ykcs11))
        {
            Console.Error.WriteLine($"{Ykcs11} is not installed (Debian package ykcs11)");
            return 3;
        }

        using var ca = SimulatorCa.Create();
        const uint serial = 31415926;
        using var card = PcscRig.Insert(new CardOptions { Serial = serial }, ca);
        WaitListed(serial);
        using (var device = YubiKeyDevices.Open(serial))
        {
            device.GenerateKey(PivSlot.Signature, KeyAlgorithm.EcdsaP256, PivPinPolicy.Always, PivTouchPolicy.Never, ManagementKey);
            device.GenerateKey(PivSlot.Authentication, KeyAlgorithm.EcdsaP256, PivPinPolicy.Once, PivTouchPolicy.Never, ManagementKey);
            device.GenerateKey(PivSlot.KeyManagement, KeyAlgorithm.Rsa2048, PivPinPolicy.Once, PivTouchPolicy.Never, ManagementKey);
        }

        // ykcs11's CKA_ID for a slot: 9a=1, 9c=2, 9d=3.
        var workloads = new (string Name, PivSlot Slot, byte Ykcs11Id)[]
        {
            ("ECDSA P-256, 9c, PIN always", PivSlot.Signature, 2),
            ("ECDSA P-256, 9a, PIN once", PivSlot.Authentication, 1),
            ("RSA-2048-PSS, 9d, PIN once", PivSlot.KeyManagement, 3),
        };

        var rows = new List<Row>();
        for (var round = 0; round < rounds; round++)
        {
            foreach (var (name, slot, id) in workloads)
            {
                rows.Add(Ours(card.Card, serial, name, slot, signatures));
                rows.Add(ThroughYkcs11(card.Card, serial, name, id, signatures));
            }

            // What the daemon does for each Sign RPC: find the device, open the key, sign once, close.
            var calls = Math.Max(5, signatures / 10);
            rows.Add(OursPerCall(card.Card, serial, "open + sign + close, 9c", PivSlot.Signature, calls));
            rows.Add(Ykcs11PerCall(card.Card, serial, "open + sign + close, 9c", 2, calls));
        }

        Console.WriteLine($"YubiKey PIV signing, {signatures} signatures per workload and client, best of {rounds} rounds; load average {File.ReadAllText("/proc/loadavg").Trim()}");
        Console.WriteLine($"{"workload",-30} {"client",-22} {"APDUs/sig",9} {"wall ms",8} {"card ms",8} {"host ms",8} {"client ms",9}");
        foreach (var group in rows.GroupBy(r => (r.Workload, r.Client)))
        {
            var best = group.MinBy(r => r.WallMs)!;
            Console.WriteLine($"{best.Workload,-30} {best.Client,-22} {best.ApdusPerSignature,9:0.00} {best.WallMs,8:0.000} {best.CardMs,8:0.000} {best.WallMs - best.CardMs,8:0.000} {(double.IsNaN(best.ClientMs) ? "-" : best.ClientMs.ToString("0.000", CultureInfo.InvariantCulture)),9}");
        }

        foreach (var name in workloads.Select(w => w.Name).Append("open + sign + close, 9c"))
        {
            var ours = rows.Where(r => r.Workload == name && r.Client == "ours (PivSigner)").MinBy(r => r.WallMs)!;
            var theirs = rows.Where(r => r.Workload == name && r.Client == "ykcs11 via our PKCS#11").MinBy(r => r.WallMs)!;
            Console.WriteLine($"{name}: ykcs11 sends {theirs.ApdusPerSignature / ours.ApdusPerSignature:0.0}x the APDUs; host time ykcs11/ours {(theirs.WallMs - theirs.CardMs) / (ours.WallMs - ours.CardMs):0.0}x");
        }

        return 0;
    }

    private static Row Ours(PivCard card, uint serial, string name, PivSlot slot, int signatures)
    {
        using var signer = YubiKeyDevices.Open(serial).OpenSigner(slot, Pin);
        var message = RandomNumberGenerator.GetBytes(2048);
        for (var i = 0; i < 10; i++)
        {
            signer.Sign(message, HashAlgorithmName.SHA256);
        }

        var (apdus, wall, cardTime, transmit) = Measure(card, signatures, () => signer.Sign(message, HashAlgorithmName.SHA256), () => signer.TransmitTime);
        return new Row(name, "ours (PivSigner)", apdus, wall, cardTime, (wall - transmit));
    }

    private static Row ThroughYkcs11(PivCard card, uint serial, string name, byte id, int signatures)
    {
        using var pin = new BytesPinSource(Pin);
        using var token = Pkcs11Token.Open(new Pkcs11TokenOptions(Ykcs11, TokenSelector.BySerial(serial.ToString(CultureInfo.InvariantCulture)), pin));
        using var signer = Pkcs11Signer.Open(token, Pkcs11Uri.ForKey(token.Info!.Label, null, null, [id]), new KeyProtectionPolicy(AllowNotGeneratedOnDevice: true));
        var message = RandomNumberGenerator.GetBytes(2048);
        for (var i = 0; i < 10; i++)
        {
            signer.Sign(message, HashAlgorithmName.SHA256);
        }

        var (apdus, wall, cardTime, _) = Measure(card, signatures, () => signer.Sign(message, HashAlgorithmName.SHA256), null);
        return new Row(name, "ykcs11 via our PKCS#11", apdus, wall, cardTime, double.NaN);
    }

    private static Row OursPerCall(PivCard card, uint serial, string name, PivSlot slot, int calls)
    {
        var message = RandomNumberGenerator.GetBytes(2048);
        var (apdus, wall, cardTime, _) = Measure(card, calls, () =>
        {
            using var signer = YubiKeyDevices.Open(serial).OpenSigner(slot, Pin);
            signer.Sign(message, HashAlgorithmName.SHA256);
        }, null);
        return new Row(name, "ours (PivSigner)", apdus, wall, cardTime, double.NaN);
    }

    private static Row Ykcs11PerCall(PivCard card, uint serial, string name, byte id, int calls)
    {
        var message = RandomNumberGenerator.GetBytes(2048);

        // As Pkcs11Backend does: the module stays initialized, each call opens the token and the key.
        using var module = Pkcs11Module.Load(Ykcs11);
        var (apdus, wall, cardTime, _) = Measure(card, calls, () =>
        {
            using var pin = new BytesPinSource(Pin);
            using var token = Pkcs11Token.Open(new Pkcs11TokenOptions(Ykcs11, TokenSelector.BySerial(serial.ToString(CultureInfo.InvariantCulture)), pin));
            using var signer = Pkcs11Signer.Open(token, Pkcs11Uri.ForKey(token.Info!.Label, null, null, [id]), new KeyProtectionPolicy(AllowNotGeneratedOnDevice: true));
            signer.Sign(message, HashAlgorithmName.SHA256);
        }, null);
        return new Row(name, "ykcs11 via our PKCS#11", apdus, wall, cardTime, double.NaN);
    }

    /// <summary>APDUs per signature, and wall, card and transmit time per signature in milliseconds.</summary>
    private static (double Apdus, double Wall, double Card, double Transmit) Measure(PivCard card, int signatures, Action sign, Func<TimeSpan>? transmit)
    {
        card.ClearLog();
        var transmitBefore = transmit?.Invoke() ?? TimeSpan.Zero;
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < signatures; i++)
        {
            sign();
        }

        watch.Stop();
        var log = card.Log;
        var transmitted = (transmit?.Invoke() ?? TimeSpan.Zero) - transmitBefore;
        return (
            (double)log.Count / signatures,
            watch.Elapsed.TotalMilliseconds / signatures,
            log.Sum(r => r.CardTime.TotalMilliseconds) / signatures,
            transmitted.TotalMilliseconds / signatures);
    }

    private static void WaitListed(uint serial)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!YubiKeyDevices.List().Any(d => d.Serial == serial))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("the simulated YubiKey did not appear");
            }

            Thread.Sleep(50);
        }
    }
}
