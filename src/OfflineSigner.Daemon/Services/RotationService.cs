using Google.Protobuf;
using OfflineSigner.Audit;
using OfflineSigner.Daemon.Grpc;
using OfflineSigner.Daemon.Policy;
using OfflineSigner.Protocol.V1;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Json;
using Dialect = OfflineSigner.Tuf.Dialect;

namespace OfflineSigner.Daemon.Services;

/// <summary>
/// RotationService: builds the next root (or the delegating targets role with one delegation's keys replaced) from
/// the current one and signs it with the given keys, through <see cref="SigningService"/>, so every policy rule of
/// signing applies and every signature is audited. The document is built deterministically from the request (a
/// default expiry counts from the start of the current UTC day), so a preview and the rotation that follows it see
/// the same bytes. A root rotation must be cross-signed: at least one signing key must be a key of the current root.
/// The response may be signed by fewer keys than the thresholds need: key holders sign in turn, and the warnings say
/// how many signatures each threshold still needs.
/// </summary>
public sealed class RotationService(SigningService signing, SigningPolicyOptions policy, IAuditLog audit, TimeProvider time)
{
    private static readonly Google.Protobuf.Reflection.ServiceDescriptor Descriptor = RotationReflection.Descriptor.Services.Single(s => s.Name == "RotationService");

    public void Register(IGrpcServiceRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        registry.AddUnary<RootRotationRequest, RotationResponse>(Descriptor, "PreviewRootRotation", (r, c) => Task.FromResult(RotateRoot(r, c, sign: false)));
        registry.AddUnary<RootRotationRequest, RotationResponse>(Descriptor, "RotateRoot", (r, c) => Task.FromResult(RotateRoot(r, c, sign: true)));
        registry.AddUnary<DelegationRotationRequest, RotationResponse>(Descriptor, "PreviewDelegationRotation", (r, c) => Task.FromResult(RotateDelegation(r, c, sign: false)));
        registry.AddUnary<DelegationRotationRequest, RotationResponse>(Descriptor, "RotateDelegation", (r, c) => Task.FromResult(RotateDelegation(r, c, sign: true)));
    }

    public RotationResponse RotateRoot(RootRotationRequest request, CallContext context, bool sign)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        try
        {
            return ServiceGuard.Run(audit, context, new CallFacts(request.SignWith.FirstOrDefault()?.KeyUri, "root"), () =>
            {
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
                    next.AddKey("root", key);
                }

                if (request.Threshold > 0)
                {
                    next.SetThreshold("root", request.Threshold);
                }

                next.SetVersion(current.Signed.Version + 1);
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
                var oldKeys = current.Signed.Roles["root"].KeyIds.ToHashSet(StringComparer.Ordinal);
                var newKeys = next.Roles["root"].KeyIds.ToHashSet(StringComparer.Ordinal);
                if (!previews.Any(p => oldKeys.Contains(p.KeyId)))
                {
                    throw new PolicyViolationException(
                        "cross-signature",
                        $"none of the signing keys is a key of the current root (version {current.Signed.Version}); root {next.Version} must be signed by the current root's keys (threshold {current.Signed.Roles["root"].Threshold}) as well as by its own");
                }

                var response = Respond(previews[0], bytes, dialect);
                if (sign)
                {
                    SignAll(document, requests, request.SignWith, request.ExpectedSha256, dialect, response, context);
                }

                var ids = sign ? response.SignedBy.ToList() : previews.Select(p => p.KeyId).ToList();
                response.Warnings.AddRange(Shortfall("current root", ids.Count(oldKeys.Contains), current.Signed.Roles["root"].Threshold, sign));
                response.Warnings.AddRange(Shortfall("new root", ids.Count(newKeys.Contains), next.Roles["root"].Threshold, sign));
                if (sign)
                {
                    Audit("root", next.Version, response, context);
                }

                return response;
            });
        }
        finally
        {
            foreach (var key in request.SignWith)
            {
                ServiceGuard.Wipe(key.Pin);
            }
        }
    }

    public RotationResponse RotateDelegation(DelegationRotationRequest request, CallContext context, bool sign)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        try
        {
            return ServiceGuard.Run(audit, context, new CallFacts(request.SignWith.FirstOrDefault()?.KeyUri, request.DelegatorRole), () =>
            {
                if (request.DelegatorRole != "targets")
                {
                    throw new RpcException(StatusCode.InvalidArgument, "delegator_role: only delegations of the top-level targets role can be rotated here; sign deeper delegators with SigningService");
                }

                var current = Parse<Targets>(request.Delegator, "delegator");
                var next = Parse<Targets>(request.Delegator, "delegator").Signed;
                var dialect = current.Dialect;
                var delegations = next.Delegations;
                var role = delegations?.Roles?.FirstOrDefault(r => r.Name == request.Delegation)
                    ?? throw new PolicyViolationException("delegation", $"the delegator does not delegate to '{request.Delegation}'");
                foreach (var id in request.RemoveKeyIds)
                {
                    if (!role.KeyIds.Contains(id))
                    {
                        throw new PolicyViolationException("rotation-key", $"key {id} is not a key of delegation '{request.Delegation}'; nothing to remove");
                    }
                }

                var keys = role.KeyIds.Where(id => !request.RemoveKeyIds.Contains(id)).Select(id => delegations!.Keys[id]).ToList();
                keys.AddRange(ParseKeys(request.AddKeys, dialect));
                next.SetDelegationKeys(request.Delegation, keys, request.Threshold > 0 ? request.Threshold : role.Threshold);
                next.SetVersion(current.Signed.Version + 1);
                next.SetExpires(Expiry(request.Expires, request.DelegatorRole));
                var document = Metadata<Targets>.Create(next);
                var bytes = document.ToBytes();
                var requests = request.SignWith.Select(k => new SigningRequest
                {
                    Metadata = ByteString.CopyFrom(bytes),
                    Role = request.DelegatorRole,
                    TrustedRoot = request.TrustedRoot,
                    Previous = request.Delegator,
                    KeyUri = k.KeyUri,
                }).ToList();
                var previews = Previews(requests, context);
                var response = Respond(previews[0], bytes, dialect);
                if (sign)
                {
                    SignAll(document, requests, request.SignWith, request.ExpectedSha256, dialect, response, context);
                    Audit(request.DelegatorRole, next.Version, response, context, $"delegation '{request.Delegation}' keys rotated");
                }

                return response;
            });
        }
        finally
        {
            foreach (var key in request.SignWith)
            {
                ServiceGuard.Wipe(key.Pin);
            }
        }
    }

    private List<PreviewResponse> Previews(List<SigningRequest> requests, CallContext context)
    {
        if (requests.Count == 0)
        {
            throw new RpcException(StatusCode.InvalidArgument, "sign_with must name the keys that will sign (the preview checks each of them against policy)");
        }

        return [.. requests.Select(r => signing.Preview(r, context))];
    }

    private void SignAll<T>(Metadata<T> document, List<SigningRequest> requests, Google.Protobuf.Collections.RepeatedField<SigningKey> keys, ByteString expected, Dialect dialect, RotationResponse response, CallContext context)
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

    private void Audit(string role, long version, RotationResponse response, CallContext context, string? detail = null) =>
        audit.Append(new AuditEvent(AuditEventKind.Rotated)
        {
            KeyId = string.Join(",", response.SignedBy),
            Role = role,
            Version = version,
            PayloadSha256 = Convert.ToHexStringLower(response.SignedSha256.Span),
            CallerUid = context.Uid,
            Detail = detail ?? string.Join("; ", response.Warnings.DefaultIfEmpty("thresholds met")),
        });

    private static Metadata<T> Parse<T>(ByteString bytes, string field)
        where T : Signed
    {
        try
        {
            return Metadata<T>.Parse(bytes.Span);
        }
        catch (OfflineSignerException e)
        {
            throw new PolicyViolationException("parse", $"{field} is not acceptable TUF metadata: {e.Message}", e);
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

        var today = new DateTimeOffset(time.GetUtcNow().UtcDateTime.Date, TimeSpan.Zero);
        return today + policy.MaxExpiryFor(role);
    }
}
