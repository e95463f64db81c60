using System.CommandLine;
using System.Globalization;
using System.Text.RegularExpressions;
using OfflineSigner.Tuf;

namespace OfflineSigner.Cli.Commands;

/// <summary><c>offline-signer verify-chain DIR</c>: the client's root update walk over <c>N.root.json</c> files.</summary>
internal static partial class VerifyChainCommand
{
    public static Command Create()
    {
        var dir = new Argument<string>("DIR") { Description = "A folder holding N.root.json files (1.root.json, 2.root.json, ...)" };
        var trusted = new Option<string?>("--trusted") { Description = "The trusted root to start from (default: DIR/1.root.json)" };
        var at = new Option<string?>("--at") { Description = "Check expiry as of this RFC 3339 time (default: now)" };
        var json = new Option<bool>("--json") { Description = "Write the result as JSON" };
        var cmd = new Command("verify-chain", "Walk a root chain N -> N+1 from a trusted root to the newest, checking both thresholds at every step and the final root's expiry.")
        {
            dir, trusted, at, json,
        };
        cmd.SetAction(p => CommandSupport.Guard(() => Run(p.GetValue(dir)!, p.GetValue(trusted), p.GetValue(at), p.GetValue(json))));
        return cmd;
    }

    private static int Run(string dir, string? trustedPath, string? atText, bool json)
    {
        var at = CommandSupport.ParseAt(atText);
        if (!Directory.Exists(dir))
        {
            throw new DirectoryNotFoundException($"{dir}: no such folder");
        }

        var files = Directory.EnumerateFiles(dir)
            .Select(f => (Path: f, Match: RootFile().Match(Path.GetFileName(f))))
            .Where(x => x.Match.Success)
            .Select(x => (x.Path, Version: long.Parse(x.Match.Groups[1].Value, CultureInfo.InvariantCulture)))
            .OrderBy(x => x.Version)
            .ToList();
        trustedPath ??= Path.Combine(dir, "1.root.json");
        var trusted = CommandSupport.ReadMetadata(trustedPath);
        if (trusted.Signed is not Root)
        {
            throw new MetadataException($"{trustedPath}: not root metadata");
        }

        var trustedRoot = trusted.As<Root>();
        var selfCheck = Verifier.Verify("root", trustedRoot.Signed.Roles["root"], trustedRoot.Signed.Keys, trustedRoot);
        var lines = new List<string>();
        var errors = new List<string>();
        var steps = new List<(string File, RootChainStep Step)>();
        if (!selfCheck.Verified)
        {
            errors.Add($"the trusted root (version {trustedRoot.Signed.Version}) is not signed by a threshold of its own root keys: {selfCheck}");
        }

        var current = trustedRoot;
        var expected = trustedRoot.Signed.Version + 1;
        foreach (var (path, version) in files.Where(f => f.Version > trustedRoot.Signed.Version))
        {
            if (errors.Count > 0)
            {
                break;
            }

            if (version != expected)
            {
                errors.Add($"step {expected - 1} -> {expected}: {expected}.root.json is missing (found {Path.GetFileName(path)} next)");
                break;
            }

            var md = CommandSupport.ReadMetadata(path);
            if (md.Signed is not Root)
            {
                errors.Add($"step {expected - 1} -> {expected}: {path} is not root metadata");
                break;
            }

            var next = md.As<Root>();
            var walk = RootChain.Walk(current, [next], at);
            var step = walk.Steps[0];
            steps.Add((Path.GetFileName(path), step));
            if (!step.Verified)
            {
                var reason = step.Error ?? Describe(step.Result!);
                errors.Add($"step {step.FromVersion} -> {step.ToVersion} ({Path.GetFileName(path)}): {reason}");
                break;
            }

            current = next;
            expected++;
        }

        var finalExpired = current.Signed.IsExpired(at);
        if (errors.Count == 0 && finalExpired)
        {
            errors.Add($"root {current.Signed.Version} expired on {Rfc3339.Format(current.Signed.Expires)} (checked at {Rfc3339.Format(at)})");
        }

        if (json)
        {
            CommandSupport.WriteJson(w =>
            {
                w.WriteStartObject();
                w.WriteBoolean("verified", errors.Count == 0);
                w.WriteNumber("trusted_version", trustedRoot.Signed.Version);
                CommandSupport.WriteResult(w, "trusted_self_signature", selfCheck);
                w.WriteStartArray("steps");
                foreach (var (file, step) in steps)
                {
                    w.WriteStartObject();
                    w.WriteString("file", file);
                    w.WriteNumber("from", step.FromVersion);
                    w.WriteNumber("to", step.ToVersion);
                    w.WriteBoolean("verified", step.Verified);
                    if (step.Error is not null)
                    {
                        w.WriteString("error", step.Error);
                    }

                    CommandSupport.WriteResult(w, "old_root", step.Result?.ByTrusted);
                    CommandSupport.WriteResult(w, "new_root", step.Result?.ByNew);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteNumber("final_version", current.Signed.Version);
                w.WriteString("final_expires", Rfc3339.Format(current.Signed.Expires));
                w.WriteBoolean("final_expired", finalExpired);
                w.WriteString("checked_at", Rfc3339.Format(at));
                CommandSupport.WriteStrings(w, "errors", errors);
                w.WriteEndObject();
            });
        }
        else
        {
            Console.WriteLine($"trusted root: {Path.GetFileName(trustedPath)} version {trustedRoot.Signed.Version}, self-signed {CommandSupport.Count(selfCheck)}");
            foreach (var (file, step) in steps)
            {
                var status = step.Verified ? "ok  " : "FAIL";
                var detail = step.Result is null ? step.Error : Describe(step.Result);
                Console.WriteLine($"{status} root {step.FromVersion} -> {step.ToVersion} ({file}): {detail}");
            }

            Console.WriteLine($"newest trusted root: version {current.Signed.Version}, expires {Rfc3339.Format(current.Signed.Expires)}{(finalExpired ? " (EXPIRED)" : string.Empty)}");
            foreach (var e in errors)
            {
                Console.Error.WriteLine("error: " + e);
            }

            Console.WriteLine(errors.Count == 0 ? "chain verified" : "chain NOT verified");
        }

        return errors.Count == 0 ? ExitCodes.Ok : ExitCodes.VerificationFailed;
    }

    private static string Describe(RootVerificationResult r)
    {
        var text = $"old root signed {CommandSupport.Count(r.ByTrusted)}, new root signed {CommandSupport.Count(r.ByNew)}";
        var problems = r.ByTrusted.Problems.Concat(r.ByNew.Problems).Distinct().ToList();
        return problems.Count == 0 || r.Verified ? text : text + " (" + string.Join("; ", problems) + ")";
    }

    [GeneratedRegex(@"^([1-9][0-9]{0,17})\.root\.json$")]
    private static partial Regex RootFile();
}
