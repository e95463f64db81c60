using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using OfflineSigner.Tuf.Crypto;
using OfflineSigner.Tuf.Json;

namespace OfflineSigner.Tuf;

/// <summary>
/// A targets document (top-level or delegated) read through a <see cref="JsonIndex"/> instead of a tree: for verifying
/// large roles in little memory. Parsing checks everything <see cref="Metadata{T}.Parse"/> checks, with the same
/// messages: the strict JSON rules, the common fields, every target entry and every delegated role (each built,
/// checked and dropped in turn), and the signatures. Afterwards target entries are read from the index on demand,
/// and the canonical bytes of <c>signed</c> are written from the source bytes, streamed into a hash for
/// verification (<see cref="Verifier.Verify(string, Role, IReadOnlyDictionary{string, Key}, IndexedTargets)"/>).
/// </summary>
/// <remarks>The document's bytes are kept, not copied: they must not change while this object is in use.</remarks>
public sealed class IndexedTargets
{
    private const string SignedPath = "$.signed";
    private const string TargetsPath = "$.signed.targets";
    private const string DelegationsPath = "$.signed.delegations";

    private readonly Targets header;
    private readonly JsonIndexValue targets;
    private readonly JsonIndexValue? delegationsJson;
    private readonly List<Signature> signatures;
    private readonly MetadataParseOptions options;
    private Delegations? delegations;
    private IReadOnlyDictionary<string, Key>? delegationKeys;

    private IndexedTargets(JsonIndex index, JsonIndexValue signed, Targets header, JsonIndexValue targets, JsonIndexValue? delegationsJson, List<Signature> signatures, JsonObject unrecognized, MetadataParseOptions options)
    {
        Index = index;
        Signed = signed;
        this.header = header;
        this.targets = targets;
        this.delegationsJson = delegationsJson;
        this.signatures = signatures;
        UnrecognizedFields = unrecognized;
        this.options = options;
    }

    /// <summary>The index of the whole document.</summary>
    public JsonIndex Index { get; }

    /// <summary>The <c>signed</c> object in the index.</summary>
    public JsonIndexValue Signed { get; }

    /// <summary>The dialect.</summary>
    public Dialect Dialect => header.Dialect;

    /// <summary><c>spec_version</c> (TUF specification dialect), or null (notary).</summary>
    public string? SpecVersion => header.SpecVersion;

    /// <summary>The version number.</summary>
    public long Version => header.Version;

    /// <summary>The expiry time.</summary>
    public DateTimeOffset Expires => header.Expires;

    /// <summary>Names of fields of <c>signed</c> the model does not interpret (kept and signed as they are).</summary>
    public IReadOnlyList<string> SignedUnrecognizedFields => header.UnrecognizedFields;

    /// <summary>Top-level fields other than <c>signed</c> and <c>signatures</c>, kept as read.</summary>
    public JsonObject UnrecognizedFields { get; }

    /// <summary>The signatures, in document order.</summary>
    public IReadOnlyList<Signature> Signatures => signatures;

    /// <summary>The number of target files.</summary>
    public int TargetCount => targets.Count;

    /// <summary>The paths of the target files, in document order.</summary>
    public IEnumerable<string> TargetPaths => targets.EnumerateProperties().Select(p => p.Key);

    /// <summary>The delegations (built from the index on first use), or null.</summary>
    public Delegations? Delegations =>
        delegationsJson is { } d
            ? delegations ??= new Delegations((JsonObject)d.ToJsonNode(), DelegationsPath, Dialect, options)
            : null;

    /// <summary>Parses a targets document; refuses what <see cref="Metadata{T}.Parse"/> refuses for <see cref="Targets"/>.</summary>
    /// <exception cref="MetadataException">the document is not acceptable targets metadata; the message names the field.</exception>
    public static IndexedTargets Parse(ReadOnlyMemory<byte> utf8, MetadataParseOptions? options = null, Dialect? dialect = null)
    {
        options ??= MetadataParseOptions.Default;
        return FromIndex(BuildIndex(utf8, options), options, dialect);
    }

    /// <summary>
    /// Reads a document through the index when it is targets metadata (its <c>signed._type</c> is "targets" in either
    /// dialect's spelling) and returns null for any other document that is well-formed JSON: such a document is then
    /// for <see cref="MetadataReader.Parse"/>, which reads it or says why it is refused. A targets document is
    /// checked and refused exactly as by <see cref="Parse"/>.
    /// </summary>
    /// <exception cref="MetadataException">the document is not JSON the strict parser accepts, or it is targets metadata that is not acceptable.</exception>
    public static IndexedTargets? ParseIfTargets(ReadOnlyMemory<byte> utf8, MetadataParseOptions? options = null, Dialect? dialect = null)
    {
        options ??= MetadataParseOptions.Default;
        var index = BuildIndex(utf8, options);
        var doc = index.Root;
        if (doc.Kind != JsonKind.Object
            || !doc.TryGetProperty("signed"u8, out var signed) || signed.Kind != JsonKind.Object
            || !signed.TryGetProperty("_type"u8, out var type) || type.Kind != JsonKind.String
            || !type.GetString().Equals("targets", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        return FromIndex(index, options, dialect);
    }

    private static JsonIndex BuildIndex(ReadOnlyMemory<byte> utf8, MetadataParseOptions options)
    {
        try
        {
            return JsonIndex.Parse(utf8, options.Json with { MaxDocumentBytes = Math.Min(options.Json.MaxDocumentBytes, MetadataReader.MaxOfAll(options)) });
        }
        catch (JsonFormatException e)
        {
            throw new MetadataFormatException(e.Path ?? "$", e.Reason ?? e.Message, e);
        }
    }

    private static IndexedTargets FromIndex(JsonIndex index, MetadataParseOptions options, Dialect? dialect)
    {
        var utf8 = index.Utf8;
        var doc = index.Root;
        if (doc.Kind != JsonKind.Object)
        {
            throw new MetadataFormatException("$", $"expected an object, found {doc.KindName}");
        }

        var signed = Require(doc, "signed", "$", JsonKind.Object);
        var type = Require(signed, "_type", SignedPath, JsonKind.String).GetString();
        var detected = MetadataReader.DetectDialect(type);
        if (dialect is not null && dialect != detected)
        {
            throw new MetadataFormatException("$.signed._type", $"\"{type}\" is {MetadataReader.Describe(detected)} metadata, not {MetadataReader.Describe(dialect.Value)}");
        }

        if (!type.Equals("targets", StringComparison.OrdinalIgnoreCase))
        {
            throw new MetadataFormatException("$.signed._type", $"expected targets metadata, found {type.ToLowerInvariant()}");
        }

        var limit = options.MaxBytes(RoleType.Targets);
        if (utf8.Length > limit)
        {
            throw new MetadataFormatException("$", $"{type} metadata of {utf8.Length} bytes exceeds the limit of {limit} bytes");
        }

        // The common fields and any unknown ones go through the model as they are; the two large members are checked
        // below one entry at a time (an empty "targets" stands in for the real one).
        var headerJson = new JsonObject();
        JsonIndexValue targets = default;
        JsonIndexValue? delegations = null;
        foreach (var (name, value) in signed.EnumerateProperties())
        {
            if (name == "targets" && value.Kind == JsonKind.Object)
            {
                targets = value;
                headerJson.Add(name, new JsonObject());
            }
            else if (name == "delegations" && value.Kind == JsonKind.Object)
            {
                delegations = value;
            }
            else
            {
                headerJson.Add(name, value.ToJsonNode());
            }
        }

        var header = new Targets(headerJson, detected, options);
        CheckTargets(targets);

        if (delegations is { } d)
        {
            CheckDelegations(d, detected, options);
        }

        var sigs = MetadataReader.ParseSignatures((JsonArray)Require(doc, "signatures", "$", JsonKind.Array).ToJsonNode(), detected);
        var unrecognized = new JsonObject();
        foreach (var (name, value) in doc.EnumerateProperties())
        {
            if (name is not "signed" and not "signatures")
            {
                unrecognized.Add(name, value.ToJsonNode());
            }
        }

        return new IndexedTargets(index, signed, header, targets, delegations, sigs, unrecognized, options);
    }

    /// <summary>Whether the metadata has expired at <paramref name="at"/>.</summary>
    public bool IsExpired(DateTimeOffset at) => header.IsExpired(at);

    /// <summary>Reads one target entry from the index.</summary>
    public bool TryGetTarget(string targetPath, [MaybeNullWhen(false)] out TargetFile target)
    {
        ArgumentNullException.ThrowIfNull(targetPath);
        if (!targets.TryGetProperty(targetPath, out var entry))
        {
            target = null;
            return false;
        }

        var ep = Fields.Child(TargetsPath, targetPath);
        target = new TargetFile(targetPath, Fields.AsObject(entry.ToJsonNode(), ep), ep);
        return true;
    }

    /// <summary>
    /// The role this document delegates <paramref name="roleName"/> to and the delegation keys, as
    /// <c>Delegations.FindRole</c> and <c>Delegations.Keys</c> of the model give them, read from the index: only the
    /// matching role and the keys are built, not the other roles (a <c>bins</c> role delegates to thousands).
    /// </summary>
    /// <returns>false when the document has no delegations or none to <paramref name="roleName"/>.</returns>
    public bool TryFindDelegation(string roleName, [NotNullWhen(true)] out Role? role, [NotNullWhen(true)] out IReadOnlyDictionary<string, Key>? keys)
    {
        ArgumentNullException.ThrowIfNull(roleName);
        role = null;
        keys = null;
        if (delegationsJson is not { } d)
        {
            return false;
        }

        if (delegations is not null || !d.TryGetProperty("roles"u8, out var roles))
        {
            // Succinct hash bins (a small object), or the delegations already built.
            role = Delegations!.FindRole(roleName);
        }
        else
        {
            var wanted = System.Text.Encoding.UTF8.GetBytes(roleName);
            var i = 0;
            foreach (var item in roles.EnumerateItems())
            {
                if (item.TryGetProperty("name"u8, out var name) && item.Owner.CompareKey(name.Entry, wanted) == 0)
                {
                    var rp = Fields.Index(Fields.Child(DelegationsPath, "roles"), i);
                    role = new DelegatedRole((JsonObject)item.ToJsonNode(), rp, Dialect);
                    break;
                }

                i++;
            }
        }

        if (role is null)
        {
            return false;
        }

        keys = DelegationKeys!;
        return true;
    }

    /// <summary>The keys of the delegations (built from the index on first use), or null without delegations.</summary>
    public IReadOnlyDictionary<string, Key>? DelegationKeys
    {
        get
        {
            if (delegationsJson is not { } d)
            {
                return null;
            }

            if (delegations is not null)
            {
                return delegations.Keys;
            }

            return delegationKeys ??= Tuf.Delegations.ParseKeys((JsonObject)Require(d, "keys", DelegationsPath, JsonKind.Object).ToJsonNode(), Fields.Child(DelegationsPath, "keys"), Dialect, options);
        }
    }

    /// <summary>The model's view of the common fields and the fields it does not interpret (no targets, no delegations).</summary>
    internal Targets Header => header;

    /// <summary>The target entries in code point order of their paths, each built from the index as it is reached.</summary>
    internal IEnumerable<TargetFile> TargetsInCanonicalOrder()
    {
        var index = targets.Owner;
        if (targets.Count == 0)
        {
            yield break;
        }

        foreach (var k in index.SortedKeys(targets.Entry))
        {
            yield return Target(index, k);
        }
    }

    /// <summary>
    /// The target entries in code point order of their paths whose path <paramref name="other"/> lists
    /// (<paramref name="present"/>) or does not list, each built from the index as it is reached.
    /// </summary>
    internal IEnumerable<TargetFile> TargetsInCanonicalOrder(IndexedTargets other, bool present)
    {
        var index = targets.Owner;
        if (targets.Count == 0)
        {
            yield break;
        }

        foreach (var k in index.SortedKeys(targets.Entry))
        {
            if (other.HasTarget(index.GetString(k)) == present)
            {
                yield return Target(index, k);
            }
        }
    }

    /// <summary>The delegated roles in document order, each built from the index as it is reached; empty for succinct hash bins.</summary>
    internal IEnumerable<DelegatedRole> DelegatedRoles()
    {
        if (delegationsJson is not { } d || !d.TryGetProperty("roles"u8, out var roles))
        {
            yield break;
        }

        var i = 0;
        foreach (var item in roles.EnumerateItems())
        {
            yield return new DelegatedRole((JsonObject)item.ToJsonNode(), Fields.Index(Fields.Child(DelegationsPath, "roles"), i++), Dialect);
        }
    }

    /// <summary>The number of delegated roles listed (0 for succinct hash bins or no delegations).</summary>
    internal int DelegatedRoleCount =>
        delegationsJson is { } d && d.TryGetProperty("roles"u8, out var roles) ? roles.Count : 0;

    /// <summary>The succinct hash-bin delegation, or null.</summary>
    internal SuccinctRoles? Succinct =>
        delegationsJson is { } d && d.TryGetProperty("succinct_roles"u8, out _) ? Delegations!.Succinct : null;

    /// <summary>Whether the document has delegations.</summary>
    internal bool HasDelegations => delegationsJson is not null;

    /// <summary>The delegations object's members other than keys, roles and succinct_roles, as trees.</summary>
    internal JsonObject DelegationsOtherFields()
    {
        var other = new JsonObject();
        if (delegationsJson is { } d)
        {
            foreach (var (name, value) in d.EnumerateProperties())
            {
                if (name is not "keys" and not "roles" and not "succinct_roles")
                {
                    other.Add(name, value.ToJsonNode());
                }
            }
        }

        return other;
    }

    /// <summary>The canonical bytes of a target entry (to compare two entries without building them).</summary>
    internal byte[]? TargetCanonicalBytes(string targetPath) =>
        targets.TryGetProperty(targetPath, out var entry) ? entry.CanonicalBytes() : null;

    /// <summary>Whether the document lists a target path.</summary>
    internal bool HasTarget(string targetPath) => targets.TryGetProperty(targetPath, out _);

    private static TargetFile Target(JsonIndex index, int key)
    {
        var targetPath = index.GetString(key);
        var ep = Fields.Child(TargetsPath, targetPath);
        return new TargetFile(targetPath, (JsonObject)index.ToNode(key + 1), ep);
    }

    /// <summary>The canonical bytes the signatures cover, byte-identical to <see cref="Metadata{T}.SignedBytes"/>.</summary>
    public byte[] SignedBytes() => Signed.CanonicalBytes();

    /// <summary>The digest of the canonical bytes of <c>signed</c>, computed without holding them whole.</summary>
    public byte[] SignedDigest(HashAlgorithmName algorithm) => Signed.CanonicalHash(algorithm);

    /// <summary>Writes the canonical bytes of <c>signed</c> to a stream.</summary>
    public void WriteSignedBytes(Stream destination) => Signed.WriteCanonical(destination);

    /// <summary>The whole document parsed into the model (a tree of the whole file: for small files and for comparison).</summary>
    public Metadata<Targets> ToMetadata() => Metadata<Targets>.Parse(Index.Utf8.Span, options, Dialect);

    internal ISignedMessage SignedMessage() => new Message(Signed);

    private static JsonIndexValue Require(JsonIndexValue obj, string name, string path, JsonKind kind)
    {
        if (!obj.TryGetProperty(name, out var value))
        {
            throw new MetadataFormatException(Fields.Child(path, name), "required field is missing");
        }

        if (value.Kind != kind)
        {
            var expected = kind switch
            {
                JsonKind.Object => "an object",
                JsonKind.Array => "an array",
                _ => "a string",
            };
            throw new MetadataFormatException(Fields.Child(path, name), $"expected {expected}, found {value.KindName}");
        }

        return value;
    }

    /// <summary>What <see cref="Tuf.Delegations"/> checks, with the delegated roles built one at a time.</summary>
    private static void CheckDelegations(JsonIndexValue delegations, Dialect dialect, MetadataParseOptions options)
    {
        var shell = new JsonObject();
        JsonIndexValue? roles = null;
        foreach (var (name, value) in delegations.EnumerateProperties())
        {
            if (name == "roles" && value.Kind == JsonKind.Array)
            {
                roles = value;
                shell.Add(name, new JsonArray());
            }
            else
            {
                shell.Add(name, value.ToJsonNode());
            }
        }

        _ = Delegations.ParseKeys(Fields.Object(shell, "keys", DelegationsPath), Fields.Child(DelegationsPath, "keys"), dialect, options);
        var hasRoles = shell.ContainsKey("roles");
        if (hasRoles == shell.ContainsKey("succinct_roles"))
        {
            throw new MetadataFormatException(DelegationsPath, "exactly one of \"roles\" and \"succinct_roles\" is required");
        }

        if (hasRoles)
        {
            _ = Fields.Array(shell, "roles", DelegationsPath);
            if (roles is { } r && !PlainRoles(r, dialect))
            {
                // Something the quick checks do not cover: every role through the model, which says what is wrong.
                var items = r.EnumerateItems().ToArray();
                Delegations.ParseRoles(items.Length, i => items[i].ToJsonNode(), Fields.Child(DelegationsPath, "roles"), dialect, _ => { });
            }
        }
        else
        {
            _ = new SuccinctRoles(Fields.Object(shell, "succinct_roles", DelegationsPath), Fields.Child(DelegationsPath, "succinct_roles"));
        }
    }

    /// <summary>
    /// Checks every target entry as <see cref="TargetFile"/> does. An entry of the usual shape (a length of at most 18
    /// digits, a non-empty object of string hashes, no custom or an object) is accepted by reading the index, with
    /// nothing allocated; any other entry is built and checked by the model, which accepts it or names what is wrong.
    /// </summary>
    private static void CheckTargets(JsonIndexValue targets)
    {
        var index = targets.Owner;
        var count = targets.Count;
        var k = targets.Entry + 1;
        for (var m = 0; m < count; m++)
        {
            var entry = new JsonIndexValue(index, k + 1);
            if (!IsPlainTargetEntry(entry))
            {
                var targetPath = index.GetString(k);
                var ep = Fields.Child(TargetsPath, targetPath);
                _ = new TargetFile(targetPath, Fields.AsObject(entry.ToJsonNode(), ep), ep);
            }

            k = index.Next(k + 1);
        }
    }

    /// <summary>Whether <see cref="TargetFile"/> certainly accepts the entry; false is no verdict.</summary>
    private static bool IsPlainTargetEntry(JsonIndexValue entry)
    {
        if (entry.Kind != JsonKind.Object
            || !entry.TryGetProperty("length"u8, out var length) || !entry.Owner.TryGetSmallNonNegative(length.Entry, out _)
            || !entry.TryGetProperty("hashes"u8, out var hashes) || hashes.Kind != JsonKind.Object || hashes.Count == 0
            || (entry.TryGetProperty("custom"u8, out var custom) && custom.Kind != JsonKind.Object))
        {
            return false;
        }

        var index = entry.Owner;
        var k = hashes.Entry + 1;
        for (var m = 0; m < hashes.Count; m++)
        {
            if (index.KindOf(k + 1) != JsonKind.String)
            {
                return false;
            }

            k = index.Next(k + 1);
        }

        return true;
    }

    /// <summary>
    /// Whether <see cref="Delegations.ParseRoles"/> certainly accepts the delegated roles: each an object with a
    /// non-empty name without escapes that is no top-level role's and no other role's, distinct key ids without
    /// escapes, a threshold of 1 to 999,999,999, a boolean terminating (required in the specification dialect), and at
    /// most one of paths and path_hash_prefixes as a list of strings (one of them in notary's). False is no verdict.
    /// </summary>
    private static bool PlainRoles(JsonIndexValue roles, Dialect dialect)
    {
        var index = roles.Owner;
        var names = new HashSet<int>(roles.Count, new JsonIndex.KeyEquality(index));
        var item = roles.Entry + 1;
        for (var n = 0; n < roles.Count; n++, item = index.Next(item))
        {
            var role = new JsonIndexValue(index, item);
            if (role.Kind != JsonKind.Object
                || !role.TryGetProperty("name"u8, out var name) || name.Kind != JsonKind.String
                || !index.TryRawString(name.Entry, out var rawName) || rawName.IsEmpty || IsTopLevelRoleName(rawName)
                || !names.Add(name.Entry)
                || !role.TryGetProperty("threshold"u8, out var threshold) || !index.TryGetSmallNonNegative(threshold.Entry, out var t) || t is < 1 or > 999_999_999
                || !role.TryGetProperty("keyids"u8, out var keyIds) || !IsDistinctPlainStrings(keyIds))
            {
                return false;
            }

            var hasTerminating = role.TryGetProperty("terminating"u8, out var terminating);
            if (hasTerminating ? terminating.Kind != JsonKind.Boolean : dialect == Dialect.TufSpecification)
            {
                return false;
            }

            var hasPaths = role.TryGetProperty("paths"u8, out var paths);
            var hasPrefixes = role.TryGetProperty("path_hash_prefixes"u8, out var prefixes);
            if ((hasPaths && hasPrefixes)
                || (hasPaths && !IsStringList(paths))
                || (hasPrefixes && !IsStringList(prefixes))
                || (!hasPaths && !hasPrefixes && dialect == Dialect.Notary))
            {
                return false;
            }
        }

        return true;

        static bool IsTopLevelRoleName(ReadOnlySpan<byte> n) =>
            n.SequenceEqual("root"u8) || n.SequenceEqual("snapshot"u8) || n.SequenceEqual("targets"u8) || n.SequenceEqual("timestamp"u8);
    }

    private static bool IsStringList(JsonIndexValue list)
    {
        if (list.Kind != JsonKind.Array)
        {
            return false;
        }

        var index = list.Owner;
        var k = list.Entry + 1;
        for (var m = 0; m < list.Count; m++, k = index.Next(k))
        {
            if (index.KindOf(k) != JsonKind.String)
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsDistinctPlainStrings(JsonIndexValue list)
    {
        if (list.Kind != JsonKind.Array || list.Count > 16)
        {
            return false;
        }

        // Items of an array of strings are consecutive entries.
        var index = list.Owner;
        var first = list.Entry + 1;
        for (var i = first; i < first + list.Count; i++)
        {
            if (index.KindOf(i) != JsonKind.String || !index.TryRawString(i, out var a))
            {
                return false;
            }

            for (var j = first; j < i; j++)
            {
                if (index.TryRawString(j, out var b) && a.SequenceEqual(b))
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>The canonical bytes of <c>signed</c> as a signature check wants them: digests streamed, bytes only on demand.</summary>
    private sealed class Message(JsonIndexValue signed) : ISignedMessage
    {
        private readonly Dictionary<HashAlgorithmName, byte[]> digests = [];
        private byte[]? bytes;

        public byte[] Digest(HashAlgorithmName algorithm)
        {
            if (!digests.TryGetValue(algorithm, out var digest))
            {
                digest = bytes is null ? signed.CanonicalHash(algorithm) : HashBytes(algorithm, bytes);
                digests[algorithm] = digest;
            }

            return digest;
        }

        public ReadOnlySpan<byte> Bytes() => bytes ??= signed.CanonicalBytes();

        private static byte[] HashBytes(HashAlgorithmName algorithm, byte[] data)
        {
            using var hash = IncrementalHash.CreateHash(algorithm);
            hash.AppendData(data);
            return hash.GetHashAndReset();
        }
    }
}
