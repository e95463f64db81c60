using OfflineSigner.Audit;
using OfflineSigner.Daemon.Configuration;
using OfflineSigner.Daemon.Grpc;
using OfflineSigner.Daemon.Policy;
using OfflineSigner.Daemon.Services;

namespace OfflineSigner.Daemon.Hosting;

/// <summary>The daemon's services built from its configuration, ready to register with the transport.</summary>
internal sealed class DaemonServices : IDisposable
{
    /// <param name="configuration">The loaded configuration.</param>
    /// <param name="policy">The signing policy.</param>
    /// <param name="audit">The audit log.</param>
    /// <param name="time">The clock.</param>
    /// <param name="auditLogPath">The audit log file, when it is one.</param>
    /// <param name="operatorNotice">Where requests for the operator go ("insert Alice's YubiKey with serial ...", "touch ...").</param>
    public DaemonServices(DaemonConfiguration configuration, SigningPolicyOptions policy, IAuditLog audit, TimeProvider time, string? auditLogPath = null, Action<string>? operatorNotice = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var login = configuration.Pkcs11?.ToLoginOptions() ?? Pkcs11LoginOptions.Default;
        Backends = new KeyBackends(configuration.Backends!
            .Select(b => b.IsYubiKey
                ? (IKeyBackend)new YubiKeyBackend(b.Name!, b.ToYubiKeyOptions(), operatorNotice)
                : new Pkcs11Backend(b.Name!, b.Module!, b.Selector, b.Pin?.ToPinSource(), b.ProtectionPolicy, login))
            .ToList());
        var gate = new SigningGate(policy, time);
        Keys = new KeyService(Backends, Directory, audit);
        Signing = new SigningService(Backends, Directory, gate, audit, time);
        Attestation = new AttestationService(Backends, Directory, audit);
        Rotation = new RotationService(Signing, policy, audit, time);
        Ceremony = new CeremonyService(Backends, Directory, audit);
        Audit = auditLogPath is null ? null : new AuditService(auditLogPath);
    }

    public KeyBackends Backends { get; }

    public KeyDirectory Directory { get; } = new();

    public KeyService Keys { get; }

    public SigningService Signing { get; }

    public AttestationService Attestation { get; }

    public RotationService Rotation { get; }

    public CeremonyService Ceremony { get; }

    /// <summary>Reading and verifying the log file (absent when the log is not a file, as in tests).</summary>
    public AuditService? Audit { get; }

    /// <summary>Registers every implemented method.</summary>
    public void Register(IGrpcServiceRegistry registry)
    {
        Keys.Register(registry);
        Signing.Register(registry);
        Attestation.Register(registry);
        Rotation.Register(registry);
        Ceremony.Register(registry);
        Audit?.Register(registry);
    }

    public void Dispose() => Backends.Dispose();
}
