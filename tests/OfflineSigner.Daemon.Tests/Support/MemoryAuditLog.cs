using OfflineSigner.Audit;

namespace OfflineSigner.Daemon.Tests.Support;

/// <summary>An audit log in memory, for tests that check what the services record.</summary>
public sealed class MemoryAuditLog : IAuditLog
{
    private readonly List<AuditEvent> _events = [];

    public IReadOnlyList<AuditEvent> Events
    {
        get
        {
            lock (_events)
            {
                return [.. _events];
            }
        }
    }

    public void Append(AuditEvent auditEvent)
    {
        lock (_events)
        {
            _events.Add(auditEvent);
        }
    }
}
