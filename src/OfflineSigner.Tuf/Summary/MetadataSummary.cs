using System.Globalization;
using System.Text;
using OfflineSigner.Tuf.Json;

namespace OfflineSigner.Tuf;

/// <summary>
/// What an operator reads before signing: a complete, human-readable account of one metadata document,
/// or of every change between two versions of the same role. Nothing in the signed object is left out:
/// fields the model does not interpret are listed as they are.
/// </summary>
public static class MetadataSummary
{
    /// <summary>A full description of a document, as of <paramref name="now"/> for the expiry line.</summary>
    public static string Describe(Metadata<Signed> metadata, DateTimeOffset now, string? roleName = null)
    {
        using var w = new StringWriter(CultureInfo.InvariantCulture);
        Describe(metadata, now, w, roleName);
        return w.ToString();
    }

    /// <summary>Writes the full description of a document to <paramref name="output"/>.</summary>
    public static void Describe(Metadata<Signed> metadata, DateTimeOffset now, TextWriter output, string? roleName = null)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentNullException.ThrowIfNull(output);
        var s = metadata.Signed;
        Header(s.Type, s.Dialect, s.Version, s.Expires, s.SpecVersion, now, roleName, output);
        switch (s)
        {
            case Root root:
                DescribeRoot(root, output);
                break;
            case Targets targets:
                var d = targets.Delegations;
                DescribeTargets(
                    targets.TargetFiles.Count,
                    targets.TargetFiles.OrderBy(t => t.Key, CanonicalJson.KeyComparer).Select(t => t.Value),
                    d?.Keys,
                    d?.Succinct,
                    d?.Roles?.Count ?? 0,
                    d?.Roles ?? [],
                    output);
                break;
            case Snapshot snapshot:
                output.Write(string.Create(CultureInfo.InvariantCulture, $"  meta ({snapshot.Meta.Count}):\n"));
                foreach (var (name, m) in snapshot.Meta.OrderBy(m => m.Key, CanonicalJson.KeyComparer))
                {
                    output.Write(string.Create(CultureInfo.InvariantCulture, $"    {name}: {DescribeMeta(m)}\n"));
                }

                break;
            case Timestamp ts:
                output.Write(string.Create(CultureInfo.InvariantCulture, $"  {ts.SnapshotName}: {DescribeMeta(ts.SnapshotMeta)}\n"));
                break;
        }

        OtherFieldsAndSignatures(s, metadata.Signatures, output);
    }

    /// <summary>
    /// Writes the full description of a targets document read through an index: the same text as
    /// <see cref="Describe(Metadata{Signed}, DateTimeOffset, TextWriter, string?)"/> for the same bytes, written as
    /// each target entry and delegated role is read, none of them held.
    /// </summary>
    public static void Describe(IndexedTargets targets, DateTimeOffset now, TextWriter output, string? roleName = null)
    {
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentNullException.ThrowIfNull(output);
        Header(RoleType.Targets, targets.Dialect, targets.Version, targets.Expires, targets.SpecVersion, now, roleName, output);
        DescribeTargets(
            targets.TargetCount,
            targets.TargetsInCanonicalOrder(),
            targets.DelegationKeys,
            targets.Succinct,
            targets.DelegatedRoleCount,
            targets.DelegatedRoles(),
            output);
        OtherFieldsAndSignatures(targets.Header, targets.Signatures, output);
    }

    private static void Header(RoleType type, Dialect dialect, long version, DateTimeOffset expires, string? specVersion, DateTimeOffset now, string? roleName, TextWriter output)
    {
        var role = roleName ?? type.ToString().ToLowerInvariant();
        output.Write(string.Create(CultureInfo.InvariantCulture, $"{role} ({MetadataReader.Describe(dialect)}), version {version}\n"));
        output.Write(string.Create(CultureInfo.InvariantCulture, $"  expires {Rfc3339.Format(expires)} ({Relative(expires, now)})\n"));
        if (specVersion is not null)
        {
            output.Write(string.Create(CultureInfo.InvariantCulture, $"  spec_version {specVersion}\n"));
        }
    }

    private static void OtherFieldsAndSignatures(Signed s, IReadOnlyList<Signature> signatures, TextWriter output)
    {
        foreach (var field in s.UnrecognizedFields)
        {
            output.Write(string.Create(CultureInfo.InvariantCulture, $"  other field {field} = {Short(s.Json[field])}\n"));
        }

        output.Write(string.Create(CultureInfo.InvariantCulture, $"  signatures ({signatures.Count}):"));
        output.Write(signatures.Count == 0 ? " none\n" : "\n");
        foreach (var sig in signatures)
        {
            output.Write(string.Create(CultureInfo.InvariantCulture, $"    {sig.KeyId}{(sig.Method is null ? string.Empty : " (" + sig.Method + ")")}\n"));
        }
    }

    /// <summary>Every change from <paramref name="previous"/> to <paramref name="current"/> (same role), one line each.</summary>
    public static IReadOnlyList<string> Changes(Metadata<Signed> previous, Metadata<Signed> current)
    {
        ArgumentNullException.ThrowIfNull(previous);
        ArgumentNullException.ThrowIfNull(current);
        var a = previous.Signed;
        var b = current.Signed;
        var changes = new List<string>();
        if (a.Type != b.Type || a.Dialect != b.Dialect)
        {
            changes.Add($"different documents: {a.Type} ({MetadataReader.Describe(a.Dialect)}) -> {b.Type} ({MetadataReader.Describe(b.Dialect)})");
            return changes;
        }

        CommonChanges(a, b, changes);
        switch (a, b)
        {
            case (Root ra, Root rb):
                RootChanges(ra, rb, changes);
                break;
            case (Targets ta, Targets tb):
                TargetsChanges(ta, tb, changes);
                break;
            case (Snapshot sa, Snapshot sb):
                MetaChanges(sa.Meta, sb.Meta, changes);
                break;
            case (Timestamp xa, Timestamp xb):
                MetaChanges(new Dictionary<string, MetaFile> { [xa.SnapshotName] = xa.SnapshotMeta }, new Dictionary<string, MetaFile> { [xb.SnapshotName] = xb.SnapshotMeta }, changes);
                break;
        }

        UnrecognizedChanges(a, b, changes);
        return changes;
    }

    /// <summary>
    /// Every change from one version of a targets role to another, both read through an index: the same lines as
    /// <see cref="Changes(Metadata{Signed}, Metadata{Signed})"/> for the same bytes. Target entries are compared
    /// by their canonical bytes and built only to describe a change; the delegations are read into the model.
    /// </summary>
    public static IReadOnlyList<string> Changes(IndexedTargets previous, IndexedTargets current)
    {
        ArgumentNullException.ThrowIfNull(previous);
        ArgumentNullException.ThrowIfNull(current);
        var changes = new List<string>();
        if (previous.Dialect != current.Dialect)
        {
            changes.Add($"different documents: Targets ({MetadataReader.Describe(previous.Dialect)}) -> Targets ({MetadataReader.Describe(current.Dialect)})");
            return changes;
        }

        CommonChanges(previous.Header, current.Header, changes);
        foreach (var t in current.TargetsInCanonicalOrder(previous, present: false))
        {
            changes.Add($"target added: {t.TargetPath}: {DescribeTarget(t)}");
        }

        foreach (var t in previous.TargetsInCanonicalOrder(current, present: false))
        {
            changes.Add($"target removed: {t.TargetPath}");
        }

        foreach (var t in current.TargetsInCanonicalOrder(previous, present: true))
        {
            var before = previous.TargetCanonicalBytes(t.TargetPath)!;
            if (!before.AsSpan().SequenceEqual(current.TargetCanonicalBytes(t.TargetPath)))
            {
                previous.TryGetTarget(t.TargetPath, out var old);
                changes.Add($"target changed: {t.TargetPath}: {DescribeTarget(old!)} -> {DescribeTarget(t)}");
            }
        }

        DelegationChanges(previous.Delegations, current.Delegations, changes);
        UnrecognizedChanges(previous.Header, current.Header, changes);
        return changes;
    }

    /// <summary>The changes of two targets roles read through an index, as text (as <see cref="DescribeChanges(Metadata{Signed}, Metadata{Signed})"/>).</summary>
    public static string DescribeChanges(IndexedTargets previous, IndexedTargets current)
    {
        ArgumentNullException.ThrowIfNull(previous);
        ArgumentNullException.ThrowIfNull(current);
        return ChangesText("targets", current.Dialect, previous.Version, current.Version, Changes(previous, current));
    }

    private static void CommonChanges(Signed a, Signed b, List<string> changes)
    {
        if (a.Version != b.Version)
        {
            var delta = b.Version - a.Version;
            var note = delta == 1 ? string.Empty : delta <= 0 ? "  (ROLLBACK: not newer)" : $"  (skips {delta - 1} versions)";
            changes.Add($"version {a.Version} -> {b.Version}{note}");
        }
        else
        {
            changes.Add($"version unchanged ({a.Version})");
        }

        if (a.Expires != b.Expires)
        {
            changes.Add($"expires {Rfc3339.Format(a.Expires)} -> {Rfc3339.Format(b.Expires)}");
        }

        if (a.SpecVersion != b.SpecVersion)
        {
            changes.Add($"spec_version {a.SpecVersion} -> {b.SpecVersion}");
        }
    }

    private static void UnrecognizedChanges(Signed a, Signed b, List<string> changes)
    {
        // Anything else in the signed object (unknown fields): reported generically so nothing is skipped.
        foreach (var field in a.UnrecognizedFields.Union(b.UnrecognizedFields).Order(StringComparer.Ordinal))
        {
            a.Json.TryGetValue(field, out var va);
            b.Json.TryGetValue(field, out var vb);
            changes.AddRange(JsonDiff.Diff(va, vb, field).Select(c => "other field " + c));
        }
    }

    /// <summary>The changes as text.</summary>
    public static string DescribeChanges(Metadata<Signed> previous, Metadata<Signed> current)
    {
        ArgumentNullException.ThrowIfNull(previous);
        ArgumentNullException.ThrowIfNull(current);
        return ChangesText(current.Signed.Type.ToString().ToLowerInvariant(), current.Dialect, previous.Signed.Version, current.Signed.Version, Changes(previous, current));
    }

    private static string ChangesText(string role, Dialect dialect, long from, long to, IReadOnlyList<string> changes)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"changes to {role} ({MetadataReader.Describe(dialect)}) from version {from} to {to}:\n");
        foreach (var c in changes)
        {
            sb.Append("  ").Append(c).Append('\n');
        }

        return sb.ToString();
    }

    /// <summary>A key as the operator should read it: key id, type, fingerprint of the public key.</summary>
    public static string DescribeKey(Key key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var type = key.Scheme is null ? key.KeyType : $"{key.KeyType}/{key.Scheme}";
        var fp = key.PublicKey is null ? $"unusable: {key.UnsupportedReason}" : "SHA256:" + key.PublicKey.Fingerprint;
        var mismatch = key.KeyIdMatches ? string.Empty : $" [key id does not match the key object; computed {key.ComputedKeyId}]";
        var cert = key.PublicKey?.CertificateChain.Count > 0 ? $" cert CN={key.PublicKey.CertificateChain[0].GetNameInfo(System.Security.Cryptography.X509Certificates.X509NameType.SimpleName, false)} until {Rfc3339.Format(key.PublicKey.CertificateChain[0].NotAfter)}" : string.Empty;
        return $"{key.KeyId} {type} {fp}{cert}{mismatch}";
    }

    private static void DescribeRoot(Root root, TextWriter w)
    {
        w.Write(string.Create(CultureInfo.InvariantCulture, $"  consistent_snapshot {(root.ConsistentSnapshot ? "true" : "false")}\n"));
        w.Write(string.Create(CultureInfo.InvariantCulture, $"  keys ({root.Keys.Count}):\n"));
        foreach (var key in root.Keys.Values.OrderBy(k => k.KeyId, StringComparer.Ordinal))
        {
            w.Write("    " + DescribeKey(key) + "\n");
        }

        w.Write("  roles:\n");
        foreach (var name in Root.TopLevelRoles)
        {
            var r = root.Roles[name];
            w.Write(string.Create(CultureInfo.InvariantCulture, $"    {name}: threshold {r.Threshold} of {r.KeyIds.Count}{Satisfiable(r, root.Keys)}\n"));
            foreach (var id in r.KeyIds)
            {
                w.Write(string.Create(CultureInfo.InvariantCulture, $"      {id}\n"));
            }
        }
    }

    private static string Satisfiable(Role r, IReadOnlyDictionary<string, Key> keys)
    {
        var distinct = r.KeyIds.Where(keys.ContainsKey).Select(id => keys[id].Fingerprint).Distinct().Count();
        return distinct >= r.Threshold ? string.Empty : $"  (UNSATISFIABLE: only {distinct} distinct usable keys)";
    }

    private static void DescribeTargets(int targetCount, IEnumerable<TargetFile> sortedTargets, IReadOnlyDictionary<string, Key>? keys, SuccinctRoles? succinct, int roleCount, IEnumerable<DelegatedRole> roles, TextWriter w)
    {
        w.Write(string.Create(CultureInfo.InvariantCulture, $"  targets ({targetCount}):\n"));
        foreach (var t in sortedTargets)
        {
            w.Write(string.Create(CultureInfo.InvariantCulture, $"    {t.TargetPath}: {DescribeTarget(t)}\n"));
        }

        if (keys is null)
        {
            return;
        }

        w.Write(string.Create(CultureInfo.InvariantCulture, $"  delegation keys ({keys.Count}):\n"));
        foreach (var key in keys.Values.OrderBy(k => k.KeyId, StringComparer.Ordinal))
        {
            w.Write("    " + DescribeKey(key) + "\n");
        }

        if (succinct is { } sr)
        {
            w.Write(string.Create(CultureInfo.InvariantCulture, $"  succinct hash-bin delegation: {sr.BinCount} bins {sr.NamePrefix}-*, bit_length {sr.BitLength}, threshold {sr.Threshold} of {sr.KeyIds.Count}{Satisfiable(sr, keys)}\n"));
            foreach (var id in sr.KeyIds)
            {
                w.Write(string.Create(CultureInfo.InvariantCulture, $"      {id}\n"));
            }
        }
        else
        {
            w.Write(string.Create(CultureInfo.InvariantCulture, $"  delegated roles ({roleCount}):\n"));
            foreach (var r in roles)
            {
                w.Write(string.Create(CultureInfo.InvariantCulture, $"    {r.Name}: threshold {r.Threshold} of {r.KeyIds.Count}{Satisfiable(r, keys)}, {DescribePaths(r)}{(r.Terminating ? ", terminating" : string.Empty)}\n"));
                foreach (var id in r.KeyIds)
                {
                    w.Write(string.Create(CultureInfo.InvariantCulture, $"      {id}\n"));
                }
            }
        }
    }

    private static string DescribePaths(DelegatedRole r) =>
        r.Paths is not null
            ? "paths [" + string.Join(", ", r.Paths.Select(p => "\"" + p + "\"")) + "]"
            : "path_hash_prefixes [" + string.Join(", ", r.PathHashPrefixes!) + "]";

    private static string DescribeTarget(TargetFile t) =>
        $"{t.Length} bytes, " + string.Join(", ", t.Hashes.OrderBy(h => h.Key, StringComparer.Ordinal).Select(h => $"{h.Key} {h.Value}"))
        + (t.Custom is null ? string.Empty : ", custom " + Short(t.Custom));

    private static string DescribeMeta(MetaFile m)
    {
        var parts = new List<string>();
        if (m.Version is long v)
        {
            parts.Add("version " + v.ToString(CultureInfo.InvariantCulture));
        }

        if (m.Length is long l)
        {
            parts.Add(l.ToString(CultureInfo.InvariantCulture) + " bytes");
        }

        parts.AddRange(m.Hashes.OrderBy(h => h.Key, StringComparer.Ordinal).Select(h => $"{h.Key} {h.Value}"));
        return string.Join(", ", parts);
    }

    private static void RootChanges(Root a, Root b, List<string> changes)
    {
        if (a.ConsistentSnapshot != b.ConsistentSnapshot)
        {
            changes.Add($"consistent_snapshot {a.ConsistentSnapshot} -> {b.ConsistentSnapshot}");
        }

        KeyChanges(a.Keys, b.Keys, "key", changes);
        foreach (var name in Root.TopLevelRoles)
        {
            RoleChanges(name, a.Roles[name], b.Roles[name], changes);
        }

        foreach (var (name, role) in b.Roles)
        {
            var distinct = role.KeyIds.Where(b.Keys.ContainsKey).Select(id => b.Keys[id].Fingerprint).Distinct().Count();
            if (distinct < role.Threshold)
            {
                changes.Add($"WARNING: {name} threshold {role.Threshold} cannot be met by its {distinct} distinct usable keys");
            }
        }
    }

    private static void KeyChanges(IReadOnlyDictionary<string, Key> a, IReadOnlyDictionary<string, Key> b, string label, List<string> changes)
    {
        foreach (var (id, key) in b.Where(k => !a.ContainsKey(k.Key)).OrderBy(k => k.Key, StringComparer.Ordinal))
        {
            var same = a.Values.FirstOrDefault(k => k.Fingerprint == key.Fingerprint);
            var note = same is null ? string.Empty : $" (the same public key as {same.KeyId})";
            changes.Add($"{label} added: {DescribeKey(key)}{note}");
        }

        foreach (var (id, key) in a.Where(k => !b.ContainsKey(k.Key)).OrderBy(k => k.Key, StringComparer.Ordinal))
        {
            changes.Add($"{label} removed: {DescribeKey(key)}");
        }

        foreach (var (id, key) in b.Where(k => a.ContainsKey(k.Key)).OrderBy(k => k.Key, StringComparer.Ordinal))
        {
            changes.AddRange(JsonDiff.Diff(a[id].Json, key.Json, $"{label} {id}").Select(c => "changed: " + c));
        }
    }

    private static void RoleChanges(string name, Role a, Role b, List<string> changes)
    {
        if (a.Threshold != b.Threshold)
        {
            changes.Add($"{name} threshold {a.Threshold} -> {b.Threshold}");
        }

        foreach (var id in b.KeyIds.Except(a.KeyIds))
        {
            changes.Add($"{name} key added: {id}");
        }

        foreach (var id in a.KeyIds.Except(b.KeyIds))
        {
            changes.Add($"{name} key removed: {id}");
        }

        // Order matters only to the bytes; report it so the operator is not surprised by a changed digest.
        if (a.KeyIds.Count == b.KeyIds.Count && !a.KeyIds.SequenceEqual(b.KeyIds) && a.KeyIds.Order(StringComparer.Ordinal).SequenceEqual(b.KeyIds.Order(StringComparer.Ordinal)))
        {
            changes.Add($"{name} key ids reordered");
        }

        ReportOtherFields(name, a.Json, b.Json, ["keyids", "threshold", "name", "paths", "path_hash_prefixes", "terminating", "bit_length", "name_prefix"], changes);
    }

    private static void TargetsChanges(Targets a, Targets b, List<string> changes)
    {
        foreach (var (path, t) in b.TargetFiles.Where(t => !a.TargetFiles.ContainsKey(t.Key)).OrderBy(t => t.Key, CanonicalJson.KeyComparer))
        {
            changes.Add($"target added: {path}: {DescribeTarget(t)}");
        }

        foreach (var path in a.TargetFiles.Keys.Where(p => !b.TargetFiles.ContainsKey(p)).Order(CanonicalJson.KeyComparer))
        {
            changes.Add($"target removed: {path}");
        }

        foreach (var (path, t) in b.TargetFiles.Where(t => a.TargetFiles.ContainsKey(t.Key)).OrderBy(t => t.Key, CanonicalJson.KeyComparer))
        {
            if (!JsonNode.DeepEquals(a.TargetFiles[path].Json, t.Json))
            {
                changes.Add($"target changed: {path}: {DescribeTarget(a.TargetFiles[path])} -> {DescribeTarget(t)}");
            }
        }

        DelegationChanges(a.Delegations, b.Delegations, changes);
    }

    private static void DelegationChanges(Delegations? da, Delegations? db, List<string> changes)
    {
        if (da is null && db is null)
        {
            return;
        }

        if (da is null || db is null)
        {
            changes.Add(da is null ? "delegations added" : "delegations removed");
        }

        KeyChanges(da?.Keys ?? new Dictionary<string, Key>(), db?.Keys ?? new Dictionary<string, Key>(), "delegation key", changes);
        if (da?.Succinct is not null || db?.Succinct is not null)
        {
            changes.AddRange(JsonDiff.Diff(da?.Succinct?.Json, db?.Succinct?.Json, "succinct_roles").Select(c => "delegation " + c));
        }

        var rolesA = da?.Roles ?? [];
        var rolesB = db?.Roles ?? [];
        foreach (var r in rolesB.Where(r => rolesA.All(x => x.Name != r.Name)))
        {
            changes.Add($"delegated role added: {r.Name}: threshold {r.Threshold} of [{string.Join(", ", r.KeyIds)}], {DescribePaths(r)}{(r.Terminating ? ", terminating" : string.Empty)}");
        }

        foreach (var r in rolesA.Where(r => rolesB.All(x => x.Name != r.Name)))
        {
            changes.Add($"delegated role removed: {r.Name}");
        }

        foreach (var r in rolesB)
        {
            var old = rolesA.FirstOrDefault(x => x.Name == r.Name);
            if (old is null)
            {
                continue;
            }

            RoleChanges("delegated role " + r.Name, old, r, changes);
            if (old.Terminating != r.Terminating)
            {
                changes.Add($"delegated role {r.Name} terminating {old.Terminating} -> {r.Terminating}");
            }

            if (DescribePaths(old) != DescribePaths(r))
            {
                changes.Add($"delegated role {r.Name} {DescribePaths(old)} -> {DescribePaths(r)}");
            }
        }

        var orderA = rolesA.Select(r => r.Name).Where(n => rolesB.Any(x => x.Name == n)).ToList();
        var orderB = rolesB.Select(r => r.Name).Where(n => rolesA.Any(x => x.Name == n)).ToList();
        if (!orderA.SequenceEqual(orderB))
        {
            changes.Add("delegated roles reordered (this changes which role is trusted first): " + string.Join(", ", orderB));
        }

        if (da is not null && db is not null)
        {
            ReportOtherFields("delegations", da.Json, db.Json, ["keys", "roles", "succinct_roles"], changes);
        }
    }

    private static void MetaChanges(IReadOnlyDictionary<string, MetaFile> a, IReadOnlyDictionary<string, MetaFile> b, List<string> changes)
    {
        foreach (var (name, m) in b.OrderBy(m => m.Key, CanonicalJson.KeyComparer))
        {
            if (!a.TryGetValue(name, out var old))
            {
                changes.Add($"meta added: {name}: {DescribeMeta(m)}");
            }
            else if (!JsonNode.DeepEquals(old.Json, m.Json))
            {
                changes.Add($"meta changed: {name}: {DescribeMeta(old)} -> {DescribeMeta(m)}");
            }
        }

        foreach (var name in a.Keys.Where(n => !b.ContainsKey(n)).Order(CanonicalJson.KeyComparer))
        {
            changes.Add($"meta removed: {name}");
        }
    }

    private static void ReportOtherFields(string label, JsonObject a, JsonObject b, string[] known, List<string> changes)
    {
        foreach (var key in a.Keys.Union(b.Keys).Where(k => !known.Contains(k)).Order(StringComparer.Ordinal))
        {
            a.TryGetValue(key, out var va);
            b.TryGetValue(key, out var vb);
            changes.AddRange(JsonDiff.Diff(va, vb, $"{label}.{key}").Select(c => "other field " + c));
        }
    }

    private static string Relative(DateTimeOffset when, DateTimeOffset now)
    {
        var span = when - now;
        var days = Math.Abs(span.TotalDays);
        var amount = days >= 2 ? $"{(int)days} days" : $"{(int)Math.Abs(span.TotalHours)} hours";
        return span > TimeSpan.Zero ? "in " + amount : "EXPIRED " + amount + " ago";
    }

    private static string Short(JsonNode n)
    {
        var s = n.ToString();
        return s.Length <= 200 ? s : s[..197] + "...";
    }
}
