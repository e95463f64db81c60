using System.CommandLine;
using System.Security.Cryptography;
using OfflineSigner.Daemon.Configuration;
using OfflineSigner.Daemon.Services;
using OfflineSigner.Pkcs11;
using OfflineSigner.Signing;

namespace OfflineSigner.Daemon.Check;

/// <summary>
/// <c>offline-signerd check --config FILE [--self-test]</c>: loads every configured backend, lists its token and keys
/// with their protection, and with --self-test signs and verifies a challenge with each configured key.
/// Exit 0 when everything is usable, 1 when a backend or key has a problem, 2 when the configuration is invalid.
/// </summary>
internal static class CheckCommand
{
    public const int Ok = 0;
    public const int Problems = 1;
    public const int InvalidConfiguration = 2;

    public static Command Create()
    {
        var config = new Option<FileInfo>("--config") { Description = "the daemon's configuration file", Required = true };
        var selfTest = new Option<bool>("--self-test") { Description = "sign and verify a random challenge with every configured key" };
        var command = new Command("check", "check the configuration, modules, tokens, PINs and keys, then exit") { config, selfTest };
        command.SetAction(result => Run(result.GetValue(config)!.FullName, result.GetValue(selfTest), Console.Out, Console.Error));
        return command;
    }

    public static int Run(string configPath, bool selfTest, TextWriter output, TextWriter error)
    {
        DaemonConfiguration config;
        try
        {
            config = DaemonConfiguration.Load(configPath);
        }
        catch (ConfigurationException e)
        {
            error.WriteLine("error: " + e.Message);
            return InvalidConfiguration;
        }

        output.WriteLine($"configuration {configPath}: {config.Backends!.Count} backend(s)");
        var problems = 0;
        foreach (var backend in config.Backends)
        {
            problems += CheckBackend(backend, selfTest, output, error);
        }

        output.WriteLine(problems == 0 ? "check passed" : $"check failed: {problems} problem(s)");
        return problems == 0 ? Ok : Problems;
    }

    private static int CheckBackend(BackendConfiguration backend, bool selfTest, TextWriter output, TextWriter error)
    {
        if (backend.IsYubiKey)
        {
            return CheckYubiKeys(backend, selfTest, output, error);
        }

        var prefix = $"backend {backend.Name}";
        output.WriteLine($"{prefix}: module {backend.Module}, {backend.Selector}");
        Pkcs11Token token;
        try
        {
            token = Pkcs11Token.Open(backend.ToTokenOptions());
        }
        catch (SigningException e)
        {
            error.WriteLine($"error: {prefix}: {e.Message}");
            if (e is Pkcs11TokenException and not Pkcs11PinException)
            {
                // Show what is there: the usual cause is a label or serial that differs from the configuration.
                try
                {
                    using var module = Pkcs11Module.Load(backend.Module!);
                    ListTokens(module, output);
                }
                catch (SigningException listing)
                {
                    output.WriteLine($"  (cannot list the module's tokens: {listing.Message})");
                }
            }

            return 1;
        }

        using (token)
        {
            var info = token.Info!;
            var library = token.Module.GetInfo();
            output.WriteLine($"  module: {library.ManufacturerId} {library.LibraryDescription} {library.LibraryVersion} (Cryptoki {library.CryptokiVersion})");
            ListTokens(token.Module, output);
            output.WriteLine($"  token: label '{info.Label}' serial {info.SerialNumber} model {info.Model} ({info.ManufacturerId}); PIN: {Pkcs11TokenInfo.Describe(info.UserPinStatus)}");

            var problems = ListKeys(token, prefix, output, error);
            foreach (var key in backend.Keys ?? [])
            {
                problems += CheckKey(token, backend, key, selfTest, output, error);
            }

            return problems;
        }
    }

    /// <summary>A YubiKey backend: which configured devices are inserted, their keys and attestations, the configured keys.</summary>
    private static int CheckYubiKeys(BackendConfiguration backend, bool selfTest, TextWriter output, TextWriter error)
    {
        var prefix = $"backend {backend.Name}";
        YubiKeyBackend yubikeys;
        try
        {
            yubikeys = new YubiKeyBackend(backend.Name!, backend.ToYubiKeyOptions());
        }
        catch (ConfigurationException e)
        {
            error.WriteLine($"error: {prefix}: {e.Message}");
            return 1;
        }

        using (yubikeys)
        {
            var roots = yubikeys.Options.Roots;
            output.WriteLine($"{prefix}: YubiKey PIV, {yubikeys.Options.Devices.Count} device(s); attestation roots: {(roots is null ? "none configured" : $"{roots.Source} ({string.Join(", ", roots.AnchorFingerprints)})")}");
            var problems = 0;
            try
            {
                var present = yubikeys.Devices();
                foreach (var device in yubikeys.Options.Devices)
                {
                    var seen = present.FirstOrDefault(d => d.Serial == device.Serial.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    output.WriteLine(seen is null
                        ? $"  YubiKey serial {device.Serial} ({device.Holder ?? "no holder named"}): not inserted"
                        : $"  YubiKey serial {device.Serial} ({seen.Label}): {seen.Model}; PIN: {(seen.PinLocked ? "blocked" : seen.PinFinalTry ? "one try left" : seen.PinCountLow ? "failed attempts" : "ok")}");
                }

                foreach (var key in yubikeys.ListKeys([]))
                {
                    output.WriteLine($"    {key.Uri} {key.Algorithm}, public key SHA-256 {Convert.ToHexStringLower(SHA256.HashData(key.SubjectPublicKeyInfo))}: {(key.Violations.Count == 0 ? "attested, meets policy" : string.Join("; ", key.Violations))}");
                }
            }
            catch (SigningException e)
            {
                error.WriteLine($"error: {prefix}: {e.Message}");
                return 1;
            }

            foreach (var key in backend.Keys ?? [])
            {
                var where = $"{prefix}: key {key.Name} ({key.Uri})";
                try
                {
                    var found = yubikeys.GetKey(key.Uri!, []);
                    if (found.Violations.Count > 0)
                    {
                        error.WriteLine($"error: {where}: {string.Join("; ", found.Violations)}");
                        problems++;
                        continue;
                    }

                    output.WriteLine($"  key {key.Name}: {found.Algorithm}, public key SHA-256 {Convert.ToHexStringLower(SHA256.HashData(found.SubjectPublicKeyInfo))}, attested");
                    if (selfTest)
                    {
                        using var signer = yubikeys.OpenSigner(key.Uri!, []);
                        _ = signer.Sign(RandomNumberGenerator.GetBytes(32), HashAlgorithmName.SHA256);
                        output.WriteLine($"  key {key.Name}: self-test passed (signed and verified a random challenge)");
                    }
                }
                catch (Exception e) when (e is SigningException or OfflineSignerException or ArgumentException)
                {
                    error.WriteLine($"error: {where}: {e.Message}");
                    problems++;
                }
            }

            return problems;
        }
    }

    private static void ListTokens(Pkcs11Module module, TextWriter output)
    {
        foreach (var slot in module.GetSlotList(tokenPresent: true))
        {
            try
            {
                var t = slot.GetTokenInfo();
                if (t.TokenInitialized)
                {
                    output.WriteLine($"  token present: label '{t.Label}' serial {t.SerialNumber} model {t.Model}");
                }
            }
            catch (Pkcs11Exception e)
            {
                output.WriteLine($"  slot {slot.SlotId}: token cannot be read: {e.Message}");
            }
        }
    }

    private static int ListKeys(Pkcs11Token token, string prefix, TextWriter output, TextWriter error)
    {
        try
        {
            var keys = token.Run(session => Pkcs11KeyInfo.List(session, token));
            output.WriteLine($"  keys on the token: {keys.Count}");
            foreach (var k in keys)
            {
                output.WriteLine($"    {k.Uri} {k.Algorithm}: {k.Protection.Summary()}");
            }

            return 0;
        }
        catch (SigningException e)
        {
            error.WriteLine($"error: {prefix}: cannot list the token's keys: {e.Message}");
            return 1;
        }
    }

    private static int CheckKey(Pkcs11Token token, BackendConfiguration backend, KeyConfiguration key, bool selfTest, TextWriter output, TextWriter error)
    {
        var where = $"backend {backend.Name}: key {key.Name} ({key.Uri})";
        try
        {
            using var signer = Pkcs11Signer.Open(token, Pkcs11Uri.Parse(key.Uri!), backend.ProtectionPolicy);
            var spkiHash = Convert.ToHexStringLower(SHA256.HashData(signer.SubjectPublicKeyInfo.Span));
            output.WriteLine($"  key {key.Name}: {signer.Algorithm}, public key SHA-256 {spkiHash}, {signer.KeyInfo.Protection.Summary()}");
            if (selfTest)
            {
                signer.SelfTest();
                output.WriteLine($"  key {key.Name}: self-test passed (signed and verified a random challenge)");
            }

            return 0;
        }
        catch (KeyProtectionException e)
        {
            error.WriteLine($"error: {where}: {string.Join("; ", e.Violations)} ({e.Evidence?.Summary()})");
            return 1;
        }
        catch (SigningException e)
        {
            error.WriteLine($"error: {where}: {e.Message}");
            return 1;
        }
    }
}
