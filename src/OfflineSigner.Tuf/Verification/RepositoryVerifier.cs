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
        var parsed = new List<Parsed>();

        // Parsed on every core (thousands of hash bins), then taken in the files' order.
        var read = Parallelism.Map(files.Count, i =>
        {
            var (name, bytes) = files[i];
            try
            {
                return (Parsed: Parsed.Read(name, bytes, options, trusted.Dialect), Error: (string?)null);
            }
            catch (MetadataException e)
            {
                return (Parsed: (Parsed?)null, Error: e.Message);
            }
        });
        for (var i = 0; i < read.Length; i++)
        {
            if (read[i].Parsed is { } one)
            {
                parsed.Add(one);
            }
            else
            {
                results.Add(new FileVerification(files[i].Name, "?", 0, null, null, [read[i].Error!], []));
            }
        }

        // Roots: walk the chain from the trusted root through every newer one given.
        var current = trusted;
        foreach (var r in parsed.Where(p => p.Type == RoleType.Root).OrderBy(p => p.Version))
        {
            var root = r.Model!.As<Root>();
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
        var verifiedTargets = new VerifiedTargets();
        var others = parsed.Where(p => p.Type != RoleType.Root).ToList();
        var pending = new List<Parsed>();
        foreach (var p in others)
        {
            if (p.Type == RoleType.Targets && p.Role != "targets")
            {
                pending.Add(p);
                continue;
            }

            var name = p.Type.ToString().ToLowerInvariant();
            var fv = Finish(p, p.VerifyBy(name, newest.Roles[name], newest.Keys), at);
            results.Add(fv);
            if (fv.Verified && p.Type == RoleType.Targets)
            {
                verifiedTargets.Remember(p);
            }
        }

        // Delegations may nest: keep resolving while progress is made. Each pass is the sequential walk below; the
        // signatures of the roles whose delegator is already verified when the pass starts (all the hash bins of a
        // targets role) are checked first on every core, and the walk takes those results when it finds the same
        // delegation, so order and outcome are the sequential walk's.
        bool progress;
        do
        {
            progress = false;
            var ahead = Parallelism.Map(pending.Count, i =>
            {
                var p = pending[i];
                return verifiedTargets.TryFindDelegation(p.Role, out var delegator, out var role, out var keys)
                    ? (Delegator: delegator, Result: p.VerifyBy(p.Role, role!, keys!))
                    : (Delegator: null, Result: null);
            });
            var left = new List<Parsed>(pending.Count);
            for (var i = 0; i < pending.Count; i++)
            {
                var p = pending[i];
                if (!verifiedTargets.TryFindDelegation(p.Role, out var delegator, out var role, out var keys))
                {
                    left.Add(p);
                    continue;
                }

                // The same (immutable) delegator document gives the same delegation, so its result stands.
                var result = ReferenceEquals(delegator, ahead[i].Delegator)
                    ? ahead[i].Result!
                    : p.VerifyBy(p.Role, role!, keys!);
                var fv = Finish(p, result, at);
                results.Add(fv);
                progress = true;
                if (fv.Verified)
                {
                    verifiedTargets.Remember(p);
                }
            }

            pending = left;
        }
        while (progress);

        foreach (var p in pending)
        {
            results.Add(new FileVerification(p.Name, p.Role, p.Version, p.Dialect, null, [$"no verified targets role given delegates to \"{p.Role}\""], []));
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
        return RoleNameFromFile(fileName, metadata.Signed.Type, metadata.Dialect);
    }

    private static string RoleNameFromFile(string fileName, RoleType type, Dialect dialect)
    {
        if (type != RoleType.Targets)
        {
            return type.ToString().ToLowerInvariant();
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

        if (dialect == Dialect.Notary)
        {
            var dir = Path.GetFileName(Path.GetDirectoryName(normalized) ?? string.Empty);
            if (dir == "targets" && baseName != "targets")
            {
                return "targets/" + baseName;
            }
        }

        return baseName;
    }

    /// <summary>
    /// The verified targets roles, searched in order for a delegation; a newer verified copy of a role takes its
    /// earlier copy's place. Indexed by role name, so that remembering thousands of roles stays linear.
    /// </summary>
    private sealed class VerifiedTargets
    {
        private readonly List<Parsed> ordered = [];
        private readonly Dictionary<string, int> index = new(StringComparer.Ordinal);

        public void Remember(Parsed p)
        {
            if (index.TryGetValue(p.Role, out var i))
            {
                ordered[i] = p;
            }
            else
            {
                index[p.Role] = ordered.Count;
                ordered.Add(p);
            }
        }

        /// <summary>The first verified role, in order, that delegates <paramref name="roleName"/>, and that delegation.</summary>
        public bool TryFindDelegation(string roleName, out Parsed? delegator, out Role? role, out IReadOnlyDictionary<string, Key>? keys)
        {
            foreach (var t in ordered)
            {
                if (t.TryFindDelegation(roleName, out role, out keys))
                {
                    delegator = t;
                    return true;
                }
            }

            delegator = null;
            role = null;
            keys = null;
            return false;
        }
    }

    private static FileVerification Finish(Parsed p, VerificationResult result, DateTimeOffset at)
    {
        var errors = new List<string>();
        if (!result.Verified)
        {
            errors.Add($"{result.Signers.Count} of {result.Threshold} required signatures" + (result.Problems.Count > 0 ? ": " + string.Join("; ", result.Problems) : string.Empty));
        }

        if (p.IsExpired(at))
        {
            errors.Add($"{p.Role} version {p.Version} expired at {Rfc3339.Format(p.Expires)}");
        }

        var warnings = result.Warnings.Concat(result.IgnoredSignatures.Select(id => $"signature by {id}, which is not a {p.Role} key, was ignored")).ToList();
        return new FileVerification(p.Name, p.Role, p.Version, p.Dialect, result, errors, warnings);
    }

    private static void CheckConsistency(List<Parsed> parsed, List<FileVerification> results)
    {
        void AddError(string file, string error)
        {
            var i = results.FindIndex(r => r.File == file);
            results[i] = results[i] with { Errors = [.. results[i].Errors, error] };
        }

        // Newest copy of each role given.
        var newest = parsed.GroupBy(p => p.Role).ToDictionary(g => g.Key, g => g.OrderByDescending(p => p.Version).First(), StringComparer.Ordinal);
        if (newest.TryGetValue("timestamp", out var ts) && newest.TryGetValue("snapshot", out var sn))
        {
            var meta = ts.Model!.As<Timestamp>().Signed.SnapshotMeta;
            foreach (var problem in CompareMeta(meta, sn, ts.Dialect))
            {
                AddError(ts.Name, "snapshot " + problem);
            }
        }

        if (newest.TryGetValue("snapshot", out var snap))
        {
            var snapshot = snap.Model!.As<Snapshot>().Signed;
            foreach (var (role, p) in newest)
            {
                if (p.Type != RoleType.Targets && !(p.Type == RoleType.Root && snap.Dialect == Dialect.Notary))
                {
                    continue;
                }

                var key = snap.Dialect == Dialect.Notary ? role : role + ".json";
                if (!snapshot.Meta.TryGetValue(key, out var meta))
                {
                    if (p.Type == RoleType.Targets)
                    {
                        AddError(snap.Name, $"does not list {key}");
                    }

                    continue;
                }

                foreach (var problem in CompareMeta(meta, p, snap.Dialect))
                {
                    AddError(snap.Name, $"{key} {problem}");
                }
            }
        }
    }

    private static IEnumerable<string> CompareMeta(MetaFile meta, Parsed file, Dialect dialect)
    {
        var bytes = file.Bytes;
        if (meta.Version is long v && v != file.Version)
        {
            yield return $"version is {file.Version} but the listing says {v}";
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

    /// <summary>
    /// One file as read: targets metadata through the index (<see cref="IndexedTargets"/>: no tree of the file, its
    /// signed bytes hashed as they are written), every other type in the model.
    /// </summary>
    private sealed class Parsed
    {
        private Parsed(string name, byte[] bytes, Metadata<Signed>? model, IndexedTargets? indexed)
        {
            Name = name;
            Bytes = bytes;
            Model = model;
            Indexed = indexed;
            Role = RoleNameFromFile(name, Type, Dialect);
        }

        public string Name { get; }

        public string Role { get; }

        public byte[] Bytes { get; }

        public Metadata<Signed>? Model { get; }

        public IndexedTargets? Indexed { get; }

        public RoleType Type => Model?.Signed.Type ?? RoleType.Targets;

        public long Version => Model?.Signed.Version ?? Indexed!.Version;

        public DateTimeOffset Expires => Model?.Signed.Expires ?? Indexed!.Expires;

        public Dialect Dialect => Model?.Dialect ?? Indexed!.Dialect;

        public static Parsed Read(string name, byte[] bytes, MetadataParseOptions? options, Dialect dialect)
        {
            var indexed = IndexedTargets.ParseIfTargets(bytes, options, dialect);
            return indexed is not null
                ? new Parsed(name, bytes, null, indexed)
                : new Parsed(name, bytes, MetadataReader.Parse(bytes, options, dialect), null);
        }

        public bool IsExpired(DateTimeOffset at) => at >= Expires;

        public VerificationResult VerifyBy(string roleName, Role role, IReadOnlyDictionary<string, Key> keys) =>
            Indexed is not null ? Verifier.Verify(roleName, role, keys, Indexed) : Verifier.Verify(roleName, role, keys, Model!);

        /// <summary>The role this (verified) targets document delegates <paramref name="roleName"/> to, with its delegation keys.</summary>
        public bool TryFindDelegation(string roleName, out Role? role, out IReadOnlyDictionary<string, Key>? keys)
        {
            if (Indexed is not null)
            {
                return Indexed.TryFindDelegation(roleName, out role, out keys);
            }

            var d = ((Targets)Model!.Signed).Delegations;
            role = d?.FindRole(roleName);
            keys = d?.Keys;
            return role is not null;
        }
    }
}
