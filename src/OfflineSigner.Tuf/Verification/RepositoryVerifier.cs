using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace OfflineSigner.Tuf;

/// <summary>The outcome of checking one metadata file of a repository.</summary>
public sealed record FileVerification(
    string File,
    string Role,
    long Version,
    Dialect? Dialect,
    VerificationResult? Result,
    IReadOnlyList<string> Errors,
    IReadOnlyList<string> Warnings)
{
    /// <summary>Whether the file verified: parsed, threshold met, not expired, consistent with the others.</summary>
    public bool Verified => Errors.Count == 0 && Result is { Verified: true };
}

/// <summary>
/// Checks a set of metadata files against a trusted root as a client would (TUF specification §5): newer roots
/// by the chain walk, top-level roles against the newest root, delegated roles against their delegator, expiry
/// at a given time, and what timestamp and snapshot say about the files given alongside them.
/// </summary>
public static partial class RepositoryVerifier
{
    /// <summary>Verifies <paramref name="files"/> (name and bytes) against <paramref name="trusted"/>.</summary>
    public static IReadOnlyList<FileVerification> Verify(
        Metadata<Root> trusted,
        IReadOnlyList<(string Name, byte[] Bytes)> files,
        DateTimeOffset at,
        MetadataParseOptions? options = null,
        string? gun = null)
    {
        ArgumentNullException.ThrowIfNull(trusted);
        ArgumentNullException.ThrowIfNull(files);
        var results = new List<FileVerification>();
        var parsed = new List<(string Name, string Role, byte[] Bytes, Metadata<Signed> Md)>();
        foreach (var (name, bytes) in files)
        {
            try
            {
                var md = MetadataReader.Parse(bytes, options, trusted.Dialect);
                parsed.Add((name, RoleNameFromFile(name, md), bytes, md));
            }
            catch (MetadataException e)
            {
                results.Add(new FileVerification(name, "?", 0, null, null, [e.Message], []));
            }
        }

        // Roots: walk the chain from the trusted root through every newer one given.
        var current = trusted;
        foreach (var r in parsed.Where(p => p.Md.Signed is Root).OrderBy(p => p.Md.Signed.Version))
        {
            var root = r.Md.As<Root>();
            var errors = new List<string>();
            VerificationResult? result = null;
            var warnings = new List<string>();
            if (root.Signed.Version < trusted.Signed.Version)
            {
                errors.Add($"root version {root.Signed.Version} is older than the trusted root (version {trusted.Signed.Version}): rollback");
            }
            else if (root.Signed.Version == current.Signed.Version)
            {
                if (!root.SignedBytes().AsSpan().SequenceEqual(current.SignedBytes()))
                {
                    errors.Add($"root version {root.Signed.Version} differs from the trusted root of the same version");
                }

                result = Verifier.Verify("root", root.Signed.Roles["root"], root.Signed.Keys, root);
            }
            else
            {
                try
                {
                    var update = Verifier.VerifyRootUpdate(current, root);
                    result = update.ByTrusted.Verified ? update.ByNew : update.ByTrusted;
                    warnings.AddRange(update.ByTrusted.Warnings.Concat(update.ByNew.Warnings).Distinct());
                    warnings.AddRange(update.ByNew.IgnoredSignatures.Intersect(update.ByTrusted.IgnoredSignatures)
                        .Select(id => $"signature by {id}, which is a root key of neither version, was ignored"));
                    if (!update.ByTrusted.Verified)
                    {
                        errors.Add($"not signed by a threshold of root version {current.Signed.Version}: {update.ByTrusted}");
                    }
                    else if (!update.ByNew.Verified)
                    {
                        errors.Add($"not signed by a threshold of its own root keys: {update.ByNew}");
                    }
                    else
                    {
                        current = root;
                    }
                }
                catch (MetadataException e)
                {
                    errors.Add(e.Message);
                }
            }

            results.Add(new FileVerification(r.Name, "root", root.Signed.Version, root.Dialect, result, errors, warnings));
        }

        var newest = current.Signed;
        if (newest.IsExpired(at))
        {
            var msg = $"root version {newest.Version} expired at {Rfc3339.Format(newest.Expires)}";
            var idx = results.FindIndex(x => x.Role == "root" && x.Version == newest.Version);
            if (idx >= 0)
            {
                results[idx] = results[idx] with { Errors = [.. results[idx].Errors, msg] };
            }
            else
            {
                results.Add(new FileVerification("(trusted root)", "root", newest.Version, current.Dialect, null, [msg], []));
            }
        }

        if (current.Dialect == Dialect.Notary)
        {
            var certProblems = NotaryRootKeyProblems(current.Signed, gun, at).ToList();
            if (certProblems.Count > 0)
            {
                var idx = results.FindIndex(x => x.Role == "root" && x.Version == newest.Version);
                if (idx >= 0)
                {
                    results[idx] = results[idx] with { Errors = [.. results[idx].Errors, .. certProblems] };
                }
                else
                {
                    results.Add(new FileVerification("(trusted root)", "root", newest.Version, current.Dialect, null, certProblems, []));
                }
            }
        }

        // Top-level targets, snapshot, timestamp against the newest root; delegated targets against their delegator.
        var verifiedTargets = new Dictionary<string, Targets>(StringComparer.Ordinal);
        var others = parsed.Where(p => p.Md.Signed is not Root).ToList();
        var pending = new List<(string Name, string Role, byte[] Bytes, Metadata<Signed> Md)>();
        foreach (var p in others)
        {
            if (p.Md.Signed is Targets && p.Role != "targets")
            {
                pending.Add(p);
                continue;
            }

            var result = Verifier.VerifyTopLevel(newest, p.Md);
            var fv = Finish(p.Name, p.Role, p.Md, result, at);
            results.Add(fv);
            if (fv.Verified && p.Md.Signed is Targets t)
            {
                verifiedTargets[p.Role] = t;
            }
        }

        // Delegations may nest: keep resolving while progress is made.
        bool progress;
        do
        {
            progress = false;
            foreach (var p in pending.ToList())
            {
                var delegator = verifiedTargets.Values.FirstOrDefault(t => t.Delegations?.FindRole(p.Role) is not null);
                if (delegator is null)
                {
                    continue;
                }

                var result = Verifier.VerifyDelegated(p.Role, delegator, p.Md.As<Targets>());
                var fv = Finish(p.Name, p.Role, p.Md, result, at);
                results.Add(fv);
                pending.Remove(p);
                progress = true;
                if (fv.Verified)
                {
                    verifiedTargets[p.Role] = p.Md.As<Targets>().Signed;
                }
            }
        }
        while (progress);

        foreach (var p in pending)
        {
            results.Add(new FileVerification(p.Name, p.Role, p.Md.Signed.Version, p.Md.Dialect, null, [$"no verified targets role given delegates to \"{p.Role}\""], []));
        }

        CheckConsistency(parsed, results);
        return results;
    }

    /// <summary>
    /// Notary's rules for root keys: every root key is an x509 certificate whose CN is the repository's GUN,
    /// valid at <paramref name="at"/>, with acceptable algorithms. Without a GUN the CN cannot be checked.
    /// </summary>
    public static IEnumerable<string> NotaryRootKeyProblems(Root root, string? gun, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(root);
        foreach (var key in root.RoleKeys("root"))
        {
            var chain = key.PublicKey?.CertificateChain;
            if (chain is null || chain.Count == 0)
            {
                yield return $"root key {key.KeyId} is not an x509 certificate, as notary requires";
                continue;
            }

            var leaf = chain[0];
            var problems = gun is null
                ? Crypto.NotaryRootCertificate.Check(leaf, leaf.GetNameInfo(System.Security.Cryptography.X509Certificates.X509NameType.SimpleName, false), at)
                : Crypto.NotaryRootCertificate.Check(leaf, gun, at);
            foreach (var problem in problems)
            {
                yield return $"root key {key.KeyId}: {problem}";
            }
        }
    }

    /// <summary>
    /// The role a file holds: the file name without a leading <c>VERSION.</c> and the <c>.json</c> suffix; for notary,
    /// a file under a <c>targets/</c> folder is the delegated role <c>targets/NAME</c>.
    /// </summary>
    public static string RoleNameFromFile(string fileName, Metadata<Signed> metadata)
    {
        ArgumentNullException.ThrowIfNull(fileName);
        ArgumentNullException.ThrowIfNull(metadata);
        if (metadata.Signed is not Targets)
        {
            return metadata.Signed.Type.ToString().ToLowerInvariant();
        }

        var normalized = fileName.Replace('\\', '/');
        var baseName = Path.GetFileName(normalized);
        if (baseName.EndsWith(".json", StringComparison.Ordinal))
        {
            baseName = baseName[..^5];
        }

        var m = VersionPrefix().Match(baseName);
        if (m.Success)
        {
            baseName = baseName[m.Length..];
        }

        if (metadata.Dialect == Dialect.Notary)
        {
            var dir = Path.GetFileName(Path.GetDirectoryName(normalized) ?? string.Empty);
            if (dir == "targets" && baseName != "targets")
            {
                return "targets/" + baseName;
            }
        }

        return baseName;
    }

    private static FileVerification Finish(string name, string role, Metadata<Signed> md, VerificationResult result, DateTimeOffset at)
    {
        var errors = new List<string>();
        if (!result.Verified)
        {
            errors.Add($"{result.Signers.Count} of {result.Threshold} required signatures" + (result.Problems.Count > 0 ? ": " + string.Join("; ", result.Problems) : string.Empty));
        }

        if (md.Signed.IsExpired(at))
        {
            errors.Add($"{role} version {md.Signed.Version} expired at {Rfc3339.Format(md.Signed.Expires)}");
        }

        var warnings = result.Warnings.Concat(result.IgnoredSignatures.Select(id => $"signature by {id}, which is not a {role} key, was ignored")).ToList();
        return new FileVerification(name, role, md.Signed.Version, md.Dialect, result, errors, warnings);
    }

    private static void CheckConsistency(List<(string Name, string Role, byte[] Bytes, Metadata<Signed> Md)> parsed, List<FileVerification> results)
    {
        void AddError(string file, string error)
        {
            var i = results.FindIndex(r => r.File == file);
            results[i] = results[i] with { Errors = [.. results[i].Errors, error] };
        }

        // Newest copy of each role given.
        var newest = parsed.GroupBy(p => p.Role).ToDictionary(g => g.Key, g => g.OrderByDescending(p => p.Md.Signed.Version).First(), StringComparer.Ordinal);
        if (newest.TryGetValue("timestamp", out var ts) && newest.TryGetValue("snapshot", out var sn))
        {
            var meta = ts.Md.As<Timestamp>().Signed.SnapshotMeta;
            foreach (var problem in CompareMeta(meta, sn.Bytes, sn.Md, ts.Md.Dialect))
            {
                AddError(ts.Name, "snapshot " + problem);
            }
        }

        if (newest.TryGetValue("snapshot", out var snap))
        {
            var snapshot = snap.Md.As<Snapshot>().Signed;
            foreach (var (role, p) in newest)
            {
                if (p.Md.Signed is not Targets && !(p.Md.Signed is Root && snap.Md.Dialect == Dialect.Notary))
                {
                    continue;
                }

                var key = snap.Md.Dialect == Dialect.Notary ? role : role + ".json";
                if (!snapshot.Meta.TryGetValue(key, out var meta))
                {
                    if (p.Md.Signed is Targets)
                    {
                        AddError(snap.Name, $"does not list {key}");
                    }

                    continue;
                }

                foreach (var problem in CompareMeta(meta, p.Bytes, p.Md, snap.Md.Dialect))
                {
                    AddError(snap.Name, $"{key} {problem}");
                }
            }
        }
    }

    private static IEnumerable<string> CompareMeta(MetaFile meta, byte[] bytes, Metadata<Signed> md, Dialect dialect)
    {
        if (meta.Version is long v && v != md.Signed.Version)
        {
            yield return $"version is {md.Signed.Version} but the listing says {v}";
        }

        if (meta.Length is long len && len != bytes.Length)
        {
            yield return $"length is {bytes.Length} but the listing says {len}";
        }

        foreach (var (alg, expected) in meta.Hashes)
        {
            byte[]? actual = alg switch
            {
                "sha256" => SHA256.HashData(bytes),
                "sha512" => SHA512.HashData(bytes),
                _ => null,
            };
            if (actual is null)
            {
                continue;
            }

            var text = dialect == Dialect.Notary ? Convert.ToBase64String(actual) : Convert.ToHexStringLower(actual);
            if (!string.Equals(text, expected, dialect == Dialect.Notary ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase))
            {
                yield return $"{alg} hash does not match the listing";
            }
        }
    }

    [GeneratedRegex(@"^[0-9]+\.")]
    private static partial Regex VersionPrefix();
}
