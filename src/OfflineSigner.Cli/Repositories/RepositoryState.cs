using OfflineSigner.Bundles;
using System.Buffers;
using System.Security.Cryptography;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Json;

namespace OfflineSigner.Cli.Repositories;

/// <summary>
/// The current metadata of one repository, in either dialect, with the book-keeping a writer needs:
/// snapshot and timestamp entries derived from the exact bytes that will be published.
/// </summary>
internal sealed class RepositoryState
{
    public RepositoryState(Dialect dialect) => Dialect = dialect;

    public Dialect Dialect { get; }

    /// <summary>Every root version, oldest first (all are published: clients walk them).</summary>
    public List<Metadata<Root>> Roots { get; } = [];

    public Metadata<Root> Root => Roots[^1];

    public Metadata<Targets>? Targets { get; set; }

    /// <summary>Delegated targets roles by name.</summary>
    public SortedDictionary<string, Metadata<Targets>> Delegated { get; } = new(StringComparer.Ordinal);

    public Metadata<Snapshot>? Snapshot { get; set; }

    public Metadata<Timestamp>? Timestamp { get; set; }

    /// <summary>Target files (path to content) kept beside the metadata.</summary>
    public SortedDictionary<string, byte[]> TargetContents { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// The bytes a role is published as. Notary documents are written exactly as notary's Go code marshals them:
    /// <c>{"signed":CANONICAL,"signatures":[{"keyid","method","sig"}]}</c>, in that field order. notary-server
    /// re-serializes a stored snapshot that way when it makes a timestamp and then looks the snapshot up by the
    /// SHA-256 of those bytes; with any other layout (sorted keys put "signatures" first) the lookup fails and the
    /// server serves no timestamp at all.
    /// </summary>
    public static byte[] FileBytes<T>(Metadata<T> md)
        where T : Signed
    {
        ArgumentNullException.ThrowIfNull(md);
        return md.Dialect == Dialect.Notary ? NotaryWireBytes(md) : md.ToBytes();
    }

    private static byte[] NotaryWireBytes<T>(Metadata<T> md)
        where T : Signed
    {
        if (md.UnrecognizedFields.Count > 0)
        {
            throw new MetadataFormatException("$", "notary documents have no top-level fields besides signed and signatures");
        }

        var buffer = new ArrayBufferWriter<byte>();
        void Write(ReadOnlySpan<byte> bytes) => buffer.Write(bytes);
        Write("{\"signed\":"u8);
        WriteGoEscaped(buffer, md.SignedBytes());
        Write(",\"signatures\":["u8);
        for (var i = 0; i < md.Signatures.Count; i++)
        {
            // Go writes struct fields in declaration order (keyid, method, sig), not sorted.
            var sig = md.Signatures[i];
            Write(i == 0 ? "{\"keyid\":"u8 : ",{\"keyid\":"u8);
            Write(JsonText.Serialize((JsonNode)sig.KeyId));
            Write(",\"method\":"u8);
            Write(JsonText.Serialize((JsonNode)(sig.Method ?? string.Empty)));
            Write(",\"sig\":"u8);
            Write(JsonText.Serialize((JsonNode)Convert.ToBase64String(sig.Value)));
            Write("}"u8);
        }

        Write("]}"u8);
        return buffer.WrittenSpan.ToArray();
    }

    // Go's json.Marshal compacts a RawMessage with HTML escaping: < > & and U+2028, U+2029 become \u escapes. In
    // canonical JSON these can only occur inside strings, so a byte-level replacement is exact.
    private static void WriteGoEscaped(ArrayBufferWriter<byte> output, ReadOnlySpan<byte> canonical)
    {
        for (var i = 0; i < canonical.Length; i++)
        {
            var b = canonical[i];
            ReadOnlySpan<byte> escape = b switch
            {
                (byte)'<' => "\\u003c"u8,
                (byte)'>' => "\\u003e"u8,
                (byte)'&' => "\\u0026"u8,
                0xE2 when i + 2 < canonical.Length && canonical[i + 1] == 0x80 && canonical[i + 2] is 0xA8 or 0xA9 =>
                    canonical[i + 2] == 0xA8 ? "\\u2028"u8 : "\\u2029"u8,
                _ => default,
            };
            if (escape.IsEmpty)
            {
                output.Write([b]);
            }
            else
            {
                output.Write(escape);
                if (b == 0xE2)
                {
                    i += 2;
                }
            }
        }
    }

    /// <summary>Rebuilds the snapshot's entries from the current targets roles (and root, for notary), bumping its version.</summary>
    public void RefreshSnapshot(DateTimeOffset expires)
    {
        var snapshot = Snapshot?.Signed ?? Tuf.Snapshot.Create(Dialect, expires);
        if (Snapshot is not null)
        {
            snapshot.SetVersion(snapshot.Version + 1);
        }

        snapshot.SetExpires(expires);
        var entries = new List<(string Name, JsonObject Entry)>();
        if (Dialect == Dialect.Notary)
        {
            entries.Add(("root", HashEntry(FileBytes(Root), version: null)));
            entries.Add(("targets", HashEntry(FileBytes(Targets!), version: null)));
            entries.AddRange(Delegated.Select(d => (d.Key, HashEntry(FileBytes(d.Value), version: null))));
        }
        else
        {
            entries.Add(("targets.json", new JsonObject { { "version", Targets!.Signed.Version } }));
            entries.AddRange(Delegated.Select(d => (d.Key + ".json", new JsonObject { { "version", d.Value.Signed.Version } })));
        }

        // Entries for roles that are gone are dropped; one rebuild, linear in the number of roles.
        snapshot.ReplaceMeta(entries);

        Snapshot = Metadata<Snapshot>.Create(snapshot);
    }

    /// <summary>Points the timestamp at the current snapshot bytes, bumping its version.</summary>
    public void RefreshTimestamp(DateTimeOffset expires)
    {
        var entry = HashEntry(FileBytes(Snapshot!), Dialect == Dialect.Notary ? null : Snapshot!.Signed.Version);
        Timestamp ts;
        if (Timestamp is null)
        {
            ts = Tuf.Timestamp.Create(Dialect, expires, entry);
        }
        else
        {
            ts = Timestamp.Signed;
            ts.SetVersion(ts.Version + 1);
            ts.SetExpires(expires);
            ts.SetSnapshotMeta(entry);
        }

        Timestamp = Metadata<Timestamp>.Create(ts);
    }

    /// <summary>A snapshot/timestamp entry for published bytes: length and hashes in the dialect's encoding.</summary>
    public JsonObject HashEntry(byte[] bytes, long? version)
    {
        var entry = new JsonObject();
        if (version is long v)
        {
            entry.Add("version", v);
        }

        entry.Add("length", bytes.LongLength);
        var hashes = new JsonObject();
        if (Dialect == Dialect.Notary)
        {
            hashes.Add("sha256", Convert.ToBase64String(SHA256.HashData(bytes)));
            hashes.Add("sha512", Convert.ToBase64String(SHA512.HashData(bytes)));
        }
        else
        {
            hashes.Add("sha256", Convert.ToHexStringLower(SHA256.HashData(bytes)));
        }

        entry.Add("hashes", hashes);
        return entry;
    }

    /// <summary>Hashes of a target file in the dialect's encoding.</summary>
    public Dictionary<string, string> TargetHashes(byte[] content) => Dialect == Dialect.Notary
        ? new() { ["sha256"] = Convert.ToBase64String(SHA256.HashData(content)), ["sha512"] = Convert.ToBase64String(SHA512.HashData(content)) }
        : new() { ["sha256"] = Convert.ToHexStringLower(SHA256.HashData(content)) };

    /// <summary>
    /// Writes a TUF specification repository laid out as python-tuf and tuf-on-ci do, with consistent snapshots:
    /// metadata/N.root.json (every version) and root.json, VERSION.ROLE.json for targets, delegated roles and
    /// snapshot, timestamp.json, and targets/HASH.NAME. Files only ever added are written first and the timestamp
    /// last, each atomically, so a client never sees a timestamp that points at something missing.
    /// </summary>
    public void WriteTufDirectory(string dir)
    {
        var meta = Path.Combine(dir, "metadata");
        var targetsDir = Path.Combine(dir, "targets");
        foreach (var (path, content) in TargetContents)
        {
            var hash = Convert.ToHexStringLower(SHA256.HashData(content));
            var name = Path.Combine(targetsDir, Path.GetDirectoryName(path) ?? string.Empty, hash + "." + Path.GetFileName(path));
            if (!File.Exists(name))
            {
                AtomicFile.Write(name, content);
            }
        }

        foreach (var r in Roots)
        {
            var name = Path.Combine(meta, $"{r.Signed.Version}.root.json");
            if (!File.Exists(name))
            {
                AtomicFile.Write(name, FileBytes(r));
            }
        }

        AtomicFile.Write(Path.Combine(meta, $"{Targets!.Signed.Version}.targets.json"), FileBytes(Targets));
        foreach (var (role, md) in Delegated)
        {
            AtomicFile.Write(Path.Combine(meta, $"{md.Signed.Version}.{role}.json"), FileBytes(md));
        }

        AtomicFile.Write(Path.Combine(meta, $"{Snapshot!.Signed.Version}.snapshot.json"), FileBytes(Snapshot));
        AtomicFile.Write(Path.Combine(meta, "timestamp.json"), FileBytes(Timestamp!));
        AtomicFile.Write(Path.Combine(meta, "root.json"), FileBytes(Root));
    }

    /// <summary>Writes notary's layout: root.json (and N.root.json), targets.json, targets/NAME.json, snapshot.json, timestamp.json.</summary>
    public void WriteNotaryDirectory(string dir)
    {
        foreach (var r in Roots)
        {
            AtomicFile.Write(Path.Combine(dir, $"{r.Signed.Version}.root.json"), FileBytes(r));
        }

        AtomicFile.Write(Path.Combine(dir, "root.json"), FileBytes(Root));
        AtomicFile.Write(Path.Combine(dir, "targets.json"), FileBytes(Targets!));
        foreach (var (role, md) in Delegated)
        {
            AtomicFile.Write(Path.Combine(dir, role + ".json"), FileBytes(md));
        }

        AtomicFile.Write(Path.Combine(dir, "snapshot.json"), FileBytes(Snapshot!));
        AtomicFile.Write(Path.Combine(dir, "timestamp.json"), FileBytes(Timestamp!));
    }
}
