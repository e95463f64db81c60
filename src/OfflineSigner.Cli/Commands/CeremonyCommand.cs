using System.CommandLine;
using System.Text;
using System.Text.Json;
using OfflineSigner.Ceremony.Reports;
using OfflineSigner.Ceremony.Scripts;
using OfflineSigner.Ceremony.Transcripts;
using OfflineSigner.Bundles;
using OfflineSigner.Signing;

namespace OfflineSigner.Cli.Commands;

/// <summary>
/// <c>offline-signer ceremony ...</c>: root key ceremonies (docs/ceremony.md). Checks a script before the day,
/// verifies a transcript with its witness statements, prints the report, and lets a witness sign their statement.
/// Other ceremony commands (init-root, run) join the group through <see cref="Create"/>.
/// Exit codes: 0 valid or verified, 1 invalid script or refused transcript, 2 bad input or usage.
/// </summary>
internal static class CeremonyCommand
{
    /// <summary>The ceremony group, with <paramref name="more"/> subcommands added by other parts of the CLI.</summary>
    public static Command Create(params Command[] more)
    {
        var group = new Command("ceremony", "Root key ceremonies: scripts, transcripts, witness statements and the printed report (docs/ceremony.md).")
        {
            Validate(),
            Verify(),
            Report(),
            Witness(),
        };
        foreach (var command in more)
        {
            group.Subcommands.Add(command);
        }

        return group;
    }

    private static Command Validate()
    {
        var script = new Argument<string>("SCRIPT") { Description = "The ceremony script (JSON)" };
        var json = new Option<bool>("--json") { Description = "Write the findings as JSON" };
        var cmd = new Command("validate", "Check a ceremony script before the day: structure, references between steps and people, thresholds the listed holders can meet, one key per holder and per device serial, policies, expiries. Exit 0 valid (warnings allowed), 1 invalid, 2 unreadable.")
        {
            script, json,
        };
        cmd.SetAction(p => CommandSupport.Guard(() => RunValidate(p.GetValue(script)!, p.GetValue(json))));
        return cmd;
    }

    private static int RunValidate(string path, bool json)
    {
        var v = CeremonyScriptValidator.Validate(CommandSupport.ReadFile(path, CeremonyScriptReader.MaxScriptBytes));
        if (json)
        {
            CommandSupport.WriteJson(w =>
            {
                w.WriteStartObject();
                w.WriteString("script", path);
                w.WriteBoolean("valid", v.Valid);
                if (v.Script is { } s)
                {
                    w.WriteString("ceremony_id", s.CeremonyId);
                    w.WriteNumber("steps", s.Steps.Count);
                }

                WriteFindings(w, "errors", v.Errors);
                WriteFindings(w, "warnings", v.Warnings);
                w.WriteEndObject();
            });
        }
        else
        {
            foreach (var f in v.Findings)
            {
                Console.WriteLine($"{path}: {f}");
            }

            Console.WriteLine(v.Valid
                ? $"{path}: valid: ceremony {v.Script!.CeremonyId}, {v.Script.KeyHolders.Count} key holder(s), {v.Script.Witnesses.Count} witness(es), {v.Script.Steps.Count} steps" + (v.Warnings.Any() ? $", {v.Warnings.Count()} warning(s)" : string.Empty)
                : $"{path}: INVALID: {v.Errors.Count()} error(s)");
        }

        return v.Valid ? ExitCodes.Ok : ExitCodes.VerificationFailed;
    }

    private static Command Verify()
    {
        var transcript = new Argument<string>("TRANSCRIPT") { Description = "The sealed transcript (transcript.jsonl)" };
        var witness = new Option<string[]>("--witness") { Description = "A witness statement file (repeat for each)", AllowMultipleArgumentsPerToken = false };
        var require = new Option<bool>("--require-witnesses") { Description = "Fail unless every witness of the script has a valid statement" };
        var json = new Option<bool>("--json") { Description = "Write the result as JSON" };
        var cmd = new Command("verify", "Verify a ceremony transcript: its hash chain, the ceremony's rules, the seal signatures and the witness statements given. Exit 0 verified, 1 refused, 2 unreadable.")
        {
            transcript, witness, require, json,
        };
        cmd.SetAction(p => CommandSupport.Guard(() => RunVerify(p.GetValue(transcript)!, p.GetValue(witness) ?? [], p.GetValue(require), p.GetValue(json))));
        return cmd;
    }

    private static TranscriptVerification Load(string transcript, string[] witnesses, bool require) =>
        TranscriptVerifier.Verify(
            CommandSupport.ReadFile(transcript, TranscriptVerifier.MaxTranscriptBytes),
            [.. witnesses.Select(w => (w, CommandSupport.ReadFile(w, 1024 * 1024)))],
            require);

    private static int RunVerify(string transcript, string[] witnesses, bool require, bool json)
    {
        var v = Load(transcript, witnesses, require);
        var r = v.Record;
        if (json)
        {
            CommandSupport.WriteJson(w =>
            {
                w.WriteStartObject();
                w.WriteString("transcript", transcript);
                w.WriteBoolean("ok", v.Ok);
                w.WriteString("transcript_sha256", v.TranscriptSha256);
                if (r is not null)
                {
                    w.WriteString("ceremony_id", r.Script.CeremonyId);
                    w.WriteString("mode", r.Mode);
                    w.WriteNumber("entries", r.Entries);
                    w.WriteBoolean("sealed", r.Sealed);
                    CommandSupport.WriteStrings(w, "sealed_by", r.Seals.Select(s => s.Holder));
                    w.WriteStartArray("keys");
                    foreach (var k in r.Keys)
                    {
                        w.WriteStartObject();
                        w.WriteString("holder", k.Holder);
                        w.WriteString("device_serial", k.DeviceSerial);
                        w.WriteString("key_id", k.KeyId);
                        w.WriteString("fingerprint", k.Fingerprint);
                        w.WriteString("attestation_sha256", k.AttestationSha256);
                        w.WriteBoolean("enrolled", k.Enrolled);
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                }

                w.WriteStartArray("witnesses");
                foreach (var c in v.Witnesses)
                {
                    w.WriteStartObject();
                    w.WriteString("witness", c.WitnessId);
                    w.WriteBoolean("ok", c.Ok);
                    w.WriteString("message", c.Message);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                CommandSupport.WriteStrings(w, "missing_witnesses", v.MissingWitnesses);
                CommandSupport.WriteStrings(w, "problems", v.Problems);
                w.WriteEndObject();
            });
        }
        else
        {
            if (r is not null)
            {
                Console.WriteLine($"ceremony {r.Script.CeremonyId} ({r.Mode}): {r.Entries} entries, transcript sha256 {v.TranscriptSha256}");
                Console.WriteLine(r.Sealed ? $"sealed by {string.Join(", ", r.Seals.Select(s => s.Holder))}" : "NOT SEALED");
                foreach (var k in r.Keys)
                {
                    Console.WriteLine($"key of {k.Holder} on {k.DeviceKind} serial {k.DeviceSerial}: {k.Fingerprint}{(k.Enrolled ? string.Empty : " (not enrolled)")}");
                }
            }

            foreach (var c in v.Witnesses.Where(c => c.Ok))
            {
                Console.WriteLine("witness: " + c.Message);
            }

            if (v.MissingWitnesses.Count > 0)
            {
                Console.WriteLine($"no statement from: {string.Join(", ", v.MissingWitnesses)}");
            }

            foreach (var p in v.Problems)
            {
                Console.WriteLine("REFUSED: " + p);
            }

            Console.WriteLine(v.Ok ? "verified" : "NOT VERIFIED");
        }

        return v.Ok ? ExitCodes.Ok : ExitCodes.VerificationFailed;
    }

    private static Command Report()
    {
        var transcript = new Argument<string>("TRANSCRIPT") { Description = "The transcript" };
        var witness = new Option<string[]>("--witness") { Description = "A witness statement file (repeat for each)" };
        var html = new Option<string?>("--html") { Description = "Write the HTML report (for printing, A4) here" };
        var text = new Option<string?>("--text") { Description = "Write the plain-text report here ('-' for standard output)" };
        var cmd = new Command("report", "Render the printable report of a transcript: participants, fingerprints (hex and PGP words), attestation digests, signatures, seals, the transcript digest and a signature line per participant. A refused transcript is reported as refused. Exit 0 written for a verified transcript, 1 written for a refused one, 2 bad input.")
        {
            transcript, witness, html, text,
        };
        cmd.SetAction(p => CommandSupport.Guard(() => RunReport(p.GetValue(transcript)!, p.GetValue(witness) ?? [], p.GetValue(html), p.GetValue(text))));
        return cmd;
    }

    private static int RunReport(string transcript, string[] witnesses, string? html, string? text)
    {
        if (html is null && text is null)
        {
            throw new OfflineSignerException("give --html FILE, --text FILE, or both");
        }

        var v = Load(transcript, witnesses, false);
        if (v.Record is null)
        {
            throw new OfflineSignerException($"{transcript}: cannot be read as a transcript: {string.Join("; ", v.Problems)}");
        }

        if (html is not null)
        {
            AtomicFile.Write(html, Encoding.UTF8.GetBytes(CeremonyReport.RenderHtml(v)));
        }

        if (text == "-")
        {
            Console.Write(CeremonyReport.RenderText(v));
        }
        else if (text is not null)
        {
            AtomicFile.Write(text, Encoding.UTF8.GetBytes(CeremonyReport.RenderText(v)));
        }

        if (!v.Ok)
        {
            Console.Error.WriteLine($"warning: the transcript is refused ({string.Join("; ", v.Problems)}); the report says so");
        }

        return v.Ok ? ExitCodes.Ok : ExitCodes.VerificationFailed;
    }

    private static Command Witness()
    {
        var transcript = new Argument<string>("TRANSCRIPT") { Description = "The sealed transcript the witness signs" };
        var id = new Option<string>("--witness-id") { Description = "The witness's id in the script", Required = true };
        var key = new Option<string>("--key") { Description = "The witness's private key: an unencrypted PKCS #8 PEM file readable only by them", Required = true };
        var output = new Option<string>("--out") { Description = "Where to write the statement (never overwritten)", Required = true };
        var statement = new Option<string?>("--statement") { Description = "The statement's wording (default: a standard sentence)" };
        var cmd = new Command("witness", "Sign a witness statement over a sealed transcript's SHA-256 with the witness's own key. The transcript is verified first; a refused one is not signed. Exit 0 written, 1 refused, 2 bad input.")
        {
            transcript, id, key, output, statement,
        };
        cmd.SetAction(p => CommandSupport.Guard(() => RunWitness(p.GetValue(transcript)!, p.GetValue(id)!, p.GetValue(key)!, p.GetValue(output)!, p.GetValue(statement))));
        return cmd;
    }

    private static int RunWitness(string transcriptPath, string witnessId, string keyPath, string output, string? statement)
    {
        var bytes = CommandSupport.ReadFile(transcriptPath, TranscriptVerifier.MaxTranscriptBytes);
        var v = TranscriptVerifier.Verify(bytes);
        if (!v.Ok || v.Record is null)
        {
            Console.Error.WriteLine($"error: {transcriptPath} does not verify, so it is not signed: {string.Join("; ", v.Problems)}");
            return ExitCodes.VerificationFailed;
        }

        var witness = v.Record.Script.Witnesses.FirstOrDefault(w => w.Id == witnessId)
            ?? throw new OfflineSignerException($"--witness-id: \"{witnessId}\" is not a witness of ceremony {v.Record.Script.CeremonyId} (witnesses: {string.Join(", ", v.Record.Script.Witnesses.Select(w => w.Id))})");
        if (File.Exists(output))
        {
            throw new OfflineSignerException($"--out: {output} exists; a statement is never overwritten");
        }

        using var signer = SoftwareKeySigner.LoadPkcs8Pem(keyPath);
        var signed = WitnessStatement.Create(bytes, v.Record.Script.CeremonyId, witness, signer, DateTimeOffset.UtcNow, statement);
        AtomicFile.Write(output, signed);
        Console.WriteLine($"{witness.Name} ({witness.Id}) signed transcript {v.TranscriptSha256}: {output}");
        return ExitCodes.Ok;
    }

    private static void WriteFindings(Utf8JsonWriter w, string name, IEnumerable<ScriptFinding> findings)
    {
        w.WriteStartArray(name);
        foreach (var f in findings)
        {
            w.WriteStartObject();
            w.WriteString("path", f.Path);
            w.WriteString("message", f.Message);
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }
}
