using Google.Protobuf.Reflection;
using OfflineSigner.Protocol.Health.V1;
using OfflineSigner.Protocol.V1;

namespace OfflineSigner.Protocol.Client;

/// <summary>
/// Every RPC the daemon's contract defines (protos/offlinesigner/v1 and grpc.health.v1), taken from the generated
/// descriptors rather than typed by hand.
/// </summary>
public static class DaemonMethods
{
    public static ServiceDescriptor KeyService { get; } = Service(KeysReflection.Descriptor, "KeyService");

    public static ServiceDescriptor SigningService { get; } = Service(SigningReflection.Descriptor, "SigningService");

    public static ServiceDescriptor RotationService { get; } = Service(RotationReflection.Descriptor, "RotationService");

    public static ServiceDescriptor AttestationService { get; } = Service(AttestationReflection.Descriptor, "AttestationService");

    public static ServiceDescriptor CeremonyService { get; } = Service(CeremonyReflection.Descriptor, "CeremonyService");

    public static ServiceDescriptor AuditService { get; } = Service(AuditReflection.Descriptor, "AuditService");

    public static ServiceDescriptor HealthService { get; } = Service(HealthReflection.Descriptor, "Health");

    public static DaemonMethod<ListBackendsRequest, ListBackendsResponse> ListBackends { get; } = Unary<ListBackendsRequest, ListBackendsResponse>(KeyService, "ListBackends");

    public static DaemonMethod<ListKeysRequest, ListKeysResponse> ListKeys { get; } = Unary<ListKeysRequest, ListKeysResponse>(KeyService, "ListKeys");

    public static DaemonMethod<GenerateKeyRequest, GenerateKeyResponse> GenerateKey { get; } = Unary<GenerateKeyRequest, GenerateKeyResponse>(KeyService, "GenerateKey");

    public static DaemonMethod<GetPublicKeyRequest, GetPublicKeyResponse> GetPublicKey { get; } = Unary<GetPublicKeyRequest, GetPublicKeyResponse>(KeyService, "GetPublicKey");

    public static DaemonMethod<SigningRequest, PreviewResponse> Preview { get; } = Unary<SigningRequest, PreviewResponse>(SigningService, "Preview");

    public static DaemonMethod<SignRequest, SignResponse> Sign { get; } = Unary<SignRequest, SignResponse>(SigningService, "Sign");

    public static DaemonMethod<SigningBatch, PreviewBatchResponse> PreviewBatch { get; } = Unary<SigningBatch, PreviewBatchResponse>(SigningService, "PreviewBatch");

    public static DaemonMethod<SignBatchRequest, SignBatchResponse> SignBatch { get; } = Unary<SignBatchRequest, SignBatchResponse>(SigningService, "SignBatch");

    public static DaemonMethod<SignRootCertificateRequest, SignRootCertificateResponse> SignRootCertificate { get; } = Unary<SignRootCertificateRequest, SignRootCertificateResponse>(SigningService, "SignRootCertificate");

    public static DaemonMethod<RootRotationRequest, RotationResponse> PreviewRootRotation { get; } = Unary<RootRotationRequest, RotationResponse>(RotationService, "PreviewRootRotation");

    public static DaemonMethod<RootRotationRequest, RotationResponse> RotateRoot { get; } = Unary<RootRotationRequest, RotationResponse>(RotationService, "RotateRoot");

    public static DaemonMethod<DelegationRotationRequest, RotationResponse> PreviewDelegationRotation { get; } = Unary<DelegationRotationRequest, RotationResponse>(RotationService, "PreviewDelegationRotation");

    public static DaemonMethod<DelegationRotationRequest, RotationResponse> RotateDelegation { get; } = Unary<DelegationRotationRequest, RotationResponse>(RotationService, "RotateDelegation");

    public static DaemonMethod<AttestRequest, AttestResponse> Attest { get; } = Unary<AttestRequest, AttestResponse>(AttestationService, "Attest");

    public static DaemonMethod<SealTranscriptRequest, SealTranscriptResponse> SealTranscript { get; } = Unary<SealTranscriptRequest, SealTranscriptResponse>(CeremonyService, "SealTranscript");

    public static DaemonMethod<ReadLogRequest, AuditEntry> ReadLog { get; } = Streaming<ReadLogRequest, AuditEntry>(AuditService, "ReadLog");

    public static DaemonMethod<VerifyLogRequest, VerifyLogResponse> VerifyLog { get; } = Unary<VerifyLogRequest, VerifyLogResponse>(AuditService, "VerifyLog");

    public static DaemonMethod<HealthCheckRequest, HealthCheckResponse> HealthCheck { get; } = Unary<HealthCheckRequest, HealthCheckResponse>(HealthService, "Check");

    public static DaemonMethod<HealthCheckRequest, HealthCheckResponse> HealthWatch { get; } = Streaming<HealthCheckRequest, HealthCheckResponse>(HealthService, "Watch");

    /// <summary>The services above, for checking that every method of the contract has a client method.</summary>
    public static IReadOnlyList<ServiceDescriptor> Services { get; } =
        [KeyService, SigningService, RotationService, AttestationService, CeremonyService, AuditService, HealthService];

    /// <summary>The <see cref="DaemonMethod{TRequest,TResponse}.FullName"/> of every method above.</summary>
    public static IReadOnlyList<string> FullNames { get; } =
    [
        ListBackends.FullName, ListKeys.FullName, GenerateKey.FullName, GetPublicKey.FullName,
        Preview.FullName, Sign.FullName, PreviewBatch.FullName, SignBatch.FullName, SignRootCertificate.FullName,
        PreviewRootRotation.FullName, RotateRoot.FullName, PreviewDelegationRotation.FullName, RotateDelegation.FullName,
        Attest.FullName, SealTranscript.FullName, ReadLog.FullName, VerifyLog.FullName, HealthCheck.FullName, HealthWatch.FullName,
    ];

    private static ServiceDescriptor Service(FileDescriptor file, string name) =>
        file.Services.SingleOrDefault(s => s.Name == name)
            ?? throw new InvalidOperationException($"{file.Name} defines no service {name}");

    private static DaemonMethod<TRequest, TResponse> Unary<TRequest, TResponse>(ServiceDescriptor service, string name)
        where TRequest : Google.Protobuf.IMessage<TRequest>
        where TResponse : Google.Protobuf.IMessage<TResponse> =>
        DaemonMethod.Find<TRequest, TResponse>(service, name, serverStreaming: false);

    private static DaemonMethod<TRequest, TResponse> Streaming<TRequest, TResponse>(ServiceDescriptor service, string name)
        where TRequest : Google.Protobuf.IMessage<TRequest>
        where TResponse : Google.Protobuf.IMessage<TResponse> =>
        DaemonMethod.Find<TRequest, TResponse>(service, name, serverStreaming: true);
}
