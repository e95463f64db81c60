using System.Security.Cryptography;
using Google.Protobuf;
using OfflineSigner.Audit;
using OfflineSigner.Ceremony.Transcripts;
using OfflineSigner.Daemon.Grpc;
using OfflineSigner.Daemon.Policy;
using OfflineSigner.Protocol.V1;
using OfflineSigner.Signing;
using OfflineSigner.Tuf.Crypto;
using OfflineSigner.Tuf.Json;
using Dialect = OfflineSigner.Tuf.Dialect;
using JsonParser = OfflineSigner.Tuf.Json.JsonParser;

namespace OfflineSigner.Daemon.Services;

/// <summary>
/// CeremonyService: the seal of a ceremony transcript (docs/ceremony.md "Seal"). The daemon does not sign blind: it
/// verifies the transcript's hash chain, requires the sealing key to be one the ceremony enrolled and the ceremony
/// not to have failed, builds the seal statement itself over the transcript's last line, and signs that.
/// </summary>
public sealed class CeremonyService(KeyBackends backends, KeyDirectory keys, IAuditLog audit)
{
    private const string Rule = "ceremony-seal";
    private static readonly Google.Protobuf.Reflection.ServiceDescriptor Descriptor = CeremonyReflection.Descriptor.Services.Single(s => s.Name == "CeremonyService");

    /// <summary>Registers SealTranscript.</summary>
    public void Register(IGrpcServiceRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        registry.AddUnary<SealTranscriptRequest, SealTranscriptResponse>(Descriptor, "SealTranscript", (r, c) => Task.FromResult(SealTranscript(r, c)));
    }

    /// <summary>Checks the transcript and signs the seal statement over its last line with the enrolled key.</summary>
    public SealTranscriptResponse SealTranscript(SealTranscriptRequest request, CallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        try
        {
            return ServiceGuard.Run(audit, context, new CallFacts(request.KeyUri, Rule), () =>
            {
                var facts = Check(request.Transcript.Span, request.SealedAt);
                var backend = backends.ForKey(request.KeyUri);
                var known = keys.Find(request.KeyUri);
                if (known is not null)
                {
                    // Refuse before any login: a key the ceremony did not enroll never costs a PIN try.
                    RequireEnrolled(facts, PublicKey.FromSubjectPublicKeyInfo(known.SubjectPublicKeyInfo));
                }

                using var signer = backend.OpenSigner(request.KeyUri, request.Pin.Span);
                var key = PublicKey.FromSubjectPublicKeyInfo(signer.SubjectPublicKeyInfo.Span);
                RequireEnrolled(facts, key);
                var keyObject = KeyFormats.Encode(key, Dialect.TufSpecification);
                var keyId = KeyFormats.ComputeKeyId(keyObject);
                var statement = SealStatement.Bytes(facts.CeremonyId, facts.CoversSeq, facts.CoversSha256, request.SealedAt);
                var (signature, _) = MetadataSigner.Sign(signer, Dialect.TufSpecification, keyObject, statement);
                if (!SealStatement.Verify(keyObject, facts.CeremonyId, facts.CoversSeq, facts.CoversSha256, request.SealedAt, signature))
                {
                    throw new SigningException($"the seal signature made with {request.KeyUri} does not verify against key {keyId}");
                }

                audit.Append(new AuditEvent(AuditEventKind.Signed)
                {
                    KeyId = keyId,
                    KeyUri = request.KeyUri,
                    Role = Rule,
                    Version = facts.CoversSeq,
                    PayloadSha256 = Convert.ToHexStringLower(SHA256.HashData(statement)),
                    Backend = backend.Name,
                    DeviceSerial = known?.DeviceSerial,
                    CallerUid = context.Uid,
                    Detail = $"seal of ceremony {facts.CeremonyId} transcript line {facts.CoversSeq}",
                });
                return new SealTranscriptResponse
                {
                    Statement = ByteString.CopyFrom(statement),
                    Signature = ByteString.CopyFrom(signature),
                    KeyId = keyId,
                    CeremonyId = facts.CeremonyId,
                    CoversSeq = facts.CoversSeq,
                    CoversSha256 = facts.CoversSha256,
                };
            });
        }
        finally
        {
            ServiceGuard.Wipe(request.Pin);
        }
    }

    /// <summary>What the daemon reads from a transcript before sealing it.</summary>
    internal sealed record TranscriptFacts(string CeremonyId, long CoversSeq, string CoversSha256, IReadOnlySet<string> EnrolledFingerprints);

    /// <summary>Verifies the chain and reads the ceremony id, the enrolled keys and the last line; refuses a failed ceremony.</summary>
    internal static TranscriptFacts Check(ReadOnlySpan<byte> transcript, string sealedAt)
    {
        if (transcript.Length == 0)
        {
            throw Refuse("the request carries no transcript");
        }

        if (transcript.Length > TranscriptVerifier.MaxTranscriptBytes)
        {
            throw Refuse($"the transcript is larger than {TranscriptVerifier.MaxTranscriptBytes} bytes");
        }

        if (sealedAt.Length == 0 || !DateTimeOffset.TryParse(sealedAt, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var at)
            || Audit.ChainedLine.FormatTime(at) != sealedAt)
        {
            throw Refuse($"sealed_at \"{sealedAt}\" is not a transcript time (UTC, milliseconds, yyyy-MM-ddTHH:mm:ss.fffZ)");
        }

        var chain = AuditLogVerifier.Verify(transcript);
        if (!chain.Ok || chain.TornTail || chain.EarlierSegmentDamage.Count > 0 || chain.CompleteLength != transcript.Length)
        {
            throw Refuse($"the transcript's hash chain does not verify{(chain.FirstBadLine is { } line ? $" at line {line}" : string.Empty)}: {chain.Reason ?? "it ends with a partial line"}");
        }

        string? ceremonyId = null;
        var enrolled = new HashSet<string>(StringComparer.Ordinal);
        var lineNumber = 0;
        long lastSeq = 0;
        foreach (var range in Lines(transcript))
        {
            lineNumber++;
            var o = JsonParser.Parse(transcript[range]) as JsonObject ?? throw Refuse($"line {lineNumber} is not a JSON object");
            lastSeq = o.TryGetValue("seq", out var seqNode) && seqNode is JsonInteger { FitsInt64: true } n ? n.Int64Value : throw Refuse($"line {lineNumber} has no seq");
            if (lastSeq == 1 && lineNumber > 1)
            {
                throw Refuse($"the chain restarts at line {lineNumber}: a transcript is one chain");
            }

            var ev = o.TryGetValue("event", out var evNode) && evNode is JsonString e ? e.Value : string.Empty;
            if (lineNumber == 1)
            {
                if (ev != TranscriptEvents.CeremonyStarted || !o.TryGetValue("ceremony_id", out var id) || id is not JsonString idText)
                {
                    throw Refuse("the transcript's first line is not ceremony_started with a ceremony_id");
                }

                ceremonyId = idText.Value;
            }
            else if (ev == TranscriptEvents.StepFailed)
            {
                throw Refuse($"the ceremony failed (line {lineNumber}, step_failed); a failed ceremony is not sealed");
            }
            else if (ev == TranscriptEvents.KeyEnrolled && o.TryGetValue("fingerprint", out var fp) && fp is JsonString fpText)
            {
                enrolled.Add(fpText.Value);
            }
        }

        return new TranscriptFacts(ceremonyId!, lastSeq, chain.HeadSha256, enrolled);
    }

    private static void RequireEnrolled(TranscriptFacts facts, PublicKey key)
    {
        if (!facts.EnrolledFingerprints.Contains(key.Fingerprint))
        {
            throw Refuse($"the key (fingerprint {key.Fingerprint}) is not enrolled in ceremony {facts.CeremonyId}: only the ceremony's keys seal its transcript");
        }
    }

    private static List<Range> Lines(ReadOnlySpan<byte> bytes)
    {
        var ranges = new List<Range>();
        var start = 0;
        for (var i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] == (byte)'\n')
            {
                ranges.Add(start..i);
                start = i + 1;
            }
        }

        return ranges;
    }

    private static PolicyViolationException Refuse(string message) => new(Rule, message);
}
