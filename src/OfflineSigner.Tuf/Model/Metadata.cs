using OfflineSigner.Tuf.Json;

namespace OfflineSigner.Tuf;

/// <summary>
/// A metadata document: a <see cref="Signed"/> payload and its signatures (TUF specification §4.2),
/// in either dialect. Shaped like python-tuf's <c>Metadata[T]</c>.
/// </summary>
/// <typeparam name="T">The payload type: <see cref="Root"/>, <see cref="Targets"/>, <see cref="Snapshot"/>, <see cref="Timestamp"/>, or <see cref="Signed"/> for any.</typeparam>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1000:Do not declare static members on generic types", Justification = "Metadata<Root>.Parse reads as python-tuf's Metadata[Root].from_bytes and checks the type.")]
public sealed class Metadata<T>
    where T : Signed
{
    private readonly List<Signature> signatures;

    internal Metadata(T signed, List<Signature> signatures, JsonObject unrecognized)
    {
        Signed = signed;
        this.signatures = signatures;
        UnrecognizedFields = unrecognized;
    }

    /// <summary>The signed payload.</summary>
    public T Signed { get; }

    /// <summary>The signatures, in document order.</summary>
    public IReadOnlyList<Signature> Signatures => signatures;

    /// <summary>Top-level fields other than <c>signed</c> and <c>signatures</c>, kept as read.</summary>
    public JsonObject UnrecognizedFields { get; }

    /// <summary>The dialect.</summary>
    public Dialect Dialect => Signed.Dialect;

    /// <summary>Wraps a payload with no signatures yet.</summary>
    public static Metadata<T> Create(T signed) => new(signed ?? throw new ArgumentNullException(nameof(signed)), [], new JsonObject());

    /// <summary>Parses a document; the payload must be of type <typeparamref name="T"/>.</summary>
    /// <exception cref="MetadataException">the document is not acceptable metadata; the message names the field.</exception>
    public static Metadata<T> Parse(ReadOnlySpan<byte> utf8, MetadataParseOptions? options = null, Dialect? dialect = null)
    {
        var any = MetadataReader.Parse(utf8, options, dialect);
        if (any.Signed is not T)
        {
            throw new MetadataFormatException("$.signed._type", $"expected {typeof(T).Name.ToLowerInvariant()} metadata, found {any.Signed.Type.ToString().ToLowerInvariant()}");
        }

        return any.As<T>();
    }

    /// <summary>The same document seen through a more specific payload type.</summary>
    public Metadata<TOther> As<TOther>()
        where TOther : Signed =>
        Signed is TOther s
            ? new Metadata<TOther>(s, signatures, UnrecognizedFields)
            : throw new InvalidCastException($"{Signed.Type} metadata is not {typeof(TOther).Name}");

    /// <summary>The canonical bytes the signatures cover.</summary>
    public byte[] SignedBytes() => Signed.CanonicalBytes();

    /// <summary>Adds a signature, replacing an earlier one by the same key id.</summary>
    public void AddSignature(Signature signature)
    {
        ArgumentNullException.ThrowIfNull(signature);
        signatures.RemoveAll(s => s.KeyId == signature.KeyId);
        signatures.Add(signature);
    }

    /// <summary>Removes every signature (after the payload changed).</summary>
    public void ClearSignatures() => signatures.Clear();

    /// <summary>The whole document as a JSON tree.</summary>
    public JsonObject ToJson()
    {
        var doc = new JsonObject();
        foreach (var (k, v) in UnrecognizedFields)
        {
            doc.Add(k, v);
        }

        var sigs = new JsonArray();
        foreach (var s in signatures)
        {
            sigs.Add(s.Json);
        }

        doc.Add("signatures", sigs);
        doc.Add("signed", Signed.Json);
        return doc;
    }

    /// <summary>
    /// The document as a file: standard JSON with sorted keys (deterministic), control characters escaped so strict
    /// readers (python-tuf, tuf-js, notary) accept it. Signatures cover the canonical form of <c>signed</c>, not these bytes.
    /// </summary>
    public byte[] ToBytes(bool indented = false) => JsonText.Serialize(ToJson(), indented);
}

/// <summary>Reads metadata documents of any type and either dialect.</summary>
public static class MetadataReader
{
    /// <summary>Parses a document, detecting (or checking) its dialect and type.</summary>
    /// <exception cref="MetadataException">the document is not acceptable metadata; the message names the field.</exception>
    public static Metadata<Signed> Parse(ReadOnlySpan<byte> utf8, MetadataParseOptions? options = null, Dialect? dialect = null)
    {
        options ??= MetadataParseOptions.Default;
        JsonNode root;
        try
        {
            root = JsonParser.Parse(utf8, options.Json with { MaxDocumentBytes = Math.Min(options.Json.MaxDocumentBytes, MaxOfAll(options)) });
        }
        catch (JsonFormatException e)
        {
            throw new MetadataFormatException(e.Path ?? "$", e.Reason ?? e.Message, e);
        }

        var doc = Fields.AsObject(root, "$");
        var signedJson = Fields.Object(doc, "signed", "$");
        var type = Fields.String(signedJson, "_type", "$.signed");
        var detected = DetectDialect(type);
        if (dialect is not null && dialect != detected)
        {
            throw new MetadataFormatException("$.signed._type", $"\"{type}\" is {Describe(detected)} metadata, not {Describe(dialect.Value)}");
        }

        var roleType = type.ToLowerInvariant() switch
        {
            "root" => RoleType.Root,
            "targets" => RoleType.Targets,
            "snapshot" => RoleType.Snapshot,
            "timestamp" => RoleType.Timestamp,
            _ => throw new MetadataFormatException("$.signed._type", $"unknown metadata type \"{type}\""),
        };
        var limit = options.MaxBytes(roleType);
        if (utf8.Length > limit)
        {
            throw new MetadataFormatException("$", $"{type} metadata of {utf8.Length} bytes exceeds the limit of {limit} bytes");
        }

        Signed signed = roleType switch
        {
            RoleType.Root => new Root(signedJson, detected, options),
            RoleType.Targets => new Targets(signedJson, detected, options),
            RoleType.Snapshot => new Snapshot(signedJson, detected, options),
            _ => new Timestamp(signedJson, detected, options),
        };

        var sigs = ParseSignatures(Fields.Array(doc, "signatures", "$"), detected);
        var unrecognized = new JsonObject();
        foreach (var (k, v) in doc)
        {
            if (k is not "signed" and not "signatures")
            {
                unrecognized.Add(k, v);
            }
        }

        return new Metadata<Signed>(signed, sigs, unrecognized);
    }

    /// <summary>The <c>signatures</c> list: each one well formed, no key id twice.</summary>
    internal static List<Signature> ParseSignatures(JsonArray sigsArray, Dialect dialect)
    {
        var sigs = new List<Signature>(sigsArray.Count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < sigsArray.Count; i++)
        {
            var p = Fields.Index("$.signatures", i);
            var sig = Signature.Parse(Fields.AsObject(sigsArray[i], p), dialect, p);
            if (!seen.Add(sig.KeyId))
            {
                throw new MetadataFormatException(Fields.Child(p, "keyid"), $"a second signature by key id {sig.KeyId}");
            }

            sigs.Add(sig);
        }

        return sigs;
    }

    /// <summary>The dialect a <c>_type</c> value belongs to: lowercase is the TUF specification, capitalised is notary.</summary>
    public static Dialect DetectDialect(string type) => type switch
    {
        "root" or "targets" or "snapshot" or "timestamp" => Dialect.TufSpecification,
        "Root" or "Targets" or "Snapshot" or "Timestamp" => Dialect.Notary,
        _ => throw new MetadataFormatException("$.signed._type", $"unknown metadata type \"{type}\""),
    };

    /// <summary>A human name for a dialect.</summary>
    public static string Describe(Dialect dialect) => dialect == Dialect.Notary ? "Notary v1 / Docker Content Trust" : "TUF specification";

    internal static long MaxOfAll(MetadataParseOptions o) =>
        Math.Max(Math.Max(o.MaxRootBytes, o.MaxTargetsBytes), Math.Max(o.MaxSnapshotBytes, o.MaxTimestampBytes));
}
