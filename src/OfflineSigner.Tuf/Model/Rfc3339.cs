using System.Globalization;
using System.Text.RegularExpressions;

namespace OfflineSigner.Tuf;

/// <summary>RFC 3339 timestamps as TUF metadata carries them in <c>expires</c>.</summary>
public static partial class Rfc3339
{
    /// <summary>Parses an RFC 3339 date-time (fractional seconds of any length, <c>Z</c> or a numeric offset).</summary>
    public static bool TryParse(string text, out DateTimeOffset value)
    {
        value = default;
        var m = Pattern().Match(text);
        if (!m.Success)
        {
            return false;
        }

        int Part(string name) => int.Parse(m.Groups[name].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture);
        try
        {
            var ticks = 0L;
            if (m.Groups["frac"].Success)
            {
                // .NET keeps 100 ns ticks; Go writes nanoseconds: keep the first seven digits.
                var frac = m.Groups["frac"].Value;
                frac = frac.Length > 7 ? frac[..7] : frac.PadRight(7, '0');
                ticks = long.Parse(frac, NumberStyles.None, CultureInfo.InvariantCulture);
            }

            var offset = TimeSpan.Zero;
            if (m.Groups["oh"].Success)
            {
                offset = new TimeSpan(Part("oh"), Part("om"), 0);
                if (m.Groups["sign"].Value == "-")
                {
                    offset = -offset;
                }
            }

            var second = Part("s");
            if (second == 60)
            {
                return false;
            }

            value = new DateTimeOffset(Part("y"), Part("mo"), Part("d"), Part("h"), Part("mi"), second, offset).AddTicks(ticks);
            return true;
        }
        catch (ArgumentOutOfRangeException)
        {
            return false;
        }
    }

    /// <summary>The form TUF writers use: <c>YYYY-MM-DDTHH:MM:SSZ</c> in UTC, whole seconds.</summary>
    public static string Format(DateTimeOffset value)
    {
        var utc = value.ToUniversalTime();
        return new DateTimeOffset(utc.Year, utc.Month, utc.Day, utc.Hour, utc.Minute, utc.Second, TimeSpan.Zero)
            .ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"^(?<y>\d{4})-(?<mo>\d{2})-(?<d>\d{2})[Tt](?<h>\d{2}):(?<mi>\d{2}):(?<s>\d{2})(\.(?<frac>\d{1,9}))?([Zz]|(?<sign>[+-])(?<oh>\d{2}):(?<om>\d{2}))$", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
