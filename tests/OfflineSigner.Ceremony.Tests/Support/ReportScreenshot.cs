using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Ceremony.Tests.Support;

/// <summary>Opens a ceremony report in headless Chromium (Debian's) and checks the screenshot: ink, margins, the three tables, the fingerprint rows.</summary>
internal static class ReportScreenshot
{
    // A4 at 96 CSS pixels per inch.
    public const int PageWidth = 794;
    public const int PageHeight = 1123;

    /// <summary>
    /// Screenshots <paramref name="html"/> in a page-wide window tall enough for the whole report and checks it:
    /// ink on the page, none in the margins, three table headers, and <paramref name="keys"/> rows of holders and
    /// fingerprints in the key table. Returns the screenshot.
    /// </summary>
    public static Png Check(string dir, string html, int keys)
    {
        var chromium = TestEnvironment.RequireTool("chromium", "Debian package chromium");
        var png = Path.Combine(dir, "report.png");
        Chromium(chromium, dir, $"--screenshot={png}", $"--window-size={PageWidth},{PageHeight * 3}", "file://" + html);
        var image = Png.Read(File.ReadAllBytes(png));
        Assert.Equal(PageWidth, image.Width);

        static bool Dark((byte R, byte G, byte B) p) => p.R + p.G + p.B < 3 * 100;
        static bool Header((byte R, byte G, byte B) p) => Math.Abs(p.R - 0xd9) < 6 && Math.Abs(p.G - 0xe2) < 6 && Math.Abs(p.B - 0xf0) < 6;

        var dark = 0;
        for (var y = 0; y < image.Height; y++)
        {
            for (var x = 0; x < image.Width; x++)
            {
                dark += Dark(image[x, y]) ? 1 : 0;
            }
        }

        Assert.True(dark > image.Width * image.Height / 200, $"the page is nearly blank ({dark} dark pixels)");
        for (var y = 0; y < image.Height; y++)
        {
            for (var x = 0; x < 50; x++)
            {
                Assert.False(Dark(image[x, y]) || Dark(image[image.Width - 1 - x, y]), $"ink in the margin at ({x}, {y})");
            }
        }

        var bands = new List<(int Top, int Bottom)>();
        for (var y = 0; y < image.Height; y++)
        {
            var count = 0;
            for (var x = 0; x < image.Width; x++)
            {
                count += Header(image[x, y]) ? 1 : 0;
            }

            if (count > image.Width / 4)
            {
                if (bands.Count > 0 && y - bands[^1].Bottom <= 12)
                {
                    bands[^1] = (bands[^1].Top, y);
                }
                else
                {
                    bands.Add((y, y));
                }
            }
        }

        Assert.True(bands.Count == 3, $"expected three table headers (participants, keys, items), found {bands.Count}: {string.Join(", ", bands)}");
        var (keysTop, keysBottom) = (bands[1].Bottom + 1, bands[2].Top - 1);
        Assert.True(keysBottom - keysTop > keys * 60, $"the fingerprint table is {keysBottom - keysTop} px high, too short for {keys} keys");
        int InkRows(int fromX, int toX)
        {
            var rows = 0;
            for (var y = keysTop; y < keysBottom; y++)
            {
                for (var x = fromX; x < toX; x++)
                {
                    if (Dark(image[x, y]))
                    {
                        rows++;
                        break;
                    }
                }
            }

            return rows;
        }

        Assert.True(InkRows(75, 220) > 100, "no text in the holder column");
        Assert.True(InkRows(260, 720) > 200, "no text in the fingerprint column");
        return image;
    }

    /// <summary>Runs Debian's Chromium headless with a throwaway profile under <paramref name="dir"/>.</summary>
    public static void Chromium(string chromium, string dir, params string[] args)
    {
        var profile = Path.Combine(dir, "chromium-profile");
        var result = ProcessRunner.Run(
            chromium,
            ["--headless", "--no-sandbox", "--disable-gpu", "--force-color-profile=srgb", "--hide-scrollbars", $"--user-data-dir={profile}", .. args],
            timeout: TimeSpan.FromMinutes(2),
            environment: new Dictionary<string, string?> { ["HOME"] = dir });
        Assert.True(result.ExitCode == 0, result.ToString());
    }
}
