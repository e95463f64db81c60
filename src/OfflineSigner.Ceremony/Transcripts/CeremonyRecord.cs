using OfflineSigner.Ceremony.Scripts;

namespace OfflineSigner.Ceremony.Transcripts;

/// <summary>What a transcript says happened, read back for people: the report is rendered from it.</summary>
public sealed record CeremonyRecord
{
    public required CeremonyScript Script { get; init; }

    /// <summary>ceremony or rehearsal.</summary>
    public required string Mode { get; init; }

    public required DateTimeOffset StartedAt { get; init; }

    public required DateTimeOffset EndedAt { get; init; }

    public required IReadOnlyList<RecordedStep> Steps { get; init; }

    public required IReadOnlyList<RecordedKey> Keys { get; init; }

    public required IReadOnlyList<RecordedItem> Items { get; init; }

    public required IReadOnlyList<RecordedSeal> Seals { get; init; }

    public RecordedBundle? Bundle { get; init; }

    /// <summary>A ceremony on an existing repository: the SHA-256 of the trusted root it worked against; null for a new repository.</summary>
    public string? TrustedRootSha256 { get; init; }

    /// <summary>Lowercase hex SHA-256 of the whole transcript file: what witnesses sign.</summary>
    public required string TranscriptSha256 { get; init; }

    /// <summary>Lines in the transcript.</summary>
    public required long Entries { get; init; }

    /// <summary>Whether every seal key of the script sealed the transcript.</summary>
    public required bool Sealed { get; init; }
}

/// <summary>A step and how it ended: completed, failed (with the reason) or not run.</summary>
public sealed record RecordedStep(string Id, string Action, string Status, string? Reason);

/// <summary>An enrolled key with its evidence.</summary>
public sealed record RecordedKey(
    string StepId,
    string Holder,
    string DeviceKind,
    string DeviceSerial,
    string Algorithm,
    string KeyId,
    string Fingerprint,
    string AttestationFormat,
    string AttestationSha256,
    string AttestationSummary,
    bool Enrolled);

/// <summary>A metadata item built and signed in the ceremony.</summary>
public sealed record RecordedItem(string StepId, string Type, long Version, string Expires, string SignedSha256, IReadOnlyList<RecordedSignature> Signatures);

/// <summary>A signature added to an item.</summary>
public sealed record RecordedSignature(string Holder, string DeviceSerial, string KeyId, string Fingerprint);

/// <summary>A seal signature.</summary>
public sealed record RecordedSeal(string Holder, string KeyId, string Fingerprint, long CoversSeq, string CoversSha256);

/// <summary>The bundle the ceremony exported.</summary>
public sealed record RecordedBundle(string BundleId, string ManifestSha256, string Location);
