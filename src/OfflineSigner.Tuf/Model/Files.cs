using OfflineSigner.Tuf.Json;

namespace OfflineSigner.Tuf;

/// <summary>What snapshot and timestamp say about a metadata file (TUF specification §4.4 "METAFILES").</summary>
public sealed class MetaFile
{
    internal MetaFile(JsonObject json, string path, Dialect dialect)
    {
        Json = json;
        Version = dialect == Dialect.TufSpecification
            ? Fields.Integer(json, "version", path, 1)
            : Fields.OptionalInteger(json, "version", path, 1);
        Length = Fields.OptionalInteger(json, "length", path, 0);
        Hashes = ReadHashes(json, path, required: dialect == Dialect.Notary);
    }

    /// <summary>The object as read.</summary>
    public JsonObject Json { get; }

    /// <summary>The file's version (always present in the spec dialect, absent in notary's).</summary>
    public long? Version { get; }

    /// <summary>The file's length in bytes, if given.</summary>
    public long? Length { get; }

    /// <summary>Hashes by algorithm (hex in the spec dialect, base64 in notary's), possibly empty.</summary>
    public IReadOnlyDictionary<string, string> Hashes { get; }

    internal static Dictionary<string, string> ReadHashes(JsonObject json, string path, bool required)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var obj = required ? Fields.Object(json, "hashes", path) : Fields.OptionalObject(json, "hashes", path);
        if (obj is null)
        {
            return result;
        }

        var hp = Fields.Child(path, "hashes");
        if (obj.Count == 0)
        {
            throw new MetadataFormatException(hp, "at least one hash is required");
        }

        foreach (var (alg, v) in obj)
        {
            result[alg] = Fields.AsString(v, Fields.Child(hp, alg));
        }

        return result;
    }
}

/// <summary>A target file entry (TUF specification §4.5 "TARGETS").</summary>
public sealed class TargetFile
{
    internal TargetFile(string targetPath, JsonObject json, string path)
    {
        TargetPath = targetPath;
        Json = json;
        Length = Fields.Integer(json, "length", path, 0);
        Hashes = MetaFile.ReadHashes(json, path, required: true);
        Custom = Fields.OptionalObject(json, "custom", path);
    }

    /// <summary>The target's path.</summary>
    public string TargetPath { get; }

    /// <summary>The object as read.</summary>
    public JsonObject Json { get; }

    /// <summary>Length in bytes.</summary>
    public long Length { get; }

    /// <summary>Hashes by algorithm.</summary>
    public IReadOnlyDictionary<string, string> Hashes { get; }

    /// <summary>The opaque <c>custom</c> object, or null.</summary>
    public JsonObject? Custom { get; }
}
