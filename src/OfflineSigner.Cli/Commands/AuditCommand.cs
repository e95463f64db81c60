using System.CommandLine;
using OfflineSigner.Audit;

namespace OfflineSigner.Cli.Commands;

/// <summary><c>offline-signer audit verify FILE [--json]</c>: proves the audit log's hash chain (docs/audit-log.md).</summary>
internal static class AuditCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "The audit log" };
        var json = new Option<bool>("--json") { Description = "Write the result as JSON" };
        var verify = new Command("verify", "Verify the audit log's hash chain. Exit 0 verified, 1 broken chain, 2 bad input.")
        {
            file,
            json,
        };
        verify.SetAction(p => CommandSupport.Guard(() => Verify(p.GetValue(file)!, p.GetValue(json))));
        return new Command("audit", "Read and check the daemon's audit log.") { verify };
    }

    private static int Verify(string file, bool json)
    {
        AuditLogVerification v = AuditLogVerifier.Verify(file);
        if (json)
        {
            CommandSupport.WriteJson(w =>
            {
                w.WriteStartObject();
                w.WriteBoolean("ok", v.Ok);
                w.WriteNumber("entries", v.Entries);
                w.WriteNumber("head_seq", v.HeadSequence);
                w.WriteString("head_sha256", v.HeadSha256);
                w.WriteBoolean("torn_tail", v.TornTail);
                if (v.FirstBadSequence is long bad)
                {
                    w.WriteNumber("first_bad_seq", bad);
                }

                if (v.FirstBadLine is long line)
                {
                    w.WriteNumber("first_bad_line", line);
                }

                if (v.Reason is not null)
                {
                    w.WriteString("reason", v.Reason);
                }

                CommandSupport.WriteStrings(w, "earlier_segment_damage", v.EarlierSegmentDamage);
                w.WriteEndObject();
            });
        }
        else if (v.Ok)
        {
            Console.WriteLine($"verified: {v.Entries} entries, head seq {v.HeadSequence}, head sha256 {v.HeadSha256}"
                + (v.TornTail ? " (torn final line ignored: an interrupted write)" : string.Empty));
        }
        else
        {
            Console.WriteLine($"BROKEN at line {v.FirstBadLine} (seq {v.FirstBadSequence}): {v.Reason}");
        }

        return v.Ok ? ExitCodes.Ok : ExitCodes.VerificationFailed;
    }
}
