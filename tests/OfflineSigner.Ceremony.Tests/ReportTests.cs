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

        var image = ReportScreenshot.Check(f.Dir, html, keys: 4);
        Assert.Equal(ReportScreenshot.PageHeight * 3, image.Height);

        // Printed to PDF it is A4 (595 x 842 points) and fits on a few pages.
        var pdf = Path.Combine(f.Dir, "report.pdf");
        ReportScreenshot.Chromium(chromium, f.Dir, $"--print-to-pdf={pdf}", "--no-pdf-header-footer", "file://" + html);
        var pdfText = System.Text.Encoding.Latin1.GetString(File.ReadAllBytes(pdf));
        var boxes = MediaBox().Matches(pdfText).Select(m => (W: double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), H: double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture))).ToList();
        Assert.NotEmpty(boxes);
        Assert.All(boxes, b => Assert.True(Math.Abs(b.W - 595.3) < 2 && Math.Abs(b.H - 841.9) < 2, $"page is {b.W} x {b.H} points, not A4"));
        Assert.InRange(boxes.Count, 2, 4);
    }

    [GeneratedRegex(@"/MediaBox\s*\[\s*0\s+0\s+([0-9.]+)\s+([0-9.]+)\s*\]")]
    private static partial Regex MediaBox();
}
