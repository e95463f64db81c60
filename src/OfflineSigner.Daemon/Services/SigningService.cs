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
    /// <summary>The most documents one PreviewBatch or SignBatch may carry.</summary>
    public const int MaxBatchItems = 1024;

    private static readonly Google.Protobuf.Reflection.ServiceDescriptor Descriptor = SigningReflection.Descriptor.Services.Single(s => s.Name == "SigningService");

    /// <summary>Registers Preview, Sign and SignRootCertificate.</summary>
    public void Register(IGrpcServiceRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        registry.AddUnary<SigningRequest, PreviewResponse>(Descriptor, "Preview", (r, c) => Task.FromResult(Preview(r, c)));
        registry.AddUnary<SignRequest, SignResponse>(Descriptor, "Sign", (r, c) => Task.FromResult(Sign(r, c)));
        registry.AddUnary<SigningBatch, PreviewBatchResponse>(Descriptor, "PreviewBatch", (r, c) => Task.FromResult(PreviewBatch(r, c)));
        registry.AddUnary<SignBatchRequest, SignBatchResponse>(Descriptor, "SignBatch", (r, c) => Task.FromResult(SignBatch(r, c)));
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

    /// <summary>Preview for every document of a batch: each gated as <see cref="Preview"/> gates it; one refusal refuses all.</summary>
    public PreviewBatchResponse PreviewBatch(SigningBatch batch, CallContext context)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(context);
        return ServiceGuard.Run(audit, context, new CallFacts(batch.KeyUri, BatchRoles(batch)), () =>
        {
            CheckBatch(batch);
            var key = keys.Resolve(backends, batch.KeyUri);
            var decisions = EvaluateBatch(batch, PublicKey.FromSubjectPublicKeyInfo(key.SubjectPublicKeyInfo), context);
            var now = time.GetUtcNow();
            var response = new PreviewBatchResponse();
            response.Previews.AddRange(Parallelism.Map(decisions.Length, i =>
            {
                var decision = decisions[i];
                var role = batch.Items[i].Role;
                var preview = new PreviewResponse
                {
                    Role = role,
                    Version = decision.Metadata.Signed.Version,
                    Dialect = KeyObjects.ToProto(decision.Metadata.Dialect),
                    Summary = MetadataSummary.Describe(decision.Metadata, now, role),
                    SignedSha256 = ByteString.CopyFrom(decision.SignedSha256),
                    KeyId = decision.SigningKey.KeyId,
                    Warnings = { decision.Warnings },
                };
                if (decision.Previous is { } previous)
                {
                    preview.Changes.AddRange(MetadataSummary.Changes(previous, decision.Metadata));
                }

                return preview;
            }));

            return response;
        });
    }

    /// <summary>
    /// Sign for every document of a batch, all or nothing: every item is gated and its digest checked before the login,
    /// then each is signed and checked, and their audit entries are made durable together before any signature leaves.
    /// </summary>
    public SignBatchResponse SignBatch(SignBatchRequest request, CallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        var batch = request.Batch ?? throw new RpcException(StatusCode.InvalidArgument, "the sign request carries no batch");
        try
        {
            return ServiceGuard.Run(audit, context, new CallFacts(batch.KeyUri, BatchRoles(batch)), () =>
            {
                CheckBatch(batch);
                if (request.ExpectedSha256.Count != batch.Items.Count)
                {
                    throw new ArgumentException($"the batch has {batch.Items.Count} items but {request.ExpectedSha256.Count} expected digests: one per item, in order");
                }

                for (var i = 0; i < request.ExpectedSha256.Count; i++)
                {
                    if (request.ExpectedSha256[i].Length != SHA256.HashSizeInBytes)
                    {
                        throw new ArgumentException($"expected_sha256 of item {i} must be the 32-byte digest PreviewBatch returned");
                    }
                }

                var backend = backends.ForKey(batch.KeyUri);
                var known = keys.Find(batch.KeyUri);
                GateDecision[]? early = null;
                if (known is not null)
                {
                    // Refuse before any login when a document cannot pass: a refused batch never costs a PIN try.
                    early = EvaluateBatch(batch, PublicKey.FromSubjectPublicKeyInfo(known.SubjectPublicKeyInfo), context);
                    CheckDigests(batch, early, request);
                }

                using var signer = backend.OpenSigner(batch.KeyUri, request.Pin.Span);
                var decisions = early is not null && signer.SubjectPublicKeyInfo.Span.SequenceEqual(known!.SubjectPublicKeyInfo)
                    ? early
                    : EvaluateBatch(batch, PublicKey.FromSubjectPublicKeyInfo(signer.SubjectPublicKeyInfo.Span), context);
                if (!ReferenceEquals(decisions, early))
                {
                    CheckDigests(batch, decisions, request);
                }

                // The token signs one document after another; every signature is then checked against the key the
                // document's role lists, on every core, before any leaves (MetadataSigner.SignAll).
                (byte[] Signature, string? Method)[] made;
                try
                {
                    made = MetadataSigner.SignAll(signer, [.. decisions.Select(d => new SigningItem(d.Metadata.Dialect, d.SigningKey.Json, d.SignedBytes))], context.CancellationToken);
                }
                catch (SigningException e)
                {
                    throw new SigningException($"{e.Message} (signing with {batch.KeyUri}); no signature of the batch is returned", e);
                }

                var response = new SignBatchResponse();
                var events = new List<AuditEvent>(decisions.Length);
                for (var i = 0; i < decisions.Length; i++)
                {
                    var decision = decisions[i];
                    var dialect = decision.Metadata.Dialect;
                    var listed = decision.SigningKey;
                    var (signature, method) = made[i];
                    events.Add(new AuditEvent(AuditEventKind.Signed)
                    {
                        KeyId = listed.KeyId,
                        KeyUri = batch.KeyUri,
                        Role = batch.Items[i].Role,
                        Version = decision.Metadata.Signed.Version,
                        PayloadSha256 = Convert.ToHexStringLower(decision.SignedSha256),
                        Backend = backend.Name,
                        DeviceSerial = known?.DeviceSerial,
                        CallerUid = context.Uid,
                    });
                    response.Signatures.Add(new SignResponse
                    {
                        KeyId = listed.KeyId,
                        Signature = ByteString.CopyFrom(signature),
                        Method = method ?? string.Empty,
                        SignatureJson = System.Text.Encoding.UTF8.GetString(JsonText.Serialize(Tuf.Signature.Create(listed.KeyId, signature, method, dialect).Json)),
                        SignedSha256 = ByteString.CopyFrom(decision.SignedSha256),
                    });
                }

                // Every signature of the batch is on record before any of them is released.
                audit.AppendAll(events);
                return response;
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

    private static string? BatchRoles(SigningBatch batch) => batch.Items.Count switch
    {
        0 => null,
        1 => batch.Items[0].Role,
        _ => $"{batch.Items[0].Role} (+{batch.Items.Count - 1} more)",
    };

    private static void CheckBatch(SigningBatch batch)
    {
        if (batch.Items.Count == 0)
        {
            throw new ArgumentException("the batch carries no items");
        }

        if (batch.Items.Count > MaxBatchItems)
        {
            throw new ArgumentException($"the batch carries {batch.Items.Count} items; a batch carries at most {MaxBatchItems}");
        }
    }

    /// <summary>Gates every item of the batch, in order; the first refusal names its item and refuses the batch.</summary>
    private GateDecision[] EvaluateBatch(SigningBatch batch, PublicKey signerKey, CallContext context)
    {
        var shared = new GateContext(batch.TrustedRoot.Memory, batch.Delegator.Memory);
        var keyUri = KeyDirectory.Normalize(batch.KeyUri);
        var gun = string.IsNullOrEmpty(batch.Gun) ? null : batch.Gun;
        return Parallelism.Map(batch.Items.Count, i =>
        {
            context.CancellationToken.ThrowIfCancellationRequested();
            var item = batch.Items[i];
            var input = new SigningInput(item.Metadata.Memory, item.Role, batch.TrustedRoot.Memory, item.Previous.Memory, batch.Delegator.Memory, keyUri, gun);
            try
            {
                return gate.Evaluate(input, signerKey, shared);
            }
            catch (PolicyViolationException e)
            {
                throw new PolicyViolationException(e.Rule, $"item {i} ({(item.Role.Length > 0 ? item.Role : "no role")}): {e.Reason}; nothing in the batch is signed", e);
            }
        });
    }

    private static void CheckDigests(SigningBatch batch, GateDecision[] decisions, SignBatchRequest request)
    {
        for (var i = 0; i < decisions.Length; i++)
        {
            try
            {
                CheckDigest(decisions[i], request.ExpectedSha256[i].Span);
            }
            catch (PolicyViolationException e)
            {
                throw new PolicyViolationException(e.Rule, $"item {i} ({batch.Items[i].Role}): {e.Reason}; nothing in the batch is signed", e);
            }
        }
    }

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
