using System.Security.Cryptography;
using Google.Protobuf;
using OfflineSigner.Audit;
using OfflineSigner.Daemon.Grpc;
using OfflineSigner.Protocol.V1;

namespace OfflineSigner.Daemon.Services;

/// <summary>
/// AttestationService: evidence that a key was generated on its device and cannot leave it. PKCS#11 keys report
/// the token's own attributes; YubiKey PIV keys return their attestation chain (slot certificate, then the device's
/// f9 certificate), verified against the backend's configured roots.
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
            if (backends.ForKey(request.KeyUri) is IAttestingBackend attesting)
            {
                return Piv(attesting.Attest(request.KeyUri), context);
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

    private AttestResponse Piv(BackendAttestation attestation, CallContext context)
    {
        keys.Remember(attestation.Key);
        var info = KeyObjects.ToProto(attestation.Key);
        var evidence = new PivAttestation
        {
            Serial = attestation.Serial,
            Firmware = attestation.Firmware,
            PinPolicy = attestation.PinPolicy,
            TouchPolicy = attestation.TouchPolicy,
            FormFactor = attestation.FormFactor,
            TrustedRootFingerprint = attestation.TrustedRootFingerprint ?? string.Empty,
        };
        evidence.CertificateChainDer.AddRange(attestation.CertificateChain.Select(ByteString.CopyFrom));
        var digest = SHA256.HashData(evidence.ToByteArray());
        audit.Append(new AuditEvent(AuditEventKind.Attested)
        {
            KeyId = info.TufKeyId,
            KeyUri = attestation.Key.Uri,
            PayloadSha256 = Convert.ToHexStringLower(digest),
            Backend = attestation.Key.Backend,
            DeviceSerial = attestation.Key.DeviceSerial,
            CallerUid = context.Uid,
            Detail = attestation.Violations.Count == 0 ? "meets policy" : string.Join("; ", attestation.Violations),
        });
        return new AttestResponse
        {
            Key = info,
            Piv = evidence,
            MeetsPolicy = attestation.Violations.Count == 0,
            Violations = { attestation.Violations },
            Summary = attestation.Summary,
            EvidenceSha256 = ByteString.CopyFrom(digest),
        };
    }
}
