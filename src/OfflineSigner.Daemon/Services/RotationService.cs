using Google.Protobuf;
using Google.Protobuf.Collections;
using OfflineSigner.Audit;
using OfflineSigner.Daemon.Grpc;
using OfflineSigner.Daemon.Policy;
using OfflineSigner.Protocol.V1;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Json;
using Dialect = OfflineSigner.Tuf.Dialect;

namespace OfflineSigner.Daemon.Services;

/// <summary>
/// RotationService: builds the next root (or a delegating targets role with one delegation's keys replaced) from
/// the current one and signs it with the given keys, through <see cref="SigningService"/>, so every policy rule of
/// signing applies and every signature is audited. The document is built deterministically from the request (a
/// default expiry counts from the start of the current UTC day), so a preview and the rotation that follows it see
/// the same bytes. A root rotation must be cross-signed: at least one signing key must be a key of the current root.
/// The response may be signed by fewer keys than the thresholds need: key holders sign in turn, and the response
/// says how many signatures each threshold still needs.
/// </summary>
public sealed class RotationService(SigningService signing, SigningPolicyOptions policy, IAuditLog audit, TimeProvider time)
{
    private static readonly Google.Protobuf.Reflection.ServiceDescriptor Descriptor = RotationReflection.Descriptor.Services.Single(s => s.Name == "RotationService");

    /// <summary>Registers the previews and the rotations.</summary>
    public void Register(IGrpcServiceRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        registry.AddUnary<RootRotationRequest, RotationResponse>(Descriptor, "PreviewRootRotation", (r, c) => Task.FromResult(RotateRoot(r, c, sign: false)));
        registry.AddUnary<RootRotationRequest, RotationResponse>(Descriptor, "RotateRoot", (r, c) => Task.FromResult(RotateRoot(r, c, sign: true)));
        registry.AddUnary<DelegationRotationRequest, RotationResponse>(Descriptor, "PreviewDelegationRotation", (r, c) => Task.FromResult(RotateDelegation(r, c, sign: false)));
        registry.AddUnary<DelegationRotationRequest, RotationResponse>(Descriptor, "RotateDelegation", (r, c) => Task.FromResult(RotateDelegation(r, c, sign: true)));
    }

    /// <summary>Builds root N+1 from <see cref="RootRotationRequest.CurrentRoot"/>; signs it when <paramref name="sign"/>.</summary>
    public RotationResponse RotateRoot(RootRotationRequest request, CallContext context, bool sign)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        try
        {
            return ServiceGuard.Run(audit, context, new CallFacts(request.SignWith.FirstOrDefault()?.KeyUri, "root"), () =>
            {
                CheckSigners(request.SignWith);
                var current = Parse<Root>(request.CurrentRoot, "current_root");
                var next = Parse<Root>(request.CurrentRoot, "current_root").Signed;
                var dialect = current.Dialect;
                foreach (var id in request.RemoveKeyIds)
                {
                    if (!next.Roles["root"].KeyIds.Contains(id))
                    {
                        throw new PolicyViolationException("rotation-key", $"key {id} is not a key of the root role; nothing to remove");
                    }

                    next.RemoveKey("root", id);
                }

                foreach (var key in ParseKeys(request.AddKeys, dialect))
                {
                    if (next.Roles["root"].KeyIds.Contains(key.KeyId))
                    {
                        throw new PolicyViolationException("duplicate-key", $"key {key.KeyId} is already a key of the root role");
                    }

                    next.AddKey("root", key);
                }

                SetThreshold(request.Threshold, t => next.SetThreshold("root", t));
                next.SetVersion(NextVersion(request.Version, current.Signed.Version));
                next.SetExpires(Expiry(request.Expires, "root"));
                var document = Metadata<Root>.Create(next);
                var bytes = document.ToBytes();
                var requests = request.SignWith.Select(k => new SigningRequest
                {
                    Metadata = ByteString.CopyFrom(bytes),
                    Role = "root",
                    TrustedRoot = request.CurrentRoot,
                    Previous = request.CurrentRoot,
                    KeyUri = k.KeyUri,
                    Gun = request.Gun,
                }).ToList();
                var previews = Previews(requests, context);
                var oldRole = current.Signed.Roles["root"];
                var newRole = next.Roles["root"];
                if (!previews.Any(p => oldRole.KeyIds.Contains(p.KeyId)))
                {
                    throw new PolicyViolationException(
                        "cross-signature",
                        $"none of the signing keys is a key of the current root (version {current.Signed.Version}); root {next.Version} must be signed by the current root's keys (threshold {oldRole.Threshold}) as well as by its own");
                }

                var response = Respond(previews[0], bytes, dialect);
                int byOld, byNew;
                if (sign)
                {
                    SignAll(document, requests, request.SignWith, request.ExpectedSha256, dialect, response, context);

                    // Counted on the document itself: only signatures that verify count, one per public key.
                    byOld = Verifier.Verify("root", oldRole, current.Signed.Keys, document).Signers.Count;
                    byNew = Verifier.Verify("root", newRole, next.Keys, document).Signers.Count;
                }
                else
                {
                    var ids = previews.Select(p => p.KeyId).ToList();
                    byOld = ids.Count(oldRole.KeyIds.Contains);
                    byNew = ids.Count(newRole.KeyIds.Contains);
                }

                response.CrossSignaturesNeeded = Math.Max(0, oldRole.Threshold - byOld);
                response.SignaturesNeeded = Math.Max(0, newRole.Threshold - byNew);
                response.Warnings.AddRange(Shortfall($"current root (version {current.Signed.Version})", byOld, oldRole.Threshold, sign));
                response.Warnings.AddRange(Shortfall($"new root (version {next.Version})", byNew, newRole.Threshold, sign));
                if (sign)
                {
                    Audit("root", next.Version, response, request.SignWith, context, null);
                }

                return response;
            });
        }
        finally
        {
            WipePins(request.SignWith);
        }
    }

    /// <summary>
    /// Builds the delegating role <see cref="DelegationRotationRequest.DelegatorRole"/> with the keys of one delegation
    /// replaced; signs it with the delegating role's keys when <paramref name="sign"/>.
    /// </summary>
    public RotationResponse RotateDelegation(DelegationRotationRequest request, CallContext context, bool sign)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        try
        {
            return ServiceGuard.Run(audit, context, new CallFacts(request.SignWith.FirstOrDefault()?.KeyUri, request.DelegatorRole), () =>
            {
                var delegatorRole = request.DelegatorRole;
                var topLevel = delegatorRole == "targets";
                if (string.IsNullOrEmpty(delegatorRole) || (!topLevel && Root.TopLevelRoles.Contains(delegatorRole, StringComparer.Ordinal)))
                {
                    throw new RpcException(StatusCode.InvalidArgument, "delegator_role must be \"targets\" or the name of a delegated targets role");
                }

                if (topLevel != request.DelegatorParent.IsEmpty)
                {
                    throw new RpcException(
                        StatusCode.InvalidArgument,
                        topLevel
                            ? "delegator_parent must be empty when the delegator is the top-level targets role (the trusted root lists its keys)"
                            : $"delegator_parent must be the targets metadata that delegates to '{delegatorRole}' (it lists the keys that sign it)");
                }

                CheckSigners(request.SignWith);
                var current = Parse<Targets>(request.Delegator, "delegator");
                var next = Parse<Targets>(request.Delegator, "delegator").Signed;
                var dialect = current.Dialect;
                var delegations = next.Delegations;
                var role = delegations?.Roles?.FirstOrDefault(r => r.Name == request.Delegation)
                    ?? throw new PolicyViolationException("delegation", $"'{delegatorRole}' does not delegate to '{request.Delegation}' by name");
                foreach (var id in request.RemoveKeyIds)
                {
                    if (!role.KeyIds.Contains(id))
                    {
                        throw new PolicyViolationException("rotation-key", $"key {id} is not a key of delegation '{request.Delegation}'; nothing to remove");
                    }
                }

                var keys = role.KeyIds.Where(id => !request.RemoveKeyIds.Contains(id)).Select(id => delegations!.Keys[id]).ToList();
                foreach (var key in ParseKeys(request.AddKeys, dialect))
                {
                    if (keys.Any(k => k.KeyId == key.KeyId))
                    {
                        throw new PolicyViolationException("duplicate-key", $"key {key.KeyId} is already a key of delegation '{request.Delegation}'");
                    }

                    keys.Add(key);
                }

                var threshold = role.Threshold;
                SetThreshold(request.Threshold, t => threshold = t);
                next.SetDelegationKeys(request.Delegation, keys, threshold);
                next.SetVersion(NextVersion(request.Version, current.Signed.Version));
                next.SetExpires(Expiry(request.Expires, delegatorRole));
                var document = Metadata<Targets>.Create(next);
                var bytes = document.ToBytes();
                var requests = request.SignWith.Select(k => new SigningRequest
                {
                    Metadata = ByteString.CopyFrom(bytes),
                    Role = delegatorRole,
                    TrustedRoot = request.TrustedRoot,
                    Previous = request.Delegator,
                    Delegator = request.DelegatorParent,
                    KeyUri = k.KeyUri,
                }).ToList();

                // The gate checks the trusted root (or the parent) and finds every key in the delegating role.
                var previews = Previews(requests, context);
                var (signerRole, signerKeys) = SignerRole(request, topLevel);
                var response = Respond(previews[0], bytes, dialect);
                var count = previews.Select(p => p.KeyId).Count(signerRole.KeyIds.Contains);
                if (sign)
                {
                    SignAll(document, requests, request.SignWith, request.ExpectedSha256, dialect, response, context);
                    count = Verifier.Verify(delegatorRole, signerRole, signerKeys, document).Signers.Count;
                }

                response.SignaturesNeeded = Math.Max(0, signerRole.Threshold - count);
                response.Warnings.AddRange(Shortfall($"{delegatorRole} (version {next.Version})", count, signerRole.Threshold, sign));
                if (sign)
                {
                    Audit(delegatorRole, next.Version, response, request.SignWith, context, $"delegation '{request.Delegation}' keys rotated");
                }

                return response;
            });
        }
        finally
        {
            WipePins(request.SignWith);
        }
    }

    // The role whose keys sign the delegator: targets in the trusted root, or the delegator's own delegation in its
    // parent. The gate has already accepted both documents for every signing key.
    private static (Tuf.Role Role, IReadOnlyDictionary<string, Key> Keys) SignerRole(DelegationRotationRequest request, bool topLevel)
    {
        if (topLevel)
        {
            var root = Parse<Root>(request.TrustedRoot, "trusted_root").Signed;
            return (root.Roles["targets"], root.Keys);
        }

        var parent = Parse<Targets>(request.DelegatorParent, "delegator_parent").Signed;
        var delegations = parent.Delegations ?? throw new PolicyViolationException("delegator", "delegator_parent has no delegations");
        var role = delegations.FindRole(request.DelegatorRole)
            ?? throw new PolicyViolationException("delegator", $"delegator_parent does not delegate to '{request.DelegatorRole}'");
        return (role, delegations.Keys);
    }

    private static void CheckSigners(RepeatedField<SigningKey> keys)
    {
        if (keys.Count == 0)
        {
            throw new RpcException(StatusCode.InvalidArgument, "sign_with must name the keys that will sign (the preview checks each of them against policy)");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var key in keys)
        {
            if (!seen.Add(KeyDirectory.Normalize(key.KeyUri)))
            {
                throw new RpcException(StatusCode.InvalidArgument, $"sign_with names {key.KeyUri} twice");
            }
        }
    }

    private List<PreviewResponse> Previews(List<SigningRequest> requests, CallContext context)
    {
        List<PreviewResponse> previews = [.. requests.Select(r => signing.Preview(r, context))];
        var twice = previews.GroupBy(p => p.KeyId, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (twice is not null)
        {
            throw new RpcException(StatusCode.InvalidArgument, $"sign_with names key {twice.Key} twice (under different URIs)");
        }

        return previews;
    }

    private void SignAll<T>(Metadata<T> document, List<SigningRequest> requests, RepeatedField<SigningKey> keys, ByteString expected, Dialect dialect, RotationResponse response, CallContext context)
        where T : Signed
    {
        if (expected.Length == 0)
        {
            throw new RpcException(StatusCode.InvalidArgument, "expected_sha256 must be the signed_sha256 of the preview");
        }

        for (var i = 0; i < requests.Count; i++)
        {
            var signed = signing.Sign(new SignRequest { Request = requests[i], ExpectedSha256 = expected, Pin = keys[i].Pin }, context);
            document.AddSignature(Tuf.Signature.Create(signed.KeyId, signed.Signature.ToByteArray(), signed.Method.Length == 0 ? null : signed.Method, dialect));
            response.SignedBy.Add(signed.KeyId);
        }

        response.Metadata = ByteString.CopyFrom(document.ToBytes());
    }

    private static RotationResponse Respond(PreviewResponse preview, byte[] unsigned, Dialect dialect) => new()
    {
        Metadata = ByteString.CopyFrom(unsigned),
        Summary = preview.Summary,
        Changes = { preview.Changes },
        SignedSha256 = preview.SignedSha256,
        Warnings = { preview.Warnings },
        Dialect = dialect == Dialect.Notary ? Protocol.V1.Dialect.Notary : Protocol.V1.Dialect.Tuf,
    };

    private static IEnumerable<string> Shortfall(string which, int have, int threshold, bool signed)
    {
        if (have < threshold)
        {
            yield return $"{which}: {have} of the {threshold} signatures its threshold needs {(signed ? "are made" : "would be made")}; {threshold - have} more key holder(s) must sign";
        }
    }

    private void Audit(string role, long version, RotationResponse response, RepeatedField<SigningKey> keys, CallContext context, string? detail) =>
        audit.Append(new AuditEvent(AuditEventKind.Rotated)
        {
            KeyId = string.Join(",", response.SignedBy),
            KeyUri = string.Join(",", keys.Select(k => k.KeyUri)),
            Role = role,
            Version = version,
            PayloadSha256 = Convert.ToHexStringLower(response.SignedSha256.Span),
            CallerUid = context.Uid,
            Detail = string.Join("; ", new[] { detail }.Concat(response.Warnings).OfType<string>().DefaultIfEmpty("thresholds met")),
        });

    private static void WipePins(RepeatedField<SigningKey> keys)
    {
        foreach (var key in keys)
        {
            ServiceGuard.Wipe(key.Pin);
        }
    }

    private static void SetThreshold(int requested, Action<int> set)
    {
        if (requested < 0)
        {
            throw new RpcException(StatusCode.InvalidArgument, "threshold must not be negative (0 keeps the current one)");
        }

        if (requested > 0)
        {
            set(requested);
        }
    }

    // The gate judges the version against the current one (rollback, version-step); only the shape is checked here.
    private static long NextVersion(long requested, long current) =>
        requested switch
        {
            0 => current + 1,
            < 0 => throw new RpcException(StatusCode.InvalidArgument, "version must not be negative (0: the current version + 1)"),
            _ => requested,
        };

    private static Metadata<T> Parse<T>(ByteString bytes, string field)
        where T : Signed
    {
        try
        {
            return Metadata<T>.Parse(bytes.Span);
        }
        catch (Exception e) when (e is OfflineSignerException or InvalidCastException)
        {
            throw new PolicyViolationException("parse", $"{field} is not acceptable {typeof(T).Name.ToLowerInvariant()} metadata: {e.Message}", e);
        }
    }

    private static List<Key> ParseKeys(IEnumerable<string> keys, Dialect dialect)
    {
        var result = new List<Key>();
        var i = 0;
        foreach (var text in keys)
        {
            try
            {
                result.Add(Key.FromJson(Tuf.Json.JsonParser.Parse(text, CanonicalJson.ReadBackOptions) as JsonObject ?? throw new FormatException("not a JSON object"), dialect));
            }
            catch (Exception e) when (e is OfflineSignerException or FormatException or ArgumentException)
            {
                throw new RpcException(StatusCode.InvalidArgument, $"add_keys[{i}] is not a key object of this dialect: {e.Message}");
            }

            i++;
        }

        return result;
    }

    private DateTimeOffset Expiry(string given, string role)
    {
        if (given.Length > 0)
        {
            return Rfc3339.TryParse(given, out var expires)
                ? expires
                : throw new RpcException(StatusCode.InvalidArgument, $"expires '{given}' is not an RFC 3339 time like 2027-01-31T00:00:00Z");
        }

        // The limit the gate applies: delegated roles share the "delegated" entry.
        var limitRole = Root.TopLevelRoles.Contains(role, StringComparer.Ordinal) ? role : "delegated";
        var today = new DateTimeOffset(time.GetUtcNow().UtcDateTime.Date, TimeSpan.Zero);
        return today + policy.MaxExpiryFor(limitRole);
    }
}
