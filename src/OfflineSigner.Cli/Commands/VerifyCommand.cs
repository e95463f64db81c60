using System.CommandLine;
using OfflineSigner.Tuf;

namespace OfflineSigner.Cli.Commands;

/// <summary><c>offline-signer verify --root ROOT FILE...</c>: metadata checked as a client would check it.</summary>
internal static class VerifyCommand
{
    public static Command Create()
    {
        var root = new Option<string>("--root") { Description = "The trusted root metadata file", Required = true };
        var files = new Argument<string[]>("FILE") { Description = "Metadata files to verify (newer roots, targets, delegated targets, snapshot, timestamp)", Arity = ArgumentArity.OneOrMore };
        var at = new Option<string?>("--at") { Description = "Check expiry as of this RFC 3339 time (default: now)" };
        var json = new Option<bool>("--json") { Description = "Write the result as JSON" };
        var gun = new Option<string?>("--gun") { Description = "Notary dialect: the repository's GUN, which root certificates must name (CN)" };
        var maxBytes = CommandSupport.MaxBytesOption();
        var cmd = new Command("verify", "Verify metadata files against a trusted root: signatures and thresholds (delegations too), expiry, and what snapshot and timestamp say about the files given with them. Either dialect. Targets roles are read through an index, without a tree of the file.")
        {
            root, files, at, json, gun, maxBytes,
        };
        cmd.SetAction(p => CommandSupport.Guard(() => Run(p.GetValue(root)!, p.GetValue(files)!, p.GetValue(at), p.GetValue(json), p.GetValue(gun), CommandSupport.ParseOptions(p.GetValue(maxBytes)))));
        return cmd;
    }

    private static int Run(string rootPath, string[] files, string? atText, bool json, string? gun, MetadataParseOptions options)
    {
        var at = CommandSupport.ParseAt(atText);
        var trusted = CommandSupport.ReadMetadata(rootPath, options);
        if (trusted.Signed is not Root)
        {
            throw new MetadataException($"{rootPath}: not root metadata");
        }

        var limit = CommandSupport.FileLimit(options);
        var inputs = Parallelism.Map(files.Length, i => (files[i], CommandSupport.ReadFile(files[i], limit)));
        var results = RepositoryVerifier.Verify(trusted.As<Root>(), inputs, at, options, gun);
        var ok = results.All(r => r.Verified);
        if (json)
        {
            CommandSupport.WriteJson(w =>
            {
                w.WriteStartObject();
                w.WriteBoolean("verified", ok);
                w.WriteString("checked_at", Rfc3339.Format(at));
                w.WriteStartArray("files");
                foreach (var r in results)
                {
                    w.WriteStartObject();
                    w.WriteString("file", r.File);
                    w.WriteString("role", r.Role);
                    w.WriteNumber("version", r.Version);
                    w.WriteBoolean("verified", r.Verified);
                    CommandSupport.WriteResult(w, "signatures", r.Result);
                    CommandSupport.WriteStrings(w, "errors", r.Errors);
                    CommandSupport.WriteStrings(w, "warnings", r.Warnings);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            });
        }
        else
        {
            foreach (var r in results)
            {
                var sig = r.Result is null ? string.Empty : $" signed {CommandSupport.Count(r.Result)}";
                Console.WriteLine($"{(r.Verified ? "ok  " : "FAIL")} {r.File}: {r.Role} version {r.Version}{sig}");
                foreach (var e in r.Errors)
                {
                    Console.WriteLine("     error: " + e);
                }

                foreach (var warning in r.Warnings)
                {
                    Console.WriteLine("     warning: " + warning);
                }
            }

            Console.WriteLine(ok ? "all verified" : "NOT verified");
        }

        return ok ? ExitCodes.Ok : ExitCodes.VerificationFailed;
    }
}
