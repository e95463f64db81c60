using System.CommandLine;
using System.Globalization;
using OfflineSigner.Bundles;
using OfflineSigner.Cli.Workflow;
using OfflineSigner.Tuf;

namespace OfflineSigner.Cli.Commands;

/// <summary>The online side: <c>export</c>, <c>import</c>, and <c>status</c> of a bundle.</summary>
internal static class BundleCommands
{
    public static Command Export()
    {
        var repo = new Option<string?>("--repo") { Description = "A TUF specification repository folder (metadata/ and targets/, consistent snapshots)" };
        var notary = new Option<string?>("--notary") { Description = "A notary server's URL (with --gun)" };
        var gun = new Option<string?>("--gun") { Description = "Notary: the repository's GUN" };
        var output = new Option<string>("--out") { Description = "The bundle folder to write (new or empty; on the USB stick)", Required = true };
        var roles = new Option<string[]>("--role") { Description = "A role to sign next: root, targets or a delegated role (repeat for several)", AllowMultipleArgumentsPerToken = false };
        var expires = new Option<string?>("--expires") { Description = "Expiry of the new versions: a duration (365d, 12w, 1y) or an RFC 3339 time (default: root 365d, targets and delegated 90d)" };
        var addKey = new Option<string[]>("--add-key") { Description = "A public key to add (key object JSON from 'offline-signer keys public', or a PEM public key for TUF)" };
        var removeKey = new Option<string[]>("--remove-key") { Description = "A key id to remove" };
        var threshold = new Option<int?>("--threshold") { Description = "The new threshold of the role whose keys change" };
        var keyRole = new Option<string>("--key-role") { Description = "With --role root: the top-level role whose keys --add-key/--remove-key change", DefaultValueFactory = _ => "root" };
        var delegation = new Option<string[]>("--delegation") { Description = "A delegation of the --role targets (or delegated role) whose keys change; created when new; its role is re-signed in the bundle" };
        var paths = new Option<string[]>("--paths") { Description = "A new delegation's path patterns (default NAME/*)" };
        var allDelegated = new Option<bool>("--all-delegated") { Description = "Also re-sign every delegated role (hash bins)" };
        var hashBins = new Option<int?>("--hash-bins") { Description = "Delegate targets to 2^BITS succinct hash bins (TAP 15; 14 = 16,384 bins as PEP 458) signed by the --add-key key(s); every bin is a new role in the bundle" };
        var binPrefix = new Option<string>("--bin-prefix") { Description = "The hash bins' name prefix (default bins)", DefaultValueFactory = _ => "bins" };
        var isNew = new Option<bool>("--new") { Description = "A request for a new repository: carries the online keys' public keys to the air-gapped side for 'ceremony init-root'" };
        var onlineKey = new Option<string?>("--online-key") { Description = "TUF --new: the online key (PEM, private or public) that signs snapshot and timestamp" };
        var name = new Option<string?>("--name") { Description = "TUF: the repository's name in the manifest (default: the folder's name)" };
        var json = JsonOption();
        var cmd = new Command("export", "Build the next version(s) of role(s) from a repository or notary server and write them, unsigned, into a bundle for the air-gapped side.\n" + ExitCodes.Help)
        {
            repo, notary, gun, output, roles, expires, addKey, removeKey, threshold, keyRole, delegation, paths, allDelegated, hashBins, binPrefix, isNew, onlineKey, name, json,
        };
        cmd.SetAction((p, ct) => Task.FromResult(CommandSupport.Guard(async () =>
        {
            var request = new ExportRequest
            {
                Roles = p.GetValue(roles) ?? [],
                Expires = p.GetValue(expires),
                AddKeyFiles = p.GetValue(addKey) ?? [],
                RemoveKeyIds = p.GetValue(removeKey) ?? [],
                Threshold = p.GetValue(threshold),
                KeyRole = p.GetValue(keyRole)!,
                Delegations = p.GetValue(delegation) ?? [],
                DelegationPaths = p.GetValue(paths) ?? [],
                AllDelegated = p.GetValue(allDelegated),
                HashBinBits = p.GetValue(hashBins),
                BinPrefix = p.GetValue(binPrefix)!,
            };
            var target = RepositoryTarget.FromOptions(p.GetValue(repo), p.GetValue(notary), p.GetValue(gun));
            var outDir = p.GetValue(output)!;
            var now = DateTimeOffset.UtcNow;
            if (!p.GetValue(json))
            {
                Console.Error.WriteLine($"export: reading and verifying {target.Describe()}");
            }

            BundleManifest manifest;
            if (p.GetValue(isNew))
            {
                var keys = await target.OnlineKeysForNewAsync(p.GetValue(onlineKey), ct).ConfigureAwait(false);
                manifest = Exporter.ExportNew(outDir, target.Dialect, p.GetValue(name) ?? target.Name, target.Gun, keys, now);
            }
            else
            {
                var loaded = await target.LoadAsync(ct).ConfigureAwait(false)
                    ?? throw new OfflineSignerException($"{target.Describe()} has no root yet: create it with 'export --new', then 'ceremony init-root' on the air-gapped machine");
                manifest = Exporter.Export(outDir, loaded.State, loaded.RootFile, p.GetValue(name) ?? target.Name, target.Gun, request, now);
            }

            WriteManifest(outDir, manifest, p.GetValue(json));
            return ExitCodes.Ok;
        })));
        return cmd;
    }

    public static Command Import()
    {
        var bundle = new Option<string>("--bundle") { Description = "The signed bundle folder", Required = true };
        var repo = new Option<string?>("--repo") { Description = "A TUF specification repository folder (created for a new-repository bundle)" };
        var notary = new Option<string?>("--notary") { Description = "A notary server's URL (with --gun)" };
        var gun = new Option<string?>("--gun") { Description = "Notary: the repository's GUN" };
        var onlineKey = new Option<string?>("--online-key") { Description = "The online key (PKCS#8 PEM): TUF, it signs the new snapshot and timestamp (without it they are left to the repository's own service); notary, the targets key when it is online" };
        var limits = LimitOptions();
        var json = JsonOption();
        var cmd = new Command("import", "Verify a signed bundle (thresholds, cross-signatures, versions, expiry, that it was built for this repository and its trusted root), merge the signatures, and write the repository atomically or publish to the notary server in one request.\n" + ExitCodes.Help)
        {
            bundle, repo, notary, gun, onlineKey, limits.MaxFile, limits.MaxTotal, limits.MaxFiles, json,
        };
        cmd.SetAction((p, ct) => Task.FromResult(CommandSupport.Guard(async () =>
        {
            var quiet = p.GetValue(json);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            Bundle b;
            using (Timings.Measure("open and check the bundle"))
            {
                b = Bundle.Open(p.GetValue(bundle)!, limits.Read(p));
            }

            var target = RepositoryTarget.FromOptions(p.GetValue(repo), p.GetValue(notary), p.GetValue(gun));
            if (b.LeftoverTemporaryFiles.Count > 0)
            {
                Console.Error.WriteLine($"note: {b.LeftoverTemporaryFiles.Count} temporary file(s) of an interrupted write in the bundle were skipped ({string.Join(", ", b.LeftoverTemporaryFiles.Take(3))}); they are removed when the transcript is next written");
            }

            if (!quiet)
            {
                Console.Error.WriteLine($"import: bundle {b.Manifest.BundleId} read and checked ({b.Manifest.Items.Count} items, {b.Signatures.Count} signatures, {clock.Elapsed.TotalSeconds:0.0} s); verifying against {target.Describe()}");
            }

            var result = await target.ImportAsync(b, p.GetValue(onlineKey), DateTimeOffset.UtcNow, ct).ConfigureAwait(false);
            try
            {
                b.Record(DateTimeOffset.UtcNow, "import", ("target", target.Describe()), ("roles", string.Join(",", result.Roles.Take(8))), ("root_version", result.RootVersion.ToString(CultureInfo.InvariantCulture)));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A read-only or pulled stick: the import itself is done and stays done.
                Console.Error.WriteLine($"note: the import is complete, but it could not be recorded in the bundle's transcript ({e.Message})");
            }

            if (p.GetValue(json))
            {
                CommandSupport.WriteJson(w =>
                {
                    w.WriteStartObject();
                    w.WriteBoolean("imported", true);
                    w.WriteString("target", target.Describe());
                    w.WriteNumber("root_version", result.RootVersion);
                    CommandSupport.WriteStrings(w, "roles", result.Roles);
                    CommandSupport.WriteStrings(w, "files", result.Files);
                    w.WriteEndObject();
                });
            }
            else
            {
                Console.WriteLine($"imported bundle {b.Manifest.BundleId} into {target.Describe()}: {result.Roles.Count} role(s) ({string.Join(", ", result.Roles.Take(6))}{(result.Roles.Count > 6 ? ", ..." : string.Empty)}), root version {result.RootVersion}");
                foreach (var extra in result.Notes)
                {
                    Console.WriteLine("  " + extra);
                }
            }

            return ExitCodes.Ok;
        })));
        return cmd;
    }

    public static Command Status()
    {
        var bundle = new Option<string?>("--bundle") { Description = "The bundle folder" };
        var repo = new Option<string?>("--repo") { Description = "A TUF repository folder: its expiry calendar instead of a bundle's signatures" };
        var at = new Option<string?>("--at") { Description = "With --repo: the calendar as of this RFC 3339 time (default: now)" };
        var limits = LimitOptions();
        var json = JsonOption();
        var cmd = new Command("status", "Which items of a bundle need which signers, and how many signatures each has against its thresholds (exit 0 when every item is ready to import, 1 when signatures are missing); or, with --repo, the repository's expiry calendar: each role's expiry, the date by which it must be re-signed, and warnings well ahead (exit 0 when nothing is due, 1 when a role is due for re-signing or expired).\n" + ExitCodes.Help)
        {
            bundle, repo, at, limits.MaxFile, limits.MaxTotal, limits.MaxFiles, json,
        };
        cmd.SetAction(p => CommandSupport.Guard(() =>
        {
            if ((p.GetValue(bundle) is null) == (p.GetValue(repo) is null))
            {
                throw new OfflineSignerException("status takes --bundle BUNDLE or --repo DIR (one of them)");
            }

            if (p.GetValue(repo) is { } repoDir)
            {
                return Calendar(repoDir, CommandSupport.ParseAt(p.GetValue(at)), p.GetValue(json));
            }

            var b = Bundle.Open(p.GetValue(bundle)!, limits.Read(p));
            var statuses = BundleMerge.Evaluate(b);
            var ready = statuses.Count > 0 && statuses.All(s => s.Complete);
            if (p.GetValue(json))
            {
                CommandSupport.WriteJson(w =>
                {
                    w.WriteStartObject();
                    w.WriteString("bundle_id", b.Manifest.BundleId);
                    w.WriteString("dialect", BundleManifest.DialectName(b.Manifest.Dialect));
                    w.WriteString("repository", b.Manifest.Repository.Name);
                    w.WriteBoolean("ready", ready);
                    w.WriteStartArray("items");
                    foreach (var s in statuses)
                    {
                        w.WriteStartObject();
                        w.WriteString("id", s.Item.Id);
                        w.WriteString("role", s.Item.Role);
                        w.WriteNumber("version", s.Item.Version);
                        w.WriteString("signed_sha256", s.Item.SignedSha256);
                        w.WriteBoolean("complete", s.Complete);
                        w.WriteStartArray("thresholds");
                        foreach (var r in s.Requirements)
                        {
                            w.WriteStartObject();
                            w.WriteString("name", r.Name);
                            w.WriteNumber("threshold", r.Threshold);
                            w.WriteNumber("signatures", r.SignedBy.Count);
                            w.WriteBoolean("met", r.Met);
                            CommandSupport.WriteStrings(w, "signed_by", r.SignedBy);
                            CommandSupport.WriteStrings(w, "missing", r.Missing);
                            w.WriteEndObject();
                        }

                        w.WriteEndArray();
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                    w.WriteNumber("transcript_entries", b.Transcript.Entries.Count);
                    w.WriteEndObject();
                });
            }
            else
            {
                Console.WriteLine($"bundle {b.Manifest.BundleId} ({BundleManifest.DialectName(b.Manifest.Dialect)}, repository {b.Manifest.Repository.Name}{(b.Manifest.IsNewRepository ? ", new" : $", trusted root version {b.Manifest.Repository.TrustedRootVersion}")})");
                if (statuses.Count == 0)
                {
                    Console.WriteLine("  no items yet: a request for a new repository; run 'offline-signer ceremony init-root --bundle ...' on the air-gapped machine");
                }

                foreach (var s in statuses.Take(50))
                {
                    Console.WriteLine($"  item {s.Item.Id} {s.Item.Role} v{s.Item.Version}: {(s.Complete ? "ready" : "needs signatures")}");
                    foreach (var r in s.Requirements)
                    {
                        Console.WriteLine($"    {r.Name}: {r.SignedBy.Count}/{r.Threshold}{(r.Met ? string.Empty : "; can sign: " + string.Join(", ", r.Missing))}");
                    }
                }

                if (statuses.Count > 50)
                {
                    Console.WriteLine($"  ... and {statuses.Count - 50} more items: {statuses.Count(s => s.Complete)} of {statuses.Count} ready");
                }

                foreach (var e in b.Transcript.Entries)
                {
                    Console.WriteLine($"  transcript {e.Seq}: {Rfc3339.Format(e.Time)} {e.Event} {string.Join(" ", e.Details.Where(d => d.Key is "keyid" or "signer" or "items" or "target").Select(d => d.Key + "=" + d.Value))}");
                }
            }

            return ready ? ExitCodes.Ok : ExitCodes.VerificationFailed;
        }));
        return cmd;
    }

    /// <summary>The expiry calendar of a TUF repository (docs/ceremony.md "Calendar"), soonest deadline first.</summary>
    private static int Calendar(string dir, DateTimeOffset now, bool json)
    {
        var state = Repositories.TufRepository.Load(dir).State;
        var roles = new List<(string, Signed)> { ("root", state.Root.Signed) };
        if (state.Targets is { } t)
        {
            roles.Add(("targets", t.Signed));
        }

        roles.AddRange(state.Delegated.Select(d => (d.Key, (Signed)d.Value.Signed)));
        if (state.Snapshot is { } sn)
        {
            roles.Add(("snapshot", sn.Signed));
        }

        if (state.Timestamp is { } ts)
        {
            roles.Add(("timestamp", ts.Signed));
        }

        var calendar = Ceremony.Calendar.ExpiryCalendar.Compute(roles, now);
        var due = calendar.Any(c => c.Status is Ceremony.Calendar.ExpiryStatus.Due or Ceremony.Calendar.ExpiryStatus.Expired);
        if (json)
        {
            CommandSupport.WriteJson(w =>
            {
                w.WriteStartObject();
                w.WriteString("repository", dir);
                w.WriteString("at", Rfc3339.Format(now));
                w.WriteBoolean("due", due);
                w.WriteStartArray("calendar");
                foreach (var c in calendar)
                {
                    w.WriteStartObject();
                    w.WriteString("role", c.Role);
                    w.WriteNumber("version", c.Version);
                    w.WriteString("expires", Rfc3339.Format(c.Expires));
                    w.WriteString("resign_by", Rfc3339.Format(c.ResignBy));
                    w.WriteString("warn_from", Rfc3339.Format(c.WarnFrom));
                    w.WriteString("status", c.Status.ToString().ToLowerInvariant());
                    w.WriteString("message", c.Message);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            });
        }
        else
        {
            Console.WriteLine($"repository {dir}: expiry calendar at {Rfc3339.Format(now)}");
            foreach (var c in calendar)
            {
                Console.WriteLine($"  {c.Status.ToString().ToUpperInvariant(),-7} {c.Message}");
            }
        }

        foreach (var c in calendar.Where(c => c.Status != Ceremony.Calendar.ExpiryStatus.Ok))
        {
            Console.Error.WriteLine("warning: " + c.Message);
        }

        return due ? ExitCodes.VerificationFailed : ExitCodes.Ok;
    }

    public static Option<bool> JsonOption() => new("--json") { Description = "Write the result as JSON on stdout (messages stay on stderr)" };

    public static void WriteManifest(string dir, BundleManifest manifest, bool json)
    {
        if (json)
        {
            CommandSupport.WriteJson(w =>
            {
                w.WriteStartObject();
                w.WriteString("bundle", Path.GetFullPath(dir));
                w.WriteString("bundle_id", manifest.BundleId);
                w.WriteString("dialect", BundleManifest.DialectName(manifest.Dialect));
                w.WriteNumber("items", manifest.Items.Count);
                w.WriteStartArray("roles");
                foreach (var i in manifest.Items.Take(1000))
                {
                    w.WriteStartObject();
                    w.WriteString("id", i.Id);
                    w.WriteString("role", i.Role);
                    w.WriteNumber("version", i.Version);
                    w.WriteString("signed_sha256", i.SignedSha256);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            });
            return;
        }

        Console.WriteLine($"wrote bundle {manifest.BundleId} to {dir}: {manifest.Items.Count} item(s)");
        foreach (var i in manifest.Items.Take(20))
        {
            Console.WriteLine($"  {i.Id} {i.Role} v{i.Version} sha256 {i.SignedSha256}: needs {string.Join(" and ", i.Requirements.Select(r => $"{r.Threshold} of {r.KeyIds.Count} {r.Name}"))}");
        }

        if (manifest.Items.Count > 20)
        {
            Console.WriteLine($"  ... and {manifest.Items.Count - 20} more");
        }
    }

    internal sealed record Limits(Option<long?> MaxFile, Option<long?> MaxTotal, Option<int?> MaxFiles)
    {
        public BundleLimits Read(ParseResult p)
        {
            var d = BundleLimits.Default;
            return new BundleLimits(p.GetValue(MaxFile) ?? d.MaxFileBytes, p.GetValue(MaxTotal) ?? d.MaxTotalBytes, p.GetValue(MaxFiles) ?? d.MaxFiles);
        }
    }

    public static Limits LimitOptions() => new(
        new Option<long?>("--max-file-bytes") { Description = $"Refuse a bundle file larger than this (default {BundleLimits.Default.MaxFileBytes})" },
        new Option<long?>("--max-total-bytes") { Description = $"Refuse a bundle larger than this in all (default {BundleLimits.Default.MaxTotalBytes})" },
        new Option<int?>("--max-files") { Description = $"Refuse a bundle with more files (default {BundleLimits.Default.MaxFiles})" });
}
