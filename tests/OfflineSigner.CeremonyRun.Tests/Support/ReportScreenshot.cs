using OfflineSigner.Ceremony.Tests.Support;
using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.CeremonyRun.Tests.Support;

/// <summary>Opens a ceremony report in headless Chromium (Debian's) and checks the screenshot: ink, margins, the three tables, the fingerprint rows.</summary>
internal static class ReportScreenshot
{
    private const int PageWidth = 794;
    private const int PageHeight = 1123;

    public static void Check(string dir, string html, int keys)
    {
        var chromium = TestEnvironment.RequireTool("chromium", "Debian package chromium");
        var png = Path.Combine(dir, "report.png");
        var profile = Path.Combine(dir, "chromium-profile");
        var result = ProcessRunner.Run(
            chromium,
            ["--headless", "--no-sandbox", "--disable-gpu", "--force-color-profile=srgb", "--hide-scrollbars", $"--user-data-dir={profile}", $"--screenshot={png}", $"--window-size={PageWidth},{PageHeight * 3}", "file://" + html],
            timeout: TimeSpan.FromMinutes(2),
            environment: new Dictionary<string, string?> { ["HOME"] = dir });
        Assert.True(result.ExitCode == 0, result.ToString());
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
    }
}
