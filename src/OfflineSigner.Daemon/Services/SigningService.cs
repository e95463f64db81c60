using System.Security.Cryptography;
using Google.Protobuf;
using OfflineSigner.Audit;
using OfflineSigner.Daemon.Grpc;
using OfflineSigner.Daemon.Policy;
using OfflineSigner.Protocol.V1;
using OfflineSigner.Signing;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Crypto;
using OfflineSigner.Tuf.Json;

namespace OfflineSigner.Daemon.Services;

/// <summary>
/// SigningService: signing is never blind. Preview and Sign run the same <see cref="SigningGate"/> on the same bytes;
/// Sign refuses unless the operator presents the digest Preview showed.
/// </summary>
public sealed class SigningService(KeyBackends backends, KeyDirectory keys, SigningGate gate, IAuditLog audit, TimeProvider time)
{
    private static readonly Google.Protobuf.Reflection.ServiceDescriptor Descriptor = SigningReflection.Descriptor.Services.Single(s => s.Name == "SigningService");

    /// <summary>Registers Preview, Sign and SignRootCertificate.</summary>
    public void Register(IGrpcServiceRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        registry.AddUnary<SigningRequest, PreviewResponse>(Descriptor, "Preview", (r, c) => Task.FromResult(Preview(r, c)));
        registry.AddUnary<SignRequest, SignResponse>(Descriptor, "Sign", (r, c) => Task.FromResult(Sign(r, c)));
        registry.AddUnary<SignRootCertificateRequest, SignRootCertificateResponse>(Descriptor, "SignRootCertificate", (r, c) => Task.FromResult(SignRootCertificate(r, c)));
    }

    /// <summary>Checks the request and describes exactly what Sign would sign.</summary>
    public PreviewResponse Preview(SigningRequest request, CallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        return ServiceGuard.Run(audit, context, new CallFacts(request.KeyUri, request.Role), () =>
        {
            var key = keys.Resolve(backends, request.KeyUri);
            var decision = gate.Evaluate(Input(request), PublicKey.FromSubjectPublicKeyInfo(key.SubjectPublicKeyInfo));
            var response = new PreviewResponse
            {
                Role = request.Role,
                Version = decision.Metadata.Signed.Version,
                Dialect = KeyObjects.ToProto(decision.Metadata.Dialect),
                Summary = MetadataSummary.Describe(decision.Metadata, time.GetUtcNow(), request.Role),
                SignedSha256 = ByteString.CopyFrom(decision.SignedSha256),
                KeyId = decision.SigningKey.KeyId,
                Warnings = { decision.Warnings },
            };
            if (decision.Previous is { } previous)
            {
                response.Changes.AddRange(MetadataSummary.Changes(previous, decision.Metadata));
            }

            return response;
        });
    }

    /// <summary>Re-runs the gate, checks the digest the operator saw, and signs with the PIN given (wiped afterwards).</summary>
    public SignResponse Sign(SignRequest request, CallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        var signing = request.Request ?? throw new RpcException(StatusCode.InvalidArgument, "the sign request carries no signing request");
        try
        {
            return ServiceGuard.Run(audit, context, new CallFacts(signing.KeyUri, signing.Role), () =>
            {
                if (request.ExpectedSha256.Length != SHA256.HashSizeInBytes)
                {
                    throw new ArgumentException("expected_sha256 must be the 32-byte digest Preview returned");
                }

                var backend = backends.ForKey(signing.KeyUri);
                var known = keys.Find(signing.KeyUri);
                GateDecision? early = null;
                if (known is not null)
                {
                    // Refuse before any login when the document cannot pass: a refused request never costs a PIN try.
                    early = gate.Evaluate(Input(signing), PublicKey.FromSubjectPublicKeyInfo(known.SubjectPublicKeyInfo));
                    CheckDigest(early, request.ExpectedSha256.Span);
                }

                using var signer = backend.OpenSigner(signing.KeyUri, request.Pin.Span);

                // The gate's decision depends on the request and the signer's public key only: when the token's key is
                // the one the early evaluation was made for, that decision stands; otherwise the gate runs again.
                var decision = early is not null && signer.SubjectPublicKeyInfo.Span.SequenceEqual(known!.SubjectPublicKeyInfo)
                    ? early
                    : gate.Evaluate(Input(signing), PublicKey.FromSubjectPublicKeyInfo(signer.SubjectPublicKeyInfo.Span));
                CheckDigest(decision, request.ExpectedSha256.Span);

                var dialect = decision.Metadata.Dialect;
                var (signature, method) = MetadataSigner.Sign(signer, dialect, decision.SigningKey.Json, decision.SignedBytes);
                var listed = decision.SigningKey;
                if (!SignatureVerifier.Verify(listed.PublicKey!, dialect, listed.KeyType, listed.Scheme, method, decision.SignedBytes, signature))
                {
                    throw new SigningException($"the signature made with {signing.KeyUri} does not verify against key {listed.KeyId}");
                }

                var signatureObject = Tuf.Signature.Create(listed.KeyId, signature, method, dialect);
                var sha = Convert.ToHexStringLower(decision.SignedSha256);
                audit.Append(new AuditEvent(AuditEventKind.Signed)
                {
                    KeyId = listed.KeyId,
                    KeyUri = signing.KeyUri,
                    Role = signing.Role,
                    Version = decision.Metadata.Signed.Version,
                    PayloadSha256 = sha,
                    Backend = backend.Name,
                    DeviceSerial = known?.DeviceSerial,
                    CallerUid = context.Uid,
                });
                return new SignResponse
                {
                    KeyId = listed.KeyId,
                    Signature = ByteString.CopyFrom(signature),
                    Method = method ?? string.Empty,
                    SignatureJson = System.Text.Encoding.UTF8.GetString(JsonText.Serialize(signatureObject.Json)),
                    SignedSha256 = ByteString.CopyFrom(decision.SignedSha256),
                };
            });
        }
        finally
        {
            ServiceGuard.Wipe(request.Pin);
        }
    }

    /// <summary>Notary's dialect: a self-signed root certificate (CN = GUN) made with a key allowed to sign root.</summary>
    public SignRootCertificateResponse SignRootCertificate(SignRootCertificateRequest request, CallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        try
        {
            return ServiceGuard.Run(audit, context, new CallFacts(request.KeyUri, "root"), () =>
            {
                if (string.IsNullOrWhiteSpace(request.Gun))
                {
                    throw new PolicyViolationException("notary-gun", "a notary root certificate needs the repository's GUN");
                }

                if (request.ValidityDays < 0)
                {
                    throw new ArgumentException("validity_days must not be negative");
                }

                var validity = TimeSpan.FromDays(request.ValidityDays == 0 ? 3650 : request.ValidityDays);
                gate.CheckRootCertificate(request.KeyUri, validity);
                var backend = backends.ForKey(request.KeyUri);
                using var signer = backend.OpenSigner(request.KeyUri, request.Pin.Span);
                using var certificate = NotaryRootCertificateBuilder.Build(signer, request.Gun, time.GetUtcNow(), validity);
                var keyObject = KeyFormats.EncodeNotaryCertificate(certificate);
                var keyId = KeyFormats.ComputeKeyId(keyObject);
                var der = certificate.RawData;
                audit.Append(new AuditEvent(AuditEventKind.Signed)
                {
                    KeyId = keyId,
                    KeyUri = request.KeyUri,
                    Role = "root",
                    PayloadSha256 = Convert.ToHexStringLower(SHA256.HashData(der)),
                    Backend = backend.Name,
                    CallerUid = context.Uid,
                    Detail = "notary root certificate for " + request.Gun,
                });
                return new SignRootCertificateResponse
                {
                    CertificateDer = ByteString.CopyFrom(der),
                    KeyJson = System.Text.Encoding.UTF8.GetString(CanonicalJson.Serialize(keyObject)),
                    KeyId = keyId,
                };
            });
        }
        finally
        {
            ServiceGuard.Wipe(request.Pin);
        }
    }

    private static SigningInput Input(SigningRequest request) => new(
        request.Metadata.Memory,
        request.Role,
        request.TrustedRoot.Memory,
        request.Previous.Memory,
        request.Delegator.Memory,
        KeyDirectory.Normalize(request.KeyUri),
        string.IsNullOrEmpty(request.Gun) ? null : request.Gun);

    private static void CheckDigest(GateDecision decision, ReadOnlySpan<byte> expected)
    {
        if (!CryptographicOperations.FixedTimeEquals(decision.SignedSha256, expected))
        {
            throw new PolicyViolationException(
                "digest-mismatch",
                $"the document's signed bytes have SHA-256 {Convert.ToHexStringLower(decision.SignedSha256)}, not the {Convert.ToHexStringLower(expected)} the request expects: preview again");
        }
    }
}
