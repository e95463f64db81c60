using OfflineSigner.Tuf.Json;

namespace OfflineSigner.Tuf;

/// <summary>Limits and strictness for reading metadata. Defaults follow python-tuf's client size caps.</summary>
public sealed record MetadataParseOptions
{
    /// <summary>The defaults.</summary>
    public static MetadataParseOptions Default { get; } = new();

    /// <summary>Largest root file accepted (python-tuf: 512,000 bytes).</summary>
    public long MaxRootBytes { get; init; } = 512_000;

    /// <summary>Largest timestamp file accepted (python-tuf: 16,384 bytes).</summary>
    public long MaxTimestampBytes { get; init; } = 16_384;

    /// <summary>Largest snapshot file accepted (python-tuf: 2,000,000 bytes).</summary>
    public long MaxSnapshotBytes { get; init; } = 2_000_000;

    /// <summary>Largest targets file (top-level or delegated) accepted (python-tuf: 5,000,000 bytes).</summary>
    public long MaxTargetsBytes { get; init; } = 5_000_000;

    /// <summary>Refuse key objects of unsupported types instead of keeping them as unusable keys.</summary>
    public bool RejectUnsupportedKeys { get; init; }

    /// <summary>Limits for the JSON parser itself.</summary>
    public JsonParseOptions Json { get; init; } = JsonParseOptions.Default;

    /// <summary>Options with every size cap raised to <paramref name="bytes"/> (for benchmarks and large repositories).</summary>
    public MetadataParseOptions WithMaxBytes(long bytes) => this with
    {
        MaxRootBytes = bytes,
        MaxTimestampBytes = bytes,
        MaxSnapshotBytes = bytes,
        MaxTargetsBytes = bytes,
        Json = Json with { MaxDocumentBytes = Math.Max(Json.MaxDocumentBytes, bytes) },
    };

    /// <summary>The size cap for a role type.</summary>
    public long MaxBytes(RoleType type) => type switch
    {
        RoleType.Root => MaxRootBytes,
        RoleType.Timestamp => MaxTimestampBytes,
        RoleType.Snapshot => MaxSnapshotBytes,
        _ => MaxTargetsBytes,
    };
}
