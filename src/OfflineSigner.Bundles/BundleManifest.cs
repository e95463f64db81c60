using System.Globalization;
using System.Text.Json;
using OfflineSigner.Tuf;

namespace OfflineSigner.Bundles;

/// <summary>The signers an item needs: <see cref="Threshold"/> distinct keys out of <see cref="KeyIds"/>.</summary>
public sealed record Requirement(string Name, int Threshold, IReadOnlyList<string> KeyIds);

/// <summary>A file of the bundle that never changes after export: its path, length and SHA-256.</summary>
public sealed record BundleFile(string Path, long Length, string Sha256);

/// <summary>Context carried for offline checks: a root version of the trusted chain, or the previous version of an item's role.</summary>
public sealed record ContextFile(string Kind, string Role, long Version, BundleFile File);

/// <summary>
/// One unsigned document to be signed: its role and version, where it is, the SHA-256 of its file and of its signed
/// bytes, what it is checked against, and who must sign it.
/// </summary>
public sealed record BundleItem(
    string Id,
    string Role,
    long Version,
    BundleFile File,
    string SignedSha256,
    string TrustedRoot,
    string? Previous,
    string? Delegator,
    IReadOnlyList<Requirement> Requirements)
{
    /// <summary>Every key id that may sign this item, in the order the requirements list them.</summary>
    public IEnumerable<string> AllKeyIds => Requirements.SelectMany(r => r.KeyIds).Distinct(StringComparer.Ordinal);
}

/// <summary>The repository a bundle was built for, and the trusted root it was built against (none for a new repository).</summary>
public sealed record RepositoryIdentity(string Name, string? Gun, string? TrustedRootSha256, long TrustedRootVersion);

/// <summary>
/// manifest.json: the bundle's format version, id, repository identity, dialect, creation time, context and items.
/// Read strictly: unknown fields, unknown format versions and malformed values are refused. See docs/bundle-format.md.
/// </summary>
public sealed record BundleManifest(
    int FormatVersion,
    string BundleId,
    DateTimeOffset Created,
    Dialect Dialect,
    RepositoryIdentity Repository,
    IReadOnlyList<ContextFile> Context,
    IReadOnlyList<BundleItem> Items)
{
    public const string FormatName = "offline-signer-bundle";
    public const int CurrentFormatVersion = 1;

    /// <summary>Context kind of the sealed transcript of the ceremony that made the bundle's items (role "ceremony").</summary>
    public const string CeremonyTranscriptKind = "ceremony-transcript";

    /// <summary>Context kind of an enrolled key's attestation evidence (role: the key holder's id).</summary>
    public const string AttestationKind = "attestation";

    /// <summary>The most items a bundle holds (item ids are five digits).</summary>
    public const int MaxItems = 99_999;

    public static string DialectName(Dialect dialect) => dialect == Dialect.Notary ? "notary" : "tuf";

    /// <summary>A new bundle id: 128 random bits in lower-case hex.</summary>
    public static string NewBundleId() => Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));

    /// <summary>The id of the item at <paramref name="index"/> (0-based).</summary>
    public static string ItemId(int index) => (index + 1).ToString("D5", CultureInfo.InvariantCulture);

    /// <summary>The context files of a kind for a role.</summary>
    public IEnumerable<ContextFile> ContextOf(string kind) => Context.Where(c => c.Kind == kind);

    /// <summary>Whether this bundle asks for a new repository (no trusted root yet).</summary>
    public bool IsNewRepository => Repository.TrustedRootSha256 is null;

    public BundleItem Item(string id) => FindItem(id) ?? throw new BundleException($"the manifest has no item {id}");

    public BundleItem? FindItem(string id) =>
        int.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= 1 && n <= Items.Count && Items[n - 1].Id == id
            ? Items[n - 1]
            : Items.FirstOrDefault(i => i.Id == id);

    public byte[] ToBytes()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("format", FormatName);
            w.WriteNumber("format_version", FormatVersion);
            w.WriteString("bundle_id", BundleId);
            w.WriteString("created", Rfc3339.Format(Created));
            w.WriteString("dialect", DialectName(Dialect));
            w.WriteStartObject("repository");
            w.WriteString("name", Repository.Name);
            WriteNullable(w, "gun", Repository.Gun);
            WriteNullable(w, "trusted_root_sha256", Repository.TrustedRootSha256);
            w.WriteNumber("trusted_root_version", Repository.TrustedRootVersion);
            w.WriteEndObject();
            w.WriteStartArray("context");
            foreach (var c in Context)
            {
                w.WriteStartObject();
                w.WriteString("kind", c.Kind);
                w.WriteString("role", c.Role);
                w.WriteNumber("version", c.Version);
                WriteFile(w, c.File);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartArray("items");
            foreach (var i in Items)
            {
                w.WriteStartObject();
                w.WriteString("id", i.Id);
                w.WriteString("role", i.Role);
                w.WriteNumber("version", i.Version);
                WriteFile(w, i.File);
                w.WriteString("signed_sha256", i.SignedSha256);
                w.WriteString("trusted_root", i.TrustedRoot);
                WriteNullable(w, "previous", i.Previous);
                WriteNullable(w, "delegator", i.Delegator);
                w.WriteStartArray("requirements");
                foreach (var r in i.Requirements)
                {
                    w.WriteStartObject();
                    w.WriteString("name", r.Name);
                    w.WriteNumber("threshold", r.Threshold);
                    w.WriteStartArray("keyids");
                    foreach (var k in r.KeyIds)
                    {
                        w.WriteStringValue(k);
                    }

                    w.WriteEndArray();
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        stream.WriteByte((byte)'\n');
        return stream.ToArray();
    }

    public static BundleManifest Parse(ReadOnlySpan<byte> bytes)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(bytes.ToArray(), new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new BundleException($"manifest.json is not valid JSON: {e.Message}", e);
        }

        using (doc)
        {
            var root = Object(doc.RootElement, "manifest.json");
            Only(root, "manifest.json", "format", "format_version", "bundle_id", "created", "dialect", "repository", "context", "items");
            if (Str(root, "format", "manifest.json") != FormatName)
            {
                throw new BundleException($"manifest.json: format is not \"{FormatName}\": this is not an OfflineSigner bundle");
            }

            var version = (int)Math.Clamp(Int(root, "format_version", "manifest.json"), int.MinValue, int.MaxValue);
            if (version != CurrentFormatVersion)
            {
                throw new BundleException($"manifest.json: format_version {version} is not known to this offline-signer (it reads version {CurrentFormatVersion}); use the offline-signer release that wrote the bundle, or a newer one");
            }

            var id = Str(root, "bundle_id", "manifest.json");
            if (id.Length != 32 || !id.All(char.IsAsciiHexDigitLower))
            {
                throw new BundleException("manifest.json: bundle_id must be 32 lower-case hex digits");
            }

            var createdText = Str(root, "created", "manifest.json");
            if (!Rfc3339.TryParse(createdText, out var created))
            {
                throw new BundleException($"manifest.json: created \"{createdText}\" is not an RFC 3339 time");
            }

            var dialect = Str(root, "dialect", "manifest.json") switch
            {
                "tuf" => Dialect.TufSpecification,
                "notary" => Dialect.Notary,
                var d => throw new BundleException($"manifest.json: dialect \"{d}\" is neither \"tuf\" nor \"notary\""),
            };

            var repo = Object(Prop(root, "repository", "manifest.json"), "manifest.json repository");
            Only(repo, "repository", "name", "gun", "trusted_root_sha256", "trusted_root_version");
            var rootSha = NullableStr(repo, "trusted_root_sha256", "repository");
            if (rootSha is not null)
            {
                CheckSha(rootSha, "repository.trusted_root_sha256");
            }

            var identity = new RepositoryIdentity(
                Str(repo, "name", "repository"), NullableStr(repo, "gun", "repository"), rootSha, Int(repo, "trusted_root_version", "repository"));

            var context = new List<ContextFile>();
            foreach (var c in Array(root, "context", "manifest.json"))
            {
                Only(c, "context entry", "kind", "role", "version", "path", "length", "sha256");
                var kind = Str(c, "kind", "context entry");
                if (kind is not ("root" or "previous" or "delegator" or "online-key" or CeremonyTranscriptKind or AttestationKind))
                {
                    throw new BundleException($"manifest.json: context kind \"{kind}\" is not root, previous, delegator, online-key, {CeremonyTranscriptKind} or {AttestationKind}");
                }

                context.Add(new ContextFile(kind, Str(c, "role", "context entry"), Int(c, "version", "context entry"), File(c, "context entry")));
            }

            var items = new List<BundleItem>();
            foreach (var i in Array(root, "items", "manifest.json"))
            {
                Only(i, "item", "id", "role", "version", "path", "length", "sha256", "signed_sha256", "trusted_root", "previous", "delegator", "requirements");
                var itemId = Str(i, "id", "item");
                if (itemId.Length != 5 || !itemId.All(char.IsAsciiDigit))
                {
                    throw new BundleException($"manifest.json: item id \"{itemId}\" is not five digits");
                }

                var requirements = new List<Requirement>();
                foreach (var r in Array(i, "requirements", $"item {itemId}"))
                {
                    Only(r, $"item {itemId} requirement", "name", "threshold", "keyids");
                    var keyIds = Array(r, "keyids", $"item {itemId}").Select(k => k.ValueKind == JsonValueKind.String ? k.GetString()! : throw new BundleException($"manifest.json: item {itemId}: key ids must be strings")).ToList();
                    var threshold = (int)Int(r, "threshold", $"item {itemId}");
                    if (threshold < 1 || threshold > keyIds.Count)
                    {
                        throw new BundleException($"manifest.json: item {itemId}: threshold {threshold} cannot be met by {keyIds.Count} keys");
                    }

                    requirements.Add(new Requirement(Str(r, "name", $"item {itemId}"), threshold, keyIds));
                }

                if (requirements.Count == 0)
                {
                    throw new BundleException($"manifest.json: item {itemId} names no signers");
                }

                var signedSha = Str(i, "signed_sha256", $"item {itemId}");
                CheckSha(signedSha, $"item {itemId} signed_sha256");
                items.Add(new BundleItem(
                    itemId,
                    Str(i, "role", $"item {itemId}"),
                    Int(i, "version", $"item {itemId}"),
                    File(i, $"item {itemId}"),
                    signedSha,
                    Str(i, "trusted_root", $"item {itemId}"),
                    NullableStr(i, "previous", $"item {itemId}"),
                    NullableStr(i, "delegator", $"item {itemId}"),
                    requirements));
            }

            if (items.Count == 0 && rootSha is not null)
            {
                throw new BundleException("manifest.json lists no items (only a request for a new repository may have none)");
            }

            for (var n = 0; n < items.Count; n++)
            {
                if (items[n].Id != ItemId(n))
                {
                    throw new BundleException($"manifest.json: item {n + 1} has id {items[n].Id}; items are numbered 00001, 00002, ... in order");
                }
            }

            if (items.Count > MaxItems || items.Select(i => i.Id).Distinct().Count() != items.Count || items.Select(i => i.Role).Distinct(StringComparer.Ordinal).Count() != items.Count)
            {
                throw new BundleException("manifest.json lists an item id or a role twice");
            }

            var manifest = new BundleManifest(version, id, created, dialect, identity, context, items);
            manifest.CheckReferences();
            return manifest;
        }
    }

    /// <summary>Every path the manifest names is a bundle name, listed once, and each item's references point at listed files.</summary>
    private void CheckReferences()
    {
        var files = Context.Select(c => c.File.Path).Concat(Items.Select(i => i.File.Path)).ToList();
        foreach (var f in files)
        {
            BundleNames.CheckRelativePath(f, "manifest.json");
        }

        if (files.Distinct(StringComparer.Ordinal).Count() != files.Count)
        {
            throw new BundleException("manifest.json lists a file twice");
        }

        var known = files.ToHashSet(StringComparer.Ordinal);
        foreach (var i in Items)
        {
            foreach (var (what, path) in new[] { ("trusted_root", i.TrustedRoot), ("previous", i.Previous), ("delegator", i.Delegator) })
            {
                if (path is not null && !known.Contains(path))
                {
                    throw new BundleException($"manifest.json: item {i.Id}: {what} \"{path}\" is not a file of the bundle");
                }
            }
        }
    }

    private static void WriteFile(Utf8JsonWriter w, BundleFile f)
    {
        w.WriteString("path", f.Path);
        w.WriteNumber("length", f.Length);
        w.WriteString("sha256", f.Sha256);
    }

    private static void WriteNullable(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }

    private static BundleFile File(JsonElement e, string where)
    {
        var sha = Str(e, "sha256", where);
        CheckSha(sha, where + " sha256");
        var length = Int(e, "length", where);
        return length < 0 ? throw new BundleException($"manifest.json: {where}: negative length") : new BundleFile(Str(e, "path", where), length, sha);
    }

    private static void CheckSha(string value, string where)
    {
        if (value.Length != 64 || !value.All(char.IsAsciiHexDigitLower))
        {
            throw new BundleException($"manifest.json: {where} is not a SHA-256 in lower-case hex");
        }
    }

    private static JsonElement Object(JsonElement e, string where) =>
        e.ValueKind == JsonValueKind.Object ? e : throw new BundleException($"{where} must be a JSON object");

    private static void Only(JsonElement e, string where, params string[] names)
    {
        Object(e, where);
        foreach (var p in e.EnumerateObject())
        {
            if (!names.Contains(p.Name, StringComparer.Ordinal))
            {
                throw new BundleException($"manifest.json: {where} has an unknown field \"{p.Name}\"");
            }
        }

        foreach (var n in names)
        {
            if (!e.TryGetProperty(n, out _))
            {
                throw new BundleException($"manifest.json: {where} lacks the field \"{n}\"");
            }
        }
    }

    private static JsonElement Prop(JsonElement e, string name, string where) =>
        e.TryGetProperty(name, out var v) ? v : throw new BundleException($"manifest.json: {where} lacks \"{name}\"");

    private static string Str(JsonElement e, string name, string where)
    {
        var v = Prop(e, name, where);
        return v.ValueKind == JsonValueKind.String && v.GetString() is { Length: > 0 } s ? s : throw new BundleException($"manifest.json: {where}: \"{name}\" must be a non-empty string");
    }

    private static string? NullableStr(JsonElement e, string name, string where) =>
        Prop(e, name, where).ValueKind == JsonValueKind.Null ? null : Str(e, name, where);

    private static long Int(JsonElement e, string name, string where)
    {
        var v = Prop(e, name, where);
        return v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n) ? n : throw new BundleException($"manifest.json: {where}: \"{name}\" must be an integer");
    }

    private static List<JsonElement> Array(JsonElement e, string name, string where)
    {
        var v = Prop(e, name, where);
        return v.ValueKind == JsonValueKind.Array ? v.EnumerateArray().ToList() : throw new BundleException($"manifest.json: {where}: \"{name}\" must be an array");
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"bundle {BundleId} ({Items.Count} items)");
}
