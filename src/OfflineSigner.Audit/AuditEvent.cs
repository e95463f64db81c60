namespace OfflineSigner.Audit;

/// <summary>What happened: the kinds of entry the audit log records.</summary>
public enum AuditEventKind
{
    /// <summary>The daemon started (build, version, configuration digest).</summary>
    DaemonStarted,

    /// <summary>The daemon stopped cleanly.</summary>
    DaemonStopped,

    /// <summary>A new log segment was started on purpose after a broken chain.</summary>
    SegmentStarted,

    /// <summary>A key was generated on a device.</summary>
    KeyGenerated,

    /// <summary>Metadata (or a notary root certificate) was signed.</summary>
    Signed,

    /// <summary>A root or delegation rotation was built and signed.</summary>
    Rotated,

    /// <summary>Attestation evidence was produced.</summary>
    Attested,

    /// <summary>A PIN was refused by a device.</summary>
    LoginFailed,

    /// <summary>A request was refused by policy.</summary>
    PolicyRefused,

    /// <summary>A caller was refused (not on the allow-list).</summary>
    CallerRefused,
}

/// <summary>One event to append. Fields that do not apply stay null. Never carries a secret or a payload.</summary>
public sealed record AuditEvent(AuditEventKind Kind)
{
    public string? KeyId { get; init; }

    public string? KeyUri { get; init; }

    public string? Role { get; init; }

    public long? Version { get; init; }

    /// <summary>Lowercase hex SHA-256 of the signed bytes (or of the evidence, for attestations).</summary>
    public string? PayloadSha256 { get; init; }

    /// <summary>The backend's configuration name.</summary>
    public string? Backend { get; init; }

    public string? DeviceSerial { get; init; }

    public uint? CallerUid { get; init; }

    /// <summary>A short human-readable detail (rule that refused, error code...). Never a secret.</summary>
    public string? Detail { get; init; }
}

/// <summary>The append side of the audit log, as the daemon's services see it.</summary>
public interface IAuditLog
{
    /// <summary>Appends an entry and flushes it to disk before returning (fsync per entry).</summary>
    void Append(AuditEvent auditEvent);

    /// <summary>
    /// Appends entries in their order and flushes them before returning; a writer may make them durable together
    /// (one fsync for a batch of signatures).
    /// </summary>
    void AppendAll(IReadOnlyList<AuditEvent> auditEvents)
    {
        ArgumentNullException.ThrowIfNull(auditEvents);
        foreach (var auditEvent in auditEvents)
        {
            Append(auditEvent);
        }
    }
}
