using System.Globalization;
using System.Text.RegularExpressions;
using OfflineSigner.Bundles;
using OfflineSigner.Cli.Repositories;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Crypto;
using OfflineSigner.Tuf.Json;

namespace OfflineSigner.Cli.Workflow;

/// <summary>What `export` was asked to prepare.</summary>
internal sealed record ExportRequest
{
    public IReadOnlyList<string> Roles { get; init; } = [];

    public string? Expires { get; init; }

    public IReadOnlyList<string> AddKeyFiles { get; init; } = [];

    public IReadOnlyList<string> RemoveKeyIds { get; init; } = [];

    public int? Threshold { get; init; }

    /// <summary>The top-level role of the root whose keys --add-key/--remove-key change (default root).</summary>
    public string KeyRole { get; init; } = "root";

    public IReadOnlyList<string> Delegations { get; init; } = [];

    public IReadOnlyList<string> DelegationPaths { get; init; } = [];

    public bool AllDelegated { get; init; }

    /// <summary>Succinct hash-bin delegations (TAP 15) of targets: 2^bits bins, each a new role in the bundle.</summary>
    public int? HashBinBits { get; init; }

    public string BinPrefix { get; init; } = "bins";
}

/// <summary>
/// Builds the next versions of the roles asked for from a repository's verified current state and writes them,
/// unsigned, into a bundle with everything the air-gapped side needs to check them: the trusted root, the previous
/// version of each role, the delegators. Key changes (--add-key, --remove-key, --threshold) apply to the root
/// (a root rotation) or, with --delegation, to that delegation of the delegating role (a delegation rotation: the
/// delegated role is re-signed in the same bundle by its new keys).
/// </summary>
internal static partial class Exporter
{
    public static readonly IReadOnlyDictionary<string, TimeSpan> DefaultExpiry = new Dictionary<string, TimeSpan>(StringComparer.Ordinal)
    {
        ["root"] = TimeSpan.FromDays(365),
        ["targets"] = TimeSpan.FromDays(90),
        ["delegated"] = TimeSpan.FromDays(90),
        ["snapshot"] = TimeSpan.FromDays(7),
        ["timestamp"] = TimeSpan.FromDays(1),
    };

    /// <summary>A request bundle for a new repository: no items, only the online roles' public keys.</summary>
    public static BundleManifest ExportNew(string outDir, Dialect dialect, string name, string? gun, IReadOnlyList<(string Role, Key Key)> onlineKeys, DateTimeOffset now)
    {
        var builder = new BundleBuilder(dialect, name, gun, null, null);
        foreach (var (role, key) in onlineKeys)
        {
            builder.AddContext("online-key", role, 0, JsonText.Serialize(KeyObject(key)), $"online.{role}.json");
        }

        return builder.Write(outDir, now, ("repository", name), ("new", "true"));
    }

    public static BundleManifest Export(string outDir, RepositoryState state, byte[] rootFile, string name, string? gun, ExportRequest request, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(request);
        var dialect = state.Dialect;
        var builder = new BundleBuilder(dialect, name, gun, state.Root, rootFile);
        var trustedPath = builder.AddTrustedRoot();
        var keyChanges = request.AddKeyFiles.Count > 0 || request.RemoveKeyIds.Count > 0 || request.Threshold is not null;
        var roles = request.Roles.ToList();
        if (request.HashBinBits is not null && !roles.Contains("targets"))
        {
            roles.Add("targets");
        }

        if (roles.Count == 0 && request.AllDelegated)
        {
            roles.AddRange(state.Delegated.Keys);
        }

        if (roles.Count == 0)
        {
            roles.Add(request.Delegations.Count > 0 ? DelegatorOf(dialect) : keyChanges ? "root" : throw new OfflineSignerException("name the role(s) to sign with --role (root, targets, or a delegated role)"));
        }

        if (request.AllDelegated)
        {
            var named = roles.ToHashSet(StringComparer.Ordinal);
            roles.AddRange(state.Delegated.Keys.Where(r => !named.Contains(r)));
        }

        var addKeys = request.AddKeyFiles.Select(f => ReadKeyFile(f, dialect)).ToList();
        if (keyChanges && request.Delegations.Count == 0 && request.HashBinBits is null && !roles.Contains("root"))
        {
            throw new OfflineSignerException("--add-key, --remove-key and --threshold change root keys (with --role root) or a delegation's keys (with --delegation NAME)");
        }

        var order = roles.Distinct(StringComparer.Ordinal).OrderBy(r => r == "root" ? 0 : Root.TopLevelRoles.Contains(r) ? 1 : 2).ThenBy(r => r, StringComparer.Ordinal).ToList();
        var topTrust = trustedPath;
        var delegatedToResign = new List<string>();
        var newDelegated = new Dictionary<string, Metadata<Targets>>(StringComparer.Ordinal);
        foreach (var role in order.Where(r => Root.TopLevelRoles.Contains(r)))
        {
            switch (role)
            {
                case "root":
                    var root = Copy<Root>(state.Root, dialect);
                    Bump(root.Signed, request, now, "root");
                    if (request.Delegations.Count == 0 && keyChanges)
                    {
                        ChangeRootKeys(root.Signed, request, addKeys);
                    }

                    topTrust = builder.AddItem("root", root.As<Signed>(), trustedPath, RepositoryState.FileBytes(state.Root), null);
                    break;
                case "targets":
                    var targets = Copy<Targets>(state.Targets ?? throw new OfflineSignerException("the repository has no targets metadata"), dialect);
                    Bump(targets.Signed, request, now, "targets");
                    if (request.HashBinBits is int bits)
                    {
                        if (bits is < 1 or > 16 || addKeys.Count == 0)
                        {
                            throw new OfflineSignerException("--hash-bins BITS (1 to 16) needs the bins' key(s) with --add-key");
                        }

                        targets.Signed.SetSuccinctDelegations(addKeys, request.Threshold ?? 1, bits, request.BinPrefix);
                        foreach (var bin in targets.Signed.Delegations!.RoleNames())
                        {
                            newDelegated[bin] = Metadata<Targets>.Create(Targets.Create(dialect, ExpiresFor(request, now, "delegated")));
                            delegatedToResign.Add(bin);
                        }
                    }

                    if (request.Delegations.Count > 0)
                    {
                        foreach (var delegation in request.Delegations)
                        {
                            if (ChangeDelegation(targets.Signed, delegation, request, addKeys, dialect))
                            {
                                newDelegated[delegation] = Metadata<Targets>.Create(Targets.Create(dialect, ExpiresFor(request, now, "delegated")));
                            }

                            delegatedToResign.Add(delegation);
                        }
                    }

                    var path = builder.AddItem("targets", targets.As<Signed>(), topTrust, RepositoryState.FileBytes(state.Targets), null);
                    builder.UseItemAsDelegator("targets", path);
                    break;
                default:
                    throw new OfflineSignerException($"role '{role}' is an online role: it is signed at import with --online-key (or by the notary server), not through a bundle");
            }
        }

        if (request.Delegations.Count > 0 && !order.Contains(DelegatorOf(dialect)))
        {
            throw new OfflineSignerException("--delegation changes a delegation of the top-level targets role: add --role targets (delegations of delegated roles: name the delegating role with --role)");
        }

        foreach (var role in order.Where(r => !Root.TopLevelRoles.Contains(r)).Concat(delegatedToResign).Distinct(StringComparer.Ordinal))
        {
            Metadata<Targets> md;
            byte[]? previous = null;
            if (newDelegated.TryGetValue(role, out var created))
            {
                md = created;
            }
            else if (!state.Delegated.ContainsKey(role) && delegatedToResign.Contains(role))
            {
                // Delegated to (--delegation found it in the delegator) but never published: its first version.
                md = Metadata<Targets>.Create(Targets.Create(dialect, ExpiresFor(request, now, "delegated")));
            }
            else
            {
                var current = state.Delegated.TryGetValue(role, out var c) ? c : throw new OfflineSignerException($"the repository has no role '{role}' (its roles: {string.Join(", ", Root.TopLevelRoles.Concat(state.Delegated.Keys).Take(12))}{(state.Delegated.Count > 8 ? ", ..." : string.Empty)})");
                md = Copy<Targets>(current, dialect);
                Bump(md.Signed, request, now, "delegated");
                previous = RepositoryState.FileBytes(current);
            }

            var delegatorRole = FindDelegatorRole(state, role) ?? DelegatorOf(dialect);
            var delegatorPath = builder.DelegatorPathFor(delegatorRole)
                ?? builder.AddDelegator(delegatorRole, delegatorRole == DelegatorOf(dialect) ? state.Targets! : state.Delegated[delegatorRole], RepositoryState.FileBytes(delegatorRole == DelegatorOf(dialect) ? state.Targets! : state.Delegated[delegatorRole]));
            builder.AddItem(role, md.As<Signed>(), topTrust, previous, delegatorPath);
        }

        using var phase = Timings.Measure("write the bundle");
        return builder.Write(
            outDir,
            now,
            ("repository", name),
            ("trusted_root_version", state.Root.Signed.Version.ToString(CultureInfo.InvariantCulture)),
            ("items", builder.ItemCount.ToString(CultureInfo.InvariantCulture)));
    }

    /// <summary>Parses --expires: a duration (90d, 12h, 2w, 1y) from now, or an RFC 3339 time.</summary>
    public static DateTimeOffset ParseExpires(string text, DateTimeOffset now)
    {
        var m = DurationPattern().Match(text);
        if (m.Success)
        {
            var n = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            return now + m.Groups[2].Value switch
            {
                "h" => TimeSpan.FromHours(n),
                "d" => TimeSpan.FromDays(n),
                "w" => TimeSpan.FromDays(7 * n),
                _ => TimeSpan.FromDays(365 * n),
            };
        }

        return Rfc3339.TryParse(text, out var t)
            ? t
            : throw new OfflineSignerException($"--expires: \"{text}\" is neither a duration (90d, 12h, 2w, 1y) nor an RFC 3339 time such as 2027-01-31T00:00:00Z");
    }

    public static DateTimeOffset ExpiresFor(ExportRequest request, DateTimeOffset now, string kind)
    {
        var start = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, now.Minute, now.Second, TimeSpan.Zero);
        return request.Expires is { Length: > 0 } e ? ParseExpires(e, start) : start + DefaultExpiry[kind];
    }

    /// <summary>A key object file: a TUF/notary key object (JSON), or for the TUF dialect a PEM public key.</summary>
    public static Key ReadKeyFile(string path, Dialect dialect)
    {
        var bytes = Commands.CommandSupport.ReadFile(path, 1024 * 1024);
        var text = System.Text.Encoding.UTF8.GetString(bytes);
        try
        {
            if (text.TrimStart().StartsWith("-----BEGIN PUBLIC KEY", StringComparison.Ordinal))
            {
                var der = System.Security.Cryptography.PemEncoding.Find(text) is var fields ? Convert.FromBase64String(text[fields.Base64Data]) : [];
                return Key.FromPublicKey(PublicKey.FromSubjectPublicKeyInfo(der), dialect);
            }

            return ParseKey(bytes, dialect);
        }
        catch (Exception e) when (e is MetadataException or JsonFormatException or FormatException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            throw new OfflineSignerException($"{path}: not a usable public key ({e.Message}); write one with 'offline-signer keys public --key URI --out FILE'", e);
        }
    }

    /// <summary>A key object (JSON, canonical or not: PEM line breaks may be raw, as canonical JSON writes them).</summary>
    public static Key ParseKey(ReadOnlySpan<byte> bytes, Dialect dialect) =>
        JsonParser.Parse(bytes, CanonicalJson.ReadBackOptions) is JsonObject json
            ? Key.FromJson(json, dialect)
            : throw new OfflineSignerException("a key file is a JSON key object or a PEM public key");

    /// <summary>A key object as it goes into a file (the key id is recomputed by the reader).</summary>
    public static JsonObject KeyObject(Key key) => (JsonObject)key.Json.DeepClone();

    public static string DelegatorOf(Dialect dialect) => "targets";

    /// <summary>The delegated role (or "targets") that delegates to <paramref name="role"/> in the current state.</summary>
    public static string? FindDelegatorRole(RepositoryState state, string role)
    {
        if (state.Targets?.Signed.Delegations?.FindRole(role) is not null)
        {
            return "targets";
        }

        return state.Delegated.FirstOrDefault(d => d.Value.Signed.Delegations?.FindRole(role) is not null).Key;
    }

    private static Metadata<T> Copy<T>(Metadata<T> md, Dialect dialect)
        where T : Signed
    {
        var copy = Metadata<T>.Parse(md.ToBytes(), dialect: dialect);
        copy.ClearSignatures();
        return copy;
    }

    private static void Bump(Signed signed, ExportRequest request, DateTimeOffset now, string kind)
    {
        signed.SetVersion(signed.Version + 1);
        signed.SetExpires(ExpiresFor(request, now, kind));
    }

    private static void ChangeRootKeys(Root root, ExportRequest request, List<Key> addKeys)
    {
        var role = request.KeyRole;
        if (!root.Roles.ContainsKey(role))
        {
            throw new OfflineSignerException($"--key-role: '{role}' is not a top-level role");
        }

        foreach (var id in request.RemoveKeyIds)
        {
            if (!root.Roles[role].KeyIds.Contains(id, StringComparer.Ordinal))
            {
                throw new OfflineSignerException($"--remove-key {id}: not a {role} key of root version {root.Version - 1} (its keys: {string.Join(", ", root.Roles[role].KeyIds)})");
            }

            root.RemoveKey(role, id);
        }

        foreach (var key in addKeys)
        {
            if (root.Roles[role].KeyIds.Contains(key.KeyId, StringComparer.Ordinal))
            {
                throw new OfflineSignerException($"--add-key: key {key.KeyId} is already a {role} key");
            }

            root.AddKey(role, key);
        }

        var threshold = request.Threshold ?? root.Roles[role].Threshold;
        if (threshold < 1 || threshold > root.Roles[role].KeyIds.Count)
        {
            throw new OfflineSignerException($"the {role} role would have {root.Roles[role].KeyIds.Count} keys and threshold {threshold}: the threshold must be between 1 and the number of keys (--threshold)");
        }

        root.SetThreshold(role, threshold);
    }

    /// <summary>Changes (or creates) a delegation; returns whether it is new.</summary>
    private static bool ChangeDelegation(Targets delegator, string name, ExportRequest request, List<Key> addKeys, Dialect dialect)
    {
        var existing = delegator.Delegations?.FindRole(name);
        if (existing is null)
        {
            if (addKeys.Count == 0)
            {
                throw new OfflineSignerException($"--delegation {name}: the delegation does not exist; create it with --add-key FILE (and --paths PATTERN)");
            }

            var threshold = request.Threshold ?? 1;
            var paths = request.DelegationPaths.Count > 0 ? request.DelegationPaths : dialect == Dialect.Notary ? [string.Empty] : [name + "/*"];
            delegator.AddDelegation(name, addKeys, threshold, paths);
            return true;
        }

        var keys = existing.KeyIds.Select(id => delegator.Delegations!.Keys[id]).ToList();
        foreach (var id in request.RemoveKeyIds)
        {
            if (keys.RemoveAll(k => k.KeyId == id) == 0)
            {
                throw new OfflineSignerException($"--remove-key {id}: not a key of delegation '{name}' (its keys: {string.Join(", ", existing.KeyIds)})");
            }
        }

        foreach (var key in addKeys)
        {
            if (keys.Any(k => k.KeyId == key.KeyId))
            {
                throw new OfflineSignerException($"--add-key: key {key.KeyId} is already a key of delegation '{name}'");
            }

            keys.Add(key);
        }

        var t = request.Threshold ?? existing.Threshold;
        if (t < 1 || t > keys.Count)
        {
            throw new OfflineSignerException($"delegation '{name}' would have {keys.Count} keys and threshold {t}: the threshold must be between 1 and the number of keys (--threshold)");
        }

        delegator.SetDelegationKeys(name, keys, t);
        return false;
    }

    [GeneratedRegex("^([0-9]{1,5})([hdwy])$", RegexOptions.CultureInvariant)]
    private static partial Regex DurationPattern();
}
