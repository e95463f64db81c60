using System.Globalization;
using OfflineSigner.YubiKey.Piv;

namespace OfflineSigner.YubiKey;

/// <summary>A key in a PIV slot of one YubiKey: <c>yubikey:serial=NNNNNNNN;slot=9c</c>.</summary>
public sealed record YubiKeyKeyReference(uint Serial, PivSlot Slot)
{
    public const string Scheme = "yubikey:";

    /// <summary>Parses <c>yubikey:serial=N;slot=XX</c> (attributes in either order, each exactly once).</summary>
    /// <exception cref="FormatException">the text is not such a reference; the message says what is wrong.</exception>
    public static YubiKeyKeyReference Parse(string text) =>
        TryParse(text, out var reference, out var error) ? reference! : throw new FormatException(error);

    public static bool TryParse(string? text, out YubiKeyKeyReference? reference, out string? error)
    {
        reference = null;
        if (text is null || !text.StartsWith(Scheme, StringComparison.Ordinal))
        {
            error = $"'{text}' is not a YubiKey key reference (yubikey:serial=NNNNNNNN;slot=9c)";
            return false;
        }

        uint? serial = null;
        PivSlot? slot = null;
        foreach (var part in text[Scheme.Length..].Split(';'))
        {
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            var name = equals < 0 ? part : part[..equals];
            var value = equals < 0 ? string.Empty : part[(equals + 1)..];
            switch (name)
            {
                case "serial" when serial is null:
                    if (value.Length is 0 or > 10 || !value.All(char.IsAsciiDigit) || !uint.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var s))
                    {
                        error = $"'{text}': serial must be the device's decimal serial number";
                        return false;
                    }

                    serial = s;
                    break;
                case "slot" when slot is null:
                    try
                    {
                        slot = PivSlot.Parse(value);
                    }
                    catch (FormatException e)
                    {
                        error = $"'{text}': {e.Message}";
                        return false;
                    }

                    if (slot == PivSlot.Attestation)
                    {
                        error = $"'{text}': slot f9 holds the device's attestation key, not a signing key";
                        return false;
                    }

                    break;
                default:
                    error = $"'{text}': unexpected or repeated attribute '{name}' (only serial and slot)";
                    return false;
            }
        }

        if (serial is null || slot is null)
        {
            error = $"'{text}' needs both serial= and slot=";
            return false;
        }

        reference = new YubiKeyKeyReference(serial.Value, slot.Value);
        error = null;
        return true;
    }

    public override string ToString() => $"{Scheme}serial={Serial.ToString(CultureInfo.InvariantCulture)};slot={Slot}";
}
