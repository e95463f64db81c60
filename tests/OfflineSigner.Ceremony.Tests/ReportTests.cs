using System.Globalization;
using System.Text.RegularExpressions;
using OfflineSigner.Ceremony.Fingerprints;
using OfflineSigner.Ceremony.Reports;
using OfflineSigner.Ceremony.Tests.Support;
using OfflineSigner.Ceremony.Transcripts;
using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Ceremony.Tests;

public sealed partial class ReportTests
{
    // A4 at 96 CSS pixels per inch.
    private const int PageWidth = 794;
    private const int PageHeight = 1123;

    private static (CeremonyFixture Fixture, TranscriptVerification Verification) Verified()
    {
        var f = new CeremonyFixture();
        var transcript = f.RunAll(Engine.CeremonyMode.Ceremony);
        var v = TranscriptVerifier.Verify(transcript, [("wendy.json", f.WitnessStatement(transcript, "wendy"))]);
        Assert.True(v.Ok, string.Join("\n", v.Problems));
        return (f, v);
    }

    [Fact]
    public void The_text_report_has_every_participant_fingerprint_and_the_transcript_digest()
    {
        var (f, v) = Verified();
        using var fixture = f;
        var text = CeremonyReport.RenderText(v);
        foreach (var person in new[] { "Ada Administrator", "Alice Archer", "Bob Baker", "Carol Cooper", "Dan Dalton", "Wendy Walker", "Victor Vance" })
        {
            Assert.Contains(person, text, StringComparison.Ordinal);
            Assert.Contains($"  {person} (", text, StringComparison.Ordinal); // and a signature line
        }

        Assert.Equal(7, Regex.Count(text, "Signature: _+"));
        foreach (var key in v.Record!.Keys)
        {
            var fp = KeyFingerprint.OfDigest(Convert.FromHexString(key.Fingerprint));
            Assert.Contains(fp.GroupedHex, text, StringComparison.Ordinal);
            Assert.Contains(string.Join(' ', fp.Words.Take(16)), text, StringComparison.Ordinal);
            Assert.Contains(string.Join(' ', fp.Words.Skip(16)), text, StringComparison.Ordinal);
            Assert.Contains(key.AttestationSha256, text, StringComparison.Ordinal);
        }

        Assert.Contains(KeyFingerprint.OfDigest(Convert.FromHexString(v.TranscriptSha256)).GroupedHex, text, StringComparison.Ordinal);
        Assert.Contains("Statements verified from: wendy. No statement yet from: victor.", text, StringComparison.Ordinal);
        Assert.DoesNotContain("REHEARSAL", text, StringComparison.Ordinal);
        Assert.Contains("root version 1 (root-v1), expires 2027-03-14T09:30:00Z, signed by alice, bob", text, StringComparison.Ordinal);
    }

    [Fact]
    public void A_rehearsal_says_so_on_paper()
    {
        using var f = new CeremonyFixture();
        var v = TranscriptVerifier.Verify(f.RunAll(Engine.CeremonyMode.Rehearsal));
        Assert.StartsWith("*** REHEARSAL", CeremonyReport.RenderText(v), StringComparison.Ordinal);
        Assert.Contains("<div class=\"rehearsal\">REHEARSAL", CeremonyReport.RenderHtml(v), StringComparison.Ordinal);
    }

    [Fact]
    public void The_html_report_renders_in_chromium_on_a4_with_the_fingerprint_table_filled()
    {
        var chromium = TestEnvironment.RequireTool("chromium", "Debian package chromium");
        var (f, v) = Verified();
        using var fixture = f;
        var html = Path.Combine(f.Dir, "report.html");
        File.WriteAllText(html, CeremonyReport.RenderHtml(v));

        // The screenshot: a page-wide window tall enough for the whole report.
        var png = Path.Combine(f.Dir, "report.png");
        Chromium(chromium, f.Dir, $"--screenshot={png}", $"--window-size={PageWidth},{PageHeight * 3}", "file://" + html);
        var image = Png.Read(File.ReadAllBytes(png));
        Assert.Equal(PageWidth, image.Width);
        Assert.Equal(PageHeight * 3, image.Height);

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

        // Paper margins: nothing in the outer 15 mm (about 57 px) on the left and right.
        for (var y = 0; y < image.Height; y++)
        {
            for (var x = 0; x < 50; x++)
            {
                Assert.False(Dark(image[x, y]) || Dark(image[image.Width - 1 - x, y]), $"ink in the margin at ({x}, {y})");
            }
        }

        // Table header bands (the participants, keys and items tables), top to bottom.
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
                // Text inside a header interrupts its colour for a few rows: one band.
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

        Assert.True(bands.Count == 3, $"expected three table headers, found {bands.Count}: {string.Join(", ", bands)}");

        // The fingerprint table: four key rows under its header, each with text in the holder column and in the
        // fingerprint column, and it ends before the next table starts.
        var (keysTop, keysBottom) = (bands[1].Bottom + 1, bands[2].Top - 1);
        Assert.True(keysBottom - keysTop > 4 * 60, $"the fingerprint table is {keysBottom - keysTop} px high, too short for four keys");
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

        // Printed to PDF it is A4 (595 x 842 points) and fits on a few pages.
        var pdf = Path.Combine(f.Dir, "report.pdf");
        Chromium(chromium, f.Dir, $"--print-to-pdf={pdf}", "--no-pdf-header-footer", "file://" + html);
        var pdfText = System.Text.Encoding.Latin1.GetString(File.ReadAllBytes(pdf));
        var boxes = MediaBox().Matches(pdfText).Select(m => (W: double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), H: double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture))).ToList();
        Assert.NotEmpty(boxes);
        Assert.All(boxes, b => Assert.True(Math.Abs(b.W - 595.3) < 2 && Math.Abs(b.H - 841.9) < 2, $"page is {b.W} x {b.H} points, not A4"));
        Assert.InRange(boxes.Count, 2, 4);
    }

    private static void Chromium(string chromium, string dir, params string[] args)
    {
        var profile = Path.Combine(dir, "chromium-profile");
        var result = ProcessRunner.Run(
            chromium,
            ["--headless", "--no-sandbox", "--disable-gpu", "--force-color-profile=srgb", "--hide-scrollbars", $"--user-data-dir={profile}", .. args],
            timeout: TimeSpan.FromMinutes(2),
            environment: new Dictionary<string, string?> { ["HOME"] = dir });
        Assert.True(result.ExitCode == 0, result.ToString());
    }

    [GeneratedRegex(@"/MediaBox\s*\[\s*0\s+0\s+([0-9.]+)\s+([0-9.]+)\s*\]")]
    private static partial Regex MediaBox();
}
