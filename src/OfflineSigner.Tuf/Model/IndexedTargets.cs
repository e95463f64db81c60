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
        JsonIndex index;
        try
        {
            index = JsonIndex.Parse(utf8, options.Json with { MaxDocumentBytes = Math.Min(options.Json.MaxDocumentBytes, MetadataReader.MaxOfAll(options)) });
        }
        catch (JsonFormatException e)
        {
            throw new MetadataFormatException(e.Path ?? "$", e.Reason ?? e.Message, e);
        }

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
        foreach (var (targetPath, entry) in targets.EnumerateProperties())
        {
            var ep = Fields.Child(TargetsPath, targetPath);
            _ = new TargetFile(targetPath, Fields.AsObject(entry.ToJsonNode(), ep), ep);
        }

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
            var items = roles is { } r ? r.EnumerateItems().ToArray() : [];
            _ = Fields.Array(shell, "roles", DelegationsPath);
            Delegations.ParseRoles(items.Length, i => items[i].ToJsonNode(), Fields.Child(DelegationsPath, "roles"), dialect, _ => { });
        }
        else
        {
            _ = new SuccinctRoles(Fields.Object(shell, "succinct_roles", DelegationsPath), Fields.Child(DelegationsPath, "succinct_roles"));
        }
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
