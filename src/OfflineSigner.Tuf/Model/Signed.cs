using OfflineSigner.Tuf.Json;

namespace OfflineSigner.Tuf;

/// <summary>The four top-level role types.</summary>
public enum RoleType
{
    /// <summary>root.</summary>
    Root,

    /// <summary>targets (top-level or delegated).</summary>
    Targets,

    /// <summary>snapshot.</summary>
    Snapshot,

    /// <summary>timestamp.</summary>
    Timestamp,
}

/// <summary>
/// The signed part of a metadata document (TUF specification §4.2 "signed"). The object keeps the exact JSON it
/// was read from (unknown fields included) and exposes typed, validated views of it; edits go through methods that
/// change the JSON and re-validate, so what is serialized is always what was checked.
/// </summary>
public abstract class Signed
{
    private static readonly string[] CommonFields = ["_type", "spec_version", "version", "expires"];

    private protected Signed(JsonObject json, Dialect dialect, MetadataParseOptions options)
    {
        Json = json;
        Dialect = dialect;
        Options = options;
        Load();
    }

    /// <summary>The signed object.</summary>
    public JsonObject Json { get; }

    /// <summary>The dialect the object is written in.</summary>
    public Dialect Dialect { get; }

    /// <summary>The role type.</summary>
    public abstract RoleType Type { get; }

    /// <summary><c>spec_version</c> (TUF specification dialect), or null (notary).</summary>
    public string? SpecVersion { get; private set; }

    /// <summary>The version number (at least 1).</summary>
    public long Version { get; private set; }

    /// <summary>The expiry time.</summary>
    public DateTimeOffset Expires { get; private set; }

    /// <summary>Names of top-level fields this model does not interpret (kept and signed as they are).</summary>
    public IReadOnlyList<string> UnrecognizedFields =>
        Json.Keys.Where(k => !CommonFields.Contains(k) && !KnownFields.Contains(k)).ToList();

    internal MetadataParseOptions Options { get; }

    private protected abstract string[] KnownFields { get; }

    /// <summary>The <c>_type</c> string of a role type in a dialect.</summary>
    public static string TypeName(RoleType type, Dialect dialect)
    {
        var lower = type.ToString().ToLowerInvariant();
        return dialect == Dialect.Notary ? type.ToString() : lower;
    }

    /// <summary>The fields every new version 1 document starts with: type, spec_version (TUF dialect), version, expires.</summary>
    private protected static JsonObject NewJson(RoleType type, Dialect dialect, DateTimeOffset expires)
    {
        var json = new JsonObject { { "_type", TypeName(type, dialect) } };
        if (dialect == Dialect.TufSpecification)
        {
            json.Add("spec_version", "1.0.31");
        }

        json.Add("version", 1);
        json.Add("expires", Rfc3339.Format(expires));
        return json;
    }

    /// <summary>The canonical bytes that signatures cover.</summary>
    public byte[] CanonicalBytes() => CanonicalJson.Serialize(Json);

    /// <summary>Whether the metadata has expired at <paramref name="at"/> (expired when now is at or past <see cref="Expires"/>).</summary>
    public bool IsExpired(DateTimeOffset at) => at >= Expires;

    /// <summary>Sets the version number.</summary>
    public void SetVersion(long version)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(version, 1);
        Json.Set("version", version);
        Reload();
    }

    /// <summary>Sets the expiry (written as <c>YYYY-MM-DDTHH:MM:SSZ</c>, which both dialects accept).</summary>
    public void SetExpires(DateTimeOffset expires)
    {
        Json.Set("expires", Rfc3339.Format(expires));
        Reload();
    }

    /// <summary>Re-reads the typed views after the JSON changed; throws if the change made the object invalid.</summary>
    protected void Reload() => Load();

    /// <summary>Reads the role-specific fields.</summary>
    private protected abstract void LoadRole(string path);

    private void Load()
    {
        const string path = "$.signed";
        var type = Fields.String(Json, "_type", path);
        var expected = TypeName(Type, Dialect);
        if (!string.Equals(type, expected, StringComparison.Ordinal))
        {
            throw new MetadataFormatException(Fields.Child(path, "_type"), $"expected \"{expected}\", found \"{type}\"");
        }

        if (Dialect == Dialect.TufSpecification)
        {
            SpecVersion = Fields.String(Json, "spec_version", path);
            var parts = SpecVersion.Split('.');
            if (parts.Length is < 2 or > 3 || parts.Any(p => p.Length == 0 || !p.All(char.IsAsciiDigit)))
            {
                throw new MetadataFormatException(Fields.Child(path, "spec_version"), $"\"{SpecVersion}\" is not a version like 1.0.31");
            }

            if (parts[0] != "1")
            {
                throw new MetadataFormatException(Fields.Child(path, "spec_version"), $"unsupported major version in \"{SpecVersion}\" (this signer speaks 1.x)");
            }
        }

        Version = Fields.Integer(Json, "version", path, 1);
        Expires = Fields.Time(Json, "expires", path);
        LoadRole(path);
    }
}

/// <summary>The root role (TUF specification §4.3).</summary>
public sealed class Root : Signed
{
    /// <summary>The names of the four top-level roles.</summary>
    public static readonly IReadOnlyList<string> TopLevelRoles = ["root", "snapshot", "targets", "timestamp"];

    private Dictionary<string, Key> keys = [];
    private Dictionary<string, Role> roles = [];

    internal Root(JsonObject json, Dialect dialect, MetadataParseOptions options)
        : base(json, dialect, options)
    {
    }

    /// <inheritdoc/>
    public override RoleType Type => RoleType.Root;

    /// <summary><c>consistent_snapshot</c> (false when absent).</summary>
    public bool ConsistentSnapshot { get; private set; }

    /// <summary>Keys by key id.</summary>
    public IReadOnlyDictionary<string, Key> Keys => keys;

    /// <summary>The four top-level roles by name.</summary>
    public IReadOnlyDictionary<string, Role> Roles => roles;

    private protected override string[] KnownFields => ["consistent_snapshot", "keys", "roles"];

    /// <summary>A new, empty root in a dialect (roles get their keys through <see cref="AddKey"/>).</summary>
    public static Root Create(Dialect dialect, DateTimeOffset expires, bool consistentSnapshot = true, int threshold = 1)
    {
        var json = NewJson(RoleType.Root, dialect, expires);
        json.Add("consistent_snapshot", dialect != Dialect.Notary && consistentSnapshot);
        json.Add("keys", new JsonObject());
        var rolesJson = new JsonObject();
        foreach (var r in TopLevelRoles)
        {
            rolesJson.Add(r, new JsonObject { { "keyids", new JsonArray() }, { "threshold", threshold } });
        }

        json.Add("roles", rolesJson);
        return new Root(json, dialect, MetadataParseOptions.Default);
    }

    /// <summary>The keys of a top-level role that the root lists.</summary>
    public IEnumerable<Key> RoleKeys(string role) =>
        roles.TryGetValue(role, out var r) ? r.KeyIds.Where(keys.ContainsKey).Select(id => keys[id]) : [];

    /// <summary>Adds a key to a top-level role (and to <c>keys</c> when it is new).</summary>
    public void AddKey(string role, Key key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var roleJson = RoleJson(role);
        var ids = (JsonArray)roleJson["keyids"];
        if (ids.Any(i => ((JsonString)i).Value == key.KeyId))
        {
            throw new ArgumentException($"key {key.KeyId} is already a {role} key", nameof(key));
        }

        var keysJson = (JsonObject)Json["keys"];
        if (!keysJson.ContainsKey(key.KeyId))
        {
            keysJson.Add(key.KeyId, key.Json.DeepClone());
        }

        ids.Add(new JsonString(key.KeyId));
        Reload();
    }

    /// <summary>Removes a key from a top-level role (and from <c>keys</c> when no other role uses it).</summary>
    public void RemoveKey(string role, string keyId)
    {
        var roleJson = RoleJson(role);
        var ids = (JsonArray)roleJson["keyids"];
        var remaining = ids.Where(i => ((JsonString)i).Value != keyId).ToList();
        if (remaining.Count == ids.Count)
        {
            throw new ArgumentException($"key {keyId} is not a {role} key", nameof(keyId));
        }

        roleJson.Set("keyids", new JsonArray(remaining));
        if (!roles.Where(r => r.Key != role).Any(r => r.Value.KeyIds.Contains(keyId)))
        {
            ((JsonObject)Json["keys"]).Remove(keyId);
        }

        Reload();
    }

    /// <summary>Sets the threshold of a top-level role.</summary>
    public void SetThreshold(string role, int threshold)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threshold, 1);
        RoleJson(role).Set("threshold", threshold);
        Reload();
    }

    private JsonObject RoleJson(string role) =>
        ((JsonObject)Json["roles"]).TryGetValue(role, out var r)
            ? (JsonObject)r
            : throw new ArgumentException($"\"{role}\" is not a top-level role", nameof(role));

    private protected override void LoadRole(string path)
    {
        ConsistentSnapshot = Fields.OptionalBoolean(Json, "consistent_snapshot", path) ?? false;
        var keysPath = Fields.Child(path, "keys");
        var newKeys = new Dictionary<string, Key>(StringComparer.Ordinal);
        foreach (var (id, k) in Fields.Object(Json, "keys", path))
        {
            var kp = Fields.Child(keysPath, id);
            newKeys[id] = Key.Parse(id, Fields.AsObject(k, kp), Dialect, kp, Options.RejectUnsupportedKeys);
        }

        var rolesPath = Fields.Child(path, "roles");
        var rolesJson = Fields.Object(Json, "roles", path);
        var newRoles = new Dictionary<string, Role>(StringComparer.Ordinal);
        foreach (var name in TopLevelRoles)
        {
            newRoles[name] = new Role(Fields.Object(rolesJson, name, rolesPath), Fields.Child(rolesPath, name));
        }

        foreach (var name in rolesJson.Keys)
        {
            if (!newRoles.ContainsKey(name))
            {
                throw new MetadataFormatException(Fields.Child(rolesPath, name), "unknown top-level role");
            }
        }

        keys = newKeys;
        roles = newRoles;
    }
}

/// <summary>A targets role, top-level or delegated (TUF specification §4.5).</summary>
public sealed class Targets : Signed
{
    private Dictionary<string, TargetFile> targets = [];

    internal Targets(JsonObject json, Dialect dialect, MetadataParseOptions options)
        : base(json, dialect, options)
    {
    }

    /// <inheritdoc/>
    public override RoleType Type => RoleType.Targets;

    /// <summary>Target files by path.</summary>
    public IReadOnlyDictionary<string, TargetFile> TargetFiles => targets;

    /// <summary>The delegations, or null.</summary>
    public Delegations? Delegations { get; private set; }

    private protected override string[] KnownFields => ["targets", "delegations"];

    /// <summary>A new, empty targets role in a dialect.</summary>
    public static Targets Create(Dialect dialect, DateTimeOffset expires)
    {
        var json = NewJson(RoleType.Targets, dialect, expires);
        json.Add("targets", new JsonObject());
        if (dialect == Dialect.Notary)
        {
            json.Add("delegations", new JsonObject { { "keys", new JsonObject() }, { "roles", new JsonArray() } });
        }

        return new Targets(json, dialect, MetadataParseOptions.Default);
    }

    /// <summary>Adds or replaces a target file entry.</summary>
    public void SetTarget(string targetPath, long length, IReadOnlyDictionary<string, string> hashes, JsonObject? custom = null)
    {
        ArgumentNullException.ThrowIfNull(hashes);
        var hashesJson = new JsonObject();
        foreach (var (alg, h) in hashes)
        {
            hashesJson.Add(alg, h);
        }

        var entry = new JsonObject { { "length", length }, { "hashes", hashesJson } };
        if (custom is not null)
        {
            entry.Add("custom", custom.DeepClone());
        }

        ((JsonObject)Json["targets"]).Set(targetPath, entry);
        Reload();
    }

    /// <summary>Removes a target file entry; returns whether it was there.</summary>
    public bool RemoveTarget(string targetPath)
    {
        var removed = ((JsonObject)Json["targets"]).Remove(targetPath);
        Reload();
        return removed;
    }

    /// <summary>Adds a delegated role with its keys (keys already listed are reused).</summary>
    public void AddDelegation(string name, IReadOnlyList<Key> roleKeys, int threshold, IEnumerable<string> paths, bool terminating = false)
    {
        ArgumentNullException.ThrowIfNull(roleKeys);
        var delegations = EnsureDelegationsJson();
        if (!delegations.TryGetValue("roles", out var rolesNode))
        {
            throw new InvalidOperationException("this role uses succinct hash-bin delegations; named roles cannot be added");
        }

        var rolesJson = (JsonArray)rolesNode;
        if (rolesJson.Any(r => ((JsonString)((JsonObject)r)["name"]).Value == name))
        {
            throw new ArgumentException($"delegated role \"{name}\" already exists", nameof(name));
        }

        var keysJson = (JsonObject)delegations["keys"];
        foreach (var k in roleKeys)
        {
            keysJson.TryAdd(k.KeyId, k.Json.DeepClone());
        }

        rolesJson.Add(DelegatedRole.CreateJson(name, roleKeys.Select(k => k.KeyId), threshold, paths, terminating, Dialect));
        Reload();
    }

    /// <summary>Sets succinct hash-bin delegations (TAP 15) with the given keys for every bin.</summary>
    public void SetSuccinctDelegations(IReadOnlyList<Key> binKeys, int threshold, int bitLength, string namePrefix)
    {
        ArgumentNullException.ThrowIfNull(binKeys);
        var keysJson = new JsonObject();
        foreach (var k in binKeys)
        {
            keysJson.TryAdd(k.KeyId, k.Json.DeepClone());
        }

        var succinct = Role.CreateJson(binKeys.Select(k => k.KeyId), threshold);
        succinct.Add("bit_length", bitLength);
        succinct.Add("name_prefix", namePrefix);
        Json.Set("delegations", new JsonObject { { "keys", keysJson }, { "succinct_roles", succinct } });
        Reload();
    }

    /// <summary>Removes a delegated role (and keys no other delegated role uses); returns whether it was there.</summary>
    public bool RemoveDelegation(string name)
    {
        if (Delegations?.Roles is null || Delegations.Roles.All(r => r.Name != name))
        {
            return false;
        }

        var delegations = (JsonObject)Json["delegations"];
        var kept = ((JsonArray)delegations["roles"]).Where(r => ((JsonString)((JsonObject)r)["name"]).Value != name).ToList();
        delegations.Set("roles", new JsonArray(kept));
        PruneDelegationKeys(delegations);
        Reload();
        return true;
    }

    /// <summary>Replaces the keys and threshold of a delegated role (a delegation key rotation).</summary>
    public void SetDelegationKeys(string name, IReadOnlyList<Key> roleKeys, int threshold)
    {
        ArgumentNullException.ThrowIfNull(roleKeys);
        ArgumentOutOfRangeException.ThrowIfLessThan(threshold, 1);
        var delegations = Json.TryGetValue("delegations", out var d) ? (JsonObject)d : throw new ArgumentException("no delegations", nameof(name));
        var role = ((JsonArray)delegations["roles"]).Cast<JsonObject>().FirstOrDefault(r => ((JsonString)r["name"]).Value == name)
            ?? throw new ArgumentException($"no delegated role \"{name}\"", nameof(name));
        var keysJson = (JsonObject)delegations["keys"];
        foreach (var k in roleKeys)
        {
            keysJson.TryAdd(k.KeyId, k.Json.DeepClone());
        }

        role.Set("keyids", Fields.ToArray(roleKeys.Select(k => k.KeyId)));
        role.Set("threshold", threshold);
        PruneDelegationKeys(delegations);
        Reload();
    }

    private static void PruneDelegationKeys(JsonObject delegations)
    {
        var used = ((JsonArray)delegations["roles"]).Cast<JsonObject>()
            .SelectMany(r => ((JsonArray)r["keyids"]).Select(i => ((JsonString)i).Value))
            .ToHashSet(StringComparer.Ordinal);
        var keysJson = (JsonObject)delegations["keys"];
        foreach (var id in keysJson.Keys.ToList())
        {
            if (!used.Contains(id))
            {
                keysJson.Remove(id);
            }
        }
    }

    private JsonObject EnsureDelegationsJson()
    {
        if (!Json.TryGetValue("delegations", out var d))
        {
            d = new JsonObject { { "keys", new JsonObject() }, { "roles", new JsonArray() } };
            Json.Add("delegations", d);
        }

        return (JsonObject)d;
    }

    private protected override void LoadRole(string path)
    {
        var tp = Fields.Child(path, "targets");
        var newTargets = new Dictionary<string, TargetFile>(StringComparer.Ordinal);
        foreach (var (p, t) in Fields.Object(Json, "targets", path))
        {
            var ep = Fields.Child(tp, p);
            newTargets[p] = new TargetFile(p, Fields.AsObject(t, ep), ep);
        }

        targets = newTargets;
        var dj = Fields.OptionalObject(Json, "delegations", path);
        Delegations = dj is null ? null : new Delegations(dj, Fields.Child(path, "delegations"), Dialect, Options);
    }
}

/// <summary>The snapshot role (TUF specification §4.4).</summary>
public sealed class Snapshot : Signed
{
    private Dictionary<string, MetaFile> meta = [];

    internal Snapshot(JsonObject json, Dialect dialect, MetadataParseOptions options)
        : base(json, dialect, options)
    {
    }

    /// <inheritdoc/>
    public override RoleType Type => RoleType.Snapshot;

    /// <summary>Metadata files by name (spec: <c>targets.json</c>; notary: <c>targets</c>, <c>root</c>).</summary>
    public IReadOnlyDictionary<string, MetaFile> Meta => meta;

    private protected override string[] KnownFields => ["meta"];

    /// <summary>A new snapshot in a dialect.</summary>
    public static Snapshot Create(Dialect dialect, DateTimeOffset expires)
    {
        var json = NewJson(RoleType.Snapshot, dialect, expires);
        json.Add("meta", new JsonObject());
        return new Snapshot(json, dialect, MetadataParseOptions.Default);
    }

    /// <summary>Sets the entry for a metadata file.</summary>
    public void SetMeta(string name, JsonObject entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ((JsonObject)Json["meta"]).Set(name, entry);
        Reload();
    }

    /// <summary>
    /// Replaces <c>meta</c> with <paramref name="entries"/> in one step (one reload, so a snapshot of 16,384 hash bins
    /// is rebuilt in linear time).
    /// </summary>
    public void ReplaceMeta(IEnumerable<(string Name, JsonObject Entry)> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var meta = new JsonObject();
        foreach (var (name, entry) in entries)
        {
            meta.Set(name, entry);
        }

        Json.Set("meta", meta);
        Reload();
    }

    private protected override void LoadRole(string path)
    {
        var mp = Fields.Child(path, "meta");
        var newMeta = new Dictionary<string, MetaFile>(StringComparer.Ordinal);
        foreach (var (name, m) in Fields.Object(Json, "meta", path))
        {
            var ep = Fields.Child(mp, name);
            newMeta[name] = new MetaFile(Fields.AsObject(m, ep), ep, Dialect);
        }

        meta = newMeta;
    }
}

/// <summary>The timestamp role (TUF specification §4.6).</summary>
public sealed class Timestamp : Signed
{
    internal Timestamp(JsonObject json, Dialect dialect, MetadataParseOptions options)
        : base(json, dialect, options)
    {
    }

    /// <inheritdoc/>
    public override RoleType Type => RoleType.Timestamp;

    /// <summary>The name under which the snapshot is listed (<c>snapshot.json</c> or notary's <c>snapshot</c>).</summary>
    public string SnapshotName => Dialect == Dialect.Notary ? "snapshot" : "snapshot.json";

    /// <summary>What the timestamp says about the snapshot.</summary>
    public MetaFile SnapshotMeta { get; private set; } = null!;

    private protected override string[] KnownFields => ["meta"];

    /// <summary>A new timestamp in a dialect.</summary>
    public static Timestamp Create(Dialect dialect, DateTimeOffset expires, JsonObject snapshotEntry)
    {
        ArgumentNullException.ThrowIfNull(snapshotEntry);
        var json = NewJson(RoleType.Timestamp, dialect, expires);
        json.Add("meta", new JsonObject { { dialect == Dialect.Notary ? "snapshot" : "snapshot.json", snapshotEntry } });
        return new Timestamp(json, dialect, MetadataParseOptions.Default);
    }

    /// <summary>Sets the snapshot entry.</summary>
    public void SetSnapshotMeta(JsonObject entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        Json.Set("meta", new JsonObject { { SnapshotName, entry } });
        Reload();
    }

    private protected override void LoadRole(string path)
    {
        var meta = Fields.Object(Json, "meta", path);
        var mp = Fields.Child(path, "meta");
        if (meta.Count != 1 || !meta.ContainsKey(SnapshotName))
        {
            throw new MetadataFormatException(mp, $"must hold exactly one entry, \"{SnapshotName}\"");
        }

        var ep = Fields.Child(mp, SnapshotName);
        SnapshotMeta = new MetaFile(Fields.AsObject(meta[SnapshotName], ep), ep, Dialect);
    }
}
