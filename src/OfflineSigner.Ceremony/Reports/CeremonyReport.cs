// The printable ceremony report, docs/ceremony.md "The report": rendered from a verified (or refused) transcript.
using System.Globalization;
using System.Net;
using System.Text;
using OfflineSigner.Ceremony.Fingerprints;
using OfflineSigner.Ceremony.Scripts;
using OfflineSigner.Ceremony.Transcripts;

namespace OfflineSigner.Ceremony.Reports;

/// <summary>
/// Renders what a transcript records for paper: participants, each key's fingerprint as hex and as PGP words, the
/// attestation digests, the items signed and by whom, the seals, the transcript's digest, and a signature line for
/// every participant. The HTML is laid out for A4 (it prints on Letter with wider margins); the text is the same
/// content for a line printer or a terminal.
/// </summary>
public static class CeremonyReport
{
    /// <summary>The report as a standalone HTML document (no scripts, no external resources).</summary>
    /// <exception cref="ArgumentException">the transcript could not be read at all (no record).</exception>
    public static string RenderHtml(TranscriptVerification verification)
    {
        ArgumentNullException.ThrowIfNull(verification);
        var r = verification.Record ?? throw new ArgumentException("the transcript could not be read; there is nothing to report", nameof(verification));
        var s = r.Script;
        var h = new StringBuilder();
        h.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n")
            .Append("<title>Ceremony ").Append(E(s.CeremonyId)).Append("</title>\n<style>\n")
            .Append(Css)
            .Append("</style></head><body>\n");
        if (r.Mode == "rehearsal")
        {
            h.Append("<div class=\"rehearsal\">REHEARSAL: not a record of a ceremony</div>\n");
        }

        h.Append("<h1>").Append(s.Steps.Any(x => x.Action == StepAction.BuildRoot) ? "Root key ceremony" : "Key ceremony").Append(": ").Append(E(s.CeremonyId)).Append("</h1>\n");
        h.Append("<p class=\"purpose\">").Append(E(s.Purpose)).Append("</p>\n");
        h.Append("<table class=\"facts\">\n");
        Row(h, "Repository", $"{s.Repository.Name} ({(s.Repository.Dialect == Tuf.Dialect.Notary ? "Notary v1" : "TUF specification")})");
        if (r.TrustedRootSha256 is { } rootSha)
        {
            Row(h, "Trusted root", $"SHA-256 {rootSha}");
        }

        Row(h, "Held", $"{Time(r.StartedAt)} to {Time(r.EndedAt)}");
        Row(h, "Transcript", $"{r.Entries} entries, {(r.Sealed ? "sealed by " + string.Join(", ", r.Seals.Select(x => x.Holder)) : "NOT SEALED")}");
        Row(h, "Verification", verification.Ok ? "verified: chain, ceremony rules, seals" + (verification.Witnesses.Count > 0 ? " and witness statements" : string.Empty) : "REFUSED: " + string.Join("; ", verification.Problems));
        if (r.Bundle is { } b)
        {
            Row(h, "Bundle", $"{b.BundleId}, manifest SHA-256 {b.ManifestSha256}");
        }

        h.Append("</table>\n");

        h.Append("<h2>Participants</h2>\n<table class=\"people\"><thead><tr><th>Part</th><th>Name</th><th>Id</th><th>Device</th></tr></thead><tbody>\n");
        foreach (var (part, person, device) in Participants(s))
        {
            h.Append("<tr><td>").Append(E(part)).Append("</td><td>").Append(E(person.Name)).Append("</td><td>").Append(E(person.Id))
                .Append("</td><td>").Append(E(device)).Append("</td></tr>\n");
        }

        h.Append("</tbody></table>\n");

        h.Append("<h2>Keys enrolled</h2>\n<table class=\"keys\" id=\"fingerprints\"><thead><tr><th>Holder and device</th><th>Fingerprint (SHA-256 of the public key)</th></tr></thead><tbody>\n");
        foreach (var k in r.Keys)
        {
            var fp = KeyFingerprint.OfDigest(Convert.FromHexString(k.Fingerprint));
            h.Append("<tr><td class=\"who\"><b>").Append(E(s.FindPerson(k.Holder)?.Name ?? k.Holder)).Append("</b><br>")
                .Append(E(k.DeviceKind)).Append(" serial ").Append(E(k.DeviceSerial)).Append("<br>").Append(E(k.Algorithm))
                .Append("<br>key id ").Append(E(Short(k.KeyId))).Append(k.Enrolled ? string.Empty : "<br><b>NOT ENROLLED</b>").Append("</td>")
                .Append("<td><div class=\"hex\">").Append(E(fp.GroupedHex)).Append("</div><div class=\"words\">").Append(E(fp.WordsText)).Append("</div>")
                .Append("<div class=\"att\">attestation ").Append(E(k.AttestationFormat)).Append(" SHA-256 ").Append(E(k.AttestationSha256))
                .Append("<br>").Append(E(k.AttestationSummary)).Append("</div></td></tr>\n");
        }

        h.Append("</tbody></table>\n");

        h.Append("<h2>Metadata signed</h2>\n<table class=\"items\"><thead><tr><th>Item</th><th>Version</th><th>Expires</th><th>Signed by</th></tr></thead><tbody>\n");
        foreach (var i in r.Items)
        {
            h.Append("<tr><td>").Append(E(i.Type)).Append(" (").Append(E(i.StepId)).Append(")<br><span class=\"small\">signed SHA-256 ").Append(E(i.SignedSha256))
                .Append("</span></td><td>").Append(i.Version.ToString(CultureInfo.InvariantCulture)).Append("</td><td>").Append(E(i.Expires))
                .Append("</td><td>").Append(E(string.Join(", ", i.Signatures.Select(x => x.Holder)))).Append("</td></tr>\n");
        }

        h.Append("</tbody></table>\n");

        h.Append("<h2>Steps</h2>\n<ol class=\"steps\">\n");
        foreach (var st in r.Steps)
        {
            h.Append("<li>").Append(E(st.Id)).Append(" (").Append(E(st.Action)).Append("): ").Append(E(st.Status))
                .Append(st.Reason is null ? string.Empty : ": " + E(st.Reason)).Append("</li>\n");
        }

        h.Append("</ol>\n");

        var digest = KeyFingerprint.OfDigest(Convert.FromHexString(r.TranscriptSha256));
        h.Append("<h2>Transcript digest</h2>\n<div class=\"digest\" id=\"transcript-digest\"><div class=\"hex\">").Append(E(digest.GroupedHex))
            .Append("</div><div class=\"words\">").Append(E(digest.WordsText)).Append("</div></div>\n")
            .Append("<p class=\"small\">Witness statements sign this SHA-256 of the transcript file. ")
            .Append(E(WitnessLine(verification))).Append("</p>\n");

        h.Append("<h2>Signatures</h2>\n<p class=\"small\">By signing I confirm that the fingerprints above are those read aloud during the ceremony, and that this report matches the transcript digest.</p>\n<table class=\"sign\"><tbody>\n");
        foreach (var (part, person, _) in Participants(s))
        {
            h.Append("<tr><td class=\"signer\">").Append(E(person.Name)).Append("<br><span class=\"small\">").Append(E(part)).Append("</span></td>")
                .Append("<td class=\"line\">Signature</td><td class=\"line date\">Date</td></tr>\n");
        }

        h.Append("</tbody></table>\n</body></html>\n");
        return h.ToString();
    }

    /// <summary>The report as plain text (UTF-8, LF line ends, at most 100 columns except long words lines).</summary>
    public static string RenderText(TranscriptVerification verification)
    {
        ArgumentNullException.ThrowIfNull(verification);
        var r = verification.Record ?? throw new ArgumentException("the transcript could not be read; there is nothing to report", nameof(verification));
        var s = r.Script;
        var t = new StringBuilder();
        if (r.Mode == "rehearsal")
        {
            t.Append("*** REHEARSAL: not a record of a ceremony ***\n\n");
        }

        t.Append(s.Steps.Any(x => x.Action == StepAction.BuildRoot) ? "ROOT KEY CEREMONY: " : "KEY CEREMONY: ").Append(s.CeremonyId).Append('\n').Append(s.Purpose).Append("\n\n");
        t.Append("Repository:   ").Append(s.Repository.Name).Append(s.Repository.Dialect == Tuf.Dialect.Notary ? " (Notary v1)" : " (TUF specification)").Append('\n');
        if (r.TrustedRootSha256 is { } trustedSha)
        {
            t.Append("Trusted root: SHA-256 ").Append(trustedSha).Append('\n');
        }

        t.Append("Held:         ").Append(Time(r.StartedAt)).Append(" to ").Append(Time(r.EndedAt)).Append('\n');
        t.Append("Transcript:   ").Append(r.Entries.ToString(CultureInfo.InvariantCulture)).Append(" entries, ")
            .Append(r.Sealed ? "sealed by " + string.Join(", ", r.Seals.Select(x => x.Holder)) : "NOT SEALED").Append('\n');
        t.Append("Verification: ").Append(verification.Ok ? "verified" : "REFUSED: " + string.Join("; ", verification.Problems)).Append('\n');
        if (r.Bundle is { } b)
        {
            t.Append("Bundle:       ").Append(b.BundleId).Append(", manifest SHA-256 ").Append(b.ManifestSha256).Append('\n');
        }

        t.Append("\nPARTICIPANTS\n");
        foreach (var (part, person, device) in Participants(s))
        {
            t.Append("  ").Append(part.PadRight(14)).Append(person.Name).Append(" (").Append(person.Id).Append(')')
                .Append(device.Length > 0 ? ", " + device : string.Empty).Append('\n');
        }

        t.Append("\nKEYS ENROLLED (fingerprint: SHA-256 of the public key)\n");
        foreach (var k in r.Keys)
        {
            var fp = KeyFingerprint.OfDigest(Convert.FromHexString(k.Fingerprint));
            t.Append("  ").Append(s.FindPerson(k.Holder)?.Name ?? k.Holder).Append(" (").Append(k.Holder).Append("), ").Append(k.DeviceKind)
                .Append(" serial ").Append(k.DeviceSerial).Append(", ").Append(k.Algorithm).Append(k.Enrolled ? string.Empty : ", NOT ENROLLED").Append('\n');
            t.Append("    key id       ").Append(k.KeyId).Append('\n');
            t.Append("    hex          ").Append(fp.GroupedHex).Append('\n');
            t.Append("    words        ").Append(string.Join(' ', fp.Words.Take(16))).Append('\n');
            t.Append("                 ").Append(string.Join(' ', fp.Words.Skip(16))).Append('\n');
            t.Append("    attestation  ").Append(k.AttestationFormat).Append(" SHA-256 ").Append(k.AttestationSha256).Append('\n');
            t.Append("                 ").Append(k.AttestationSummary).Append('\n');
        }

        t.Append("\nMETADATA SIGNED\n");
        foreach (var i in r.Items)
        {
            t.Append("  ").Append(i.Type).Append(" version ").Append(i.Version.ToString(CultureInfo.InvariantCulture)).Append(" (").Append(i.StepId)
                .Append("), expires ").Append(i.Expires).Append(", signed by ").Append(string.Join(", ", i.Signatures.Select(x => x.Holder))).Append('\n')
                .Append("    signed SHA-256 ").Append(i.SignedSha256).Append('\n');
        }

        t.Append("\nSTEPS\n");
        for (var n = 0; n < r.Steps.Count; n++)
        {
            var st = r.Steps[n];
            t.Append("  ").Append((n + 1).ToString(CultureInfo.InvariantCulture).PadLeft(2)).Append(". ").Append(st.Id).Append(" (").Append(st.Action).Append("): ")
                .Append(st.Status).Append(st.Reason is null ? string.Empty : ": " + st.Reason).Append('\n');
        }

        var digest = KeyFingerprint.OfDigest(Convert.FromHexString(r.TranscriptSha256));
        t.Append("\nTRANSCRIPT DIGEST (SHA-256 of the transcript file; witness statements sign it)\n")
            .Append("  hex   ").Append(digest.GroupedHex).Append('\n')
            .Append("  words ").Append(string.Join(' ', digest.Words.Take(16))).Append('\n')
            .Append("        ").Append(string.Join(' ', digest.Words.Skip(16))).Append('\n')
            .Append("  ").Append(WitnessLine(verification)).Append('\n');

        t.Append("\nSIGNATURES\nBy signing I confirm that the fingerprints above are those read aloud during the ceremony,\nand that this report matches the transcript digest.\n\n");
        foreach (var (part, person, _) in Participants(s))
        {
            t.Append("  ").Append(person.Name).Append(" (").Append(part).Append(")\n")
                .Append("  Signature: ________________________________   Date: ______________\n\n");
        }

        return t.ToString();
    }

    private static IEnumerable<(string Part, Person Person, string Device)> Participants(CeremonyScript s)
    {
        yield return ("administrator", s.Administrator, string.Empty);
        foreach (var h in s.KeyHolders)
        {
            yield return ("key holder", h, h.Device.ToString());
        }

        foreach (var w in s.Witnesses)
        {
            yield return ("witness", w, "witness key " + Short(Tuf.Crypto.KeyFormats.ComputeKeyId(w.PublicKey)));
        }
    }

    private static string WitnessLine(TranscriptVerification v)
    {
        var ok = v.Witnesses.Where(w => w.Ok).Select(w => w.WitnessId).ToList();
        return (ok.Count > 0 ? "Statements verified from: " + string.Join(", ", ok) + ". " : string.Empty)
            + (v.MissingWitnesses.Count > 0 ? "No statement yet from: " + string.Join(", ", v.MissingWitnesses) + "." : "Every witness has signed.");
    }

    private static void Row(StringBuilder h, string name, string value) =>
        h.Append("<tr><th>").Append(E(name)).Append("</th><td>").Append(E(value)).Append("</td></tr>\n");

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);

    private static string Short(string id) => id.Length > 16 ? id[..16] + "…" : id;

    private static string E(string? s) => WebUtility.HtmlEncode(s ?? string.Empty);

    // A4 with 18 mm margins; black on white; tables that do not split a key across pages.
    private const string Css = """
        @page { size: A4; margin: 18mm; }
        html { background: #ffffff; }
        body { font-family: "DejaVu Serif", serif; font-size: 10.5pt; color: #000000; margin: 18mm; max-width: 174mm; }
        @media print { body { margin: 0; } }
        h1 { font-size: 17pt; margin: 0 0 4pt 0; }
        h2 { font-size: 12.5pt; margin: 14pt 0 5pt 0; border-bottom: 1.5pt solid #000000; }
        .purpose { margin: 0 0 8pt 0; font-style: italic; }
        .rehearsal { border: 3pt solid #000000; padding: 4pt; text-align: center; font-weight: bold; font-size: 14pt; margin-bottom: 8pt; }
        table { border-collapse: collapse; width: 100%; }
        th, td { border: 0.75pt solid #555555; padding: 3pt 5pt; vertical-align: top; text-align: left; }
        thead th { background: #d9e2f0; }
        table.facts th { width: 28mm; background: #ffffff; }
        table.facts td { overflow-wrap: anywhere; }
        tr { page-break-inside: avoid; break-inside: avoid; }
        td.who { width: 42mm; }
        .hex { font-family: "DejaVu Sans Mono", monospace; font-size: 10pt; font-weight: bold; letter-spacing: 0.3pt; }
        .words { font-size: 10pt; margin-top: 3pt; }
        .att, .small { font-size: 8.5pt; color: #222222; overflow-wrap: anywhere; }
        .digest { border: 1.5pt solid #000000; padding: 6pt; }
        ol.steps { margin: 0; padding-left: 18pt; }
        table.sign td { border: none; height: 14mm; vertical-align: bottom; }
        table.sign td.signer { width: 50mm; }
        table.sign td.line { border-bottom: 0.75pt solid #000000; font-size: 8pt; color: #444444; }
        table.sign td.date { width: 35mm; }

        """;
}
