using OfflineSigner.Protocol.Health.V1;
using OfflineSigner.Protocol.V1;

namespace OfflineSigner.Protocol.Client;

/// <summary>
/// The daemon's RPCs as typed methods, one per method of the services in protos/offlinesigner/v1 and of
/// grpc.health.v1.Health. Failures are <see cref="DaemonRpcException"/> (see <see cref="DaemonChannel"/>).
/// </summary>
public sealed class DaemonClient
{
    public DaemonClient(DaemonChannel channel)
    {
        ArgumentNullException.ThrowIfNull(channel);
        Channel = channel;
    }

    public DaemonChannel Channel { get; }

    /// <summary>Key service: The configured backends and their tokens / devices.</summary>
    public Task<ListBackendsResponse> ListBackendsAsync(ListBackendsRequest request, CallOptions options = default) =>
        Channel.UnaryAsync(DaemonMethods.ListBackends, request, options);

    /// <summary>Key service: The keys a backend holds (public information and protection evidence only).</summary>
    public Task<ListKeysResponse> ListKeysAsync(ListKeysRequest request, CallOptions options = default) =>
        Channel.UnaryAsync(DaemonMethods.ListKeys, request, options);

    /// <summary>Key service: Generates a key on a device; FAILED_PRECONDITION when the label or id already holds one.</summary>
    public Task<GenerateKeyResponse> GenerateKeyAsync(GenerateKeyRequest request, CallOptions options = default) =>
        Channel.UnaryAsync(DaemonMethods.GenerateKey, request, options);

    /// <summary>Key service: A key's public part as a TUF key object in the requested dialect.</summary>
    public Task<GetPublicKeyResponse> GetPublicKeyAsync(GetPublicKeyRequest request, CallOptions options = default) =>
        Channel.UnaryAsync(DaemonMethods.GetPublicKey, request, options);

    /// <summary>Signing service: Checks a signing request and describes it, with the SHA-256 of the bytes to be signed.</summary>
    public Task<PreviewResponse> PreviewAsync(SigningRequest request, CallOptions options = default) =>
        Channel.UnaryAsync(DaemonMethods.Preview, request, options);

    /// <summary>Signing service: Signs what Preview described, if the digest matches.</summary>
    public Task<SignResponse> SignAsync(SignRequest request, CallOptions options = default) =>
        Channel.UnaryAsync(DaemonMethods.Sign, request, options);

    /// <summary>Signing service: Preview for a batch of documents to be signed with one key.</summary>
    public Task<PreviewBatchResponse> PreviewBatchAsync(SigningBatch request, CallOptions options = default) =>
        Channel.UnaryAsync(DaemonMethods.PreviewBatch, request, options);

    /// <summary>Signing service: Sign for a batch, all or nothing, each item against its previewed digest.</summary>
    public Task<SignBatchResponse> SignBatchAsync(SignBatchRequest request, CallOptions options = default) =>
        Channel.UnaryAsync(DaemonMethods.SignBatch, request, options);

    /// <summary>Signing service: Notary's dialect: a self-signed X.509 root certificate made with a daemon key.</summary>
    public Task<SignRootCertificateResponse> SignRootCertificateAsync(SignRootCertificateRequest request, CallOptions options = default) =>
        Channel.UnaryAsync(DaemonMethods.SignRootCertificate, request, options);

    /// <summary>Rotation service: Builds root N+1 with keys replaced and describes it (no signature).</summary>
    public Task<RotationResponse> PreviewRootRotationAsync(RootRotationRequest request, CallOptions options = default) =>
        Channel.UnaryAsync(DaemonMethods.PreviewRootRotation, request, options);

    /// <summary>Rotation service: Builds root N+1 and signs it.</summary>
    public Task<RotationResponse> RotateRootAsync(RootRotationRequest request, CallOptions options = default) =>
        Channel.UnaryAsync(DaemonMethods.RotateRoot, request, options);

    /// <summary>Rotation service: Builds the delegating role with one delegation's keys replaced and describes it.</summary>
    public Task<RotationResponse> PreviewDelegationRotationAsync(DelegationRotationRequest request, CallOptions options = default) =>
        Channel.UnaryAsync(DaemonMethods.PreviewDelegationRotation, request, options);

    /// <summary>Rotation service: Builds and signs it.</summary>
    public Task<RotationResponse> RotateDelegationAsync(DelegationRotationRequest request, CallOptions options = default) =>
        Channel.UnaryAsync(DaemonMethods.RotateDelegation, request, options);

    /// <summary>Attestation service: A key's protection evidence (PKCS#11 attributes or a PIV attestation) and whether it meets the policy.</summary>
    public Task<AttestResponse> AttestAsync(AttestRequest request, CallOptions options = default) =>
        Channel.UnaryAsync(DaemonMethods.Attest, request, options);

    /// <summary>Ceremony service: Verifies a ceremony transcript's chain and that the key is enrolled in it, then signs its seal statement.</summary>
    public Task<SealTranscriptResponse> SealTranscriptAsync(SealTranscriptRequest request, CallOptions options = default) =>
        Channel.UnaryAsync(DaemonMethods.SealTranscript, request, options);

    /// <summary>Audit service: Verifies the whole audit chain.</summary>
    public Task<VerifyLogResponse> VerifyLogAsync(VerifyLogRequest request, CallOptions options = default) =>
        Channel.UnaryAsync(DaemonMethods.VerifyLog, request, options);

    /// <summary>Audit service: the log entries from a sequence number on, as they are read.</summary>
    public IAsyncEnumerable<AuditEntry> ReadLogAsync(ReadLogRequest request, CallOptions options = default) =>
        Channel.ServerStreamingAsync(DaemonMethods.ReadLog, request, options);

    /// <summary>Health: whether the daemon (empty service name) or one of its services is serving.</summary>
    public Task<HealthCheckResponse> CheckHealthAsync(HealthCheckRequest request, CallOptions options = default) =>
        Channel.UnaryAsync(DaemonMethods.HealthCheck, request, options);

    /// <summary>Health: the serving status now and at each change, for as long as the call lasts.</summary>
    public IAsyncEnumerable<HealthCheckResponse> WatchHealthAsync(HealthCheckRequest request, CallOptions options = default) =>
        Channel.ServerStreamingAsync(DaemonMethods.HealthWatch, request, options);
}
