using System.Security.Cryptography;
using Google.Protobuf;
using OfflineSigner.Audit;
using OfflineSigner.Daemon.Grpc;
using OfflineSigner.Protocol.V1;

namespace OfflineSigner.Daemon.Services;

/// <summary>
/// AttestationService: evidence that a key was generated on its device and cannot leave it. PKCS#11 keys report
/// the token's own attributes; PIV attestation comes with the YubiKey backend.
/// </summary>
public sealed class AttestationService(KeyBackends backends, KeyDirectory keys, IAuditLog audit)
{
    private static readonly Google.Protobuf.Reflection.ServiceDescriptor Descriptor = AttestationReflection.Descriptor.Services.Single(s => s.Name == "AttestationService");

    /// <summary>Registers Attest.</summary>
    public void Register(IGrpcServiceRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        registry.AddUnary<AttestRequest, AttestResponse>(Descriptor, "Attest", (r, c) => Task.FromResult(Attest(r, c)));
    }

    public AttestResponse Attest(AttestRequest request, CallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        return ServiceGuard.Run(audit, context, new CallFacts(request.KeyUri), () =>
        {
            if (request.KeyUri.StartsWith("yubikey:", StringComparison.Ordinal))
            {
                throw new NotSupportedByBackendException("PIV attestation is not supported for this backend yet");
            }

            var key = keys.Resolve(backends, request.KeyUri);
            var info = KeyObjects.ToProto(key);
            if (key.Protection is null)
            {
                throw new NotSupportedByBackendException($"backend '{key.Backend}' reports no protection evidence for {key.Uri}");
            }

            var evidence = info.Pkcs11Protection;
            var digest = SHA256.HashData(evidence.ToByteArray());
            audit.Append(new AuditEvent(AuditEventKind.Attested)
            {
                KeyId = info.TufKeyId,
                KeyUri = key.Uri,
                PayloadSha256 = Convert.ToHexStringLower(digest),
                Backend = key.Backend,
                DeviceSerial = key.DeviceSerial,
                CallerUid = context.Uid,
                Detail = key.Violations.Count == 0 ? "meets policy" : string.Join("; ", key.Violations),
            });
            return new AttestResponse
            {
                Key = info,
                Pkcs11 = evidence,
                MeetsPolicy = key.Violations.Count == 0,
                Violations = { key.Violations },
                Summary = key.Protection.Summary(),
                EvidenceSha256 = ByteString.CopyFrom(digest),
            };
        });
    }
}
