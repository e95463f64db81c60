using System.Globalization;
using System.Security.Cryptography;
using Xunit;

namespace OfflineSigner.YubiKey.Hardware.Tests;

/// <summary>
/// The real YubiKey these tests may use: one inserted device whose serial is on the allow-list in
/// $OFFLINESIGNER_YUBIKEY_SERIALS (comma-separated), so that nobody's own keys are touched by accident. Tests that
/// write to the device use only the slot in $OFFLINESIGNER_YUBIKEY_SLOT (default 95, the last retired slot) and the
/// management key in $OFFLINESIGNER_YUBIKEY_MANAGEMENT_KEY (hex; default: the factory key). The PIN comes from
/// $OFFLINESIGNER_YUBIKEY_PIN (default 123456). A wrong PIN costs a try on the device, so it is never guessed.
/// </summary>
internal static class RealYubiKey
{
    public const string SerialsVariable = "OFFLINESIGNER_YUBIKEY_SERIALS";

    public static YubiKeyInfo Require()
    {
        var allowed = (Environment.GetEnvironmentVariable(SerialsVariable) ?? string.Empty)
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => uint.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var serial) ? serial : throw new FormatException($"{SerialsVariable}: '{s}' is not a serial"))
            .ToHashSet();
        if (allowed.Count == 0)
        {
            Assert.Skip($"no real YubiKey is allowed: set {SerialsVariable} to the serials of YubiKeys these tests may write to (slot {Slot})");
        }

        IReadOnlyList<YubiKeyInfo> present;
        try
        {
            present = YubiKeyDevices.List();
        }
        catch (PcscException e)
        {
            Assert.Skip("the system's pcscd cannot be reached: " + e.Message);
            throw;
        }

        var device = present.FirstOrDefault(d => allowed.Contains(d.Serial));
        if (device is null)
        {
            Assert.Skip($"none of the allowed YubiKeys ({string.Join(", ", allowed)}) is inserted; present: {(present.Count == 0 ? "none" : string.Join(", ", present.Select(p => p.Serial)))}");
        }

        return device!;
    }

    public static Piv.PivSlot Slot => Piv.PivSlot.Parse(Environment.GetEnvironmentVariable("OFFLINESIGNER_YUBIKEY_SLOT") ?? "95");

    public static byte[] ManagementKey() =>
        Convert.FromHexString(Environment.GetEnvironmentVariable("OFFLINESIGNER_YUBIKEY_MANAGEMENT_KEY") ?? "010203040506070801020304050607080102030405060708");

    public static byte[] Pin() => System.Text.Encoding.UTF8.GetBytes(Environment.GetEnvironmentVariable("OFFLINESIGNER_YUBIKEY_PIN") ?? "123456");

    public static void Wipe(byte[] secret) => CryptographicOperations.ZeroMemory(secret);
}
