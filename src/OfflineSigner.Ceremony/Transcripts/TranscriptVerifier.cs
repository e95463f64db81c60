// Verifies a ceremony transcript, docs/ceremony.md "Verification": the hash chain (AuditLogVerifier), the
// ceremony's own rules (steps in the script's order, keys attested before enrollment, every signature by its
// holder's enrolled key), the seal signatures and the witness statements, all through the TUF core's verifier.
using System.Globalization;
using System.Security.Cryptography;
using OfflineSigner.Audit;
using OfflineSigner.Ceremony.Scripts;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Crypto;
using OfflineSigner.Tuf.Json;

namespace OfflineSigner.Ceremony.Transcripts;

/// <summary>The outcome of verifying a transcript and the witness statements given with it.</summary>
public sealed record TranscriptVerification
{
    /// <summary>True when the chain is intact, the ceremony's rules hold, it is sealed by every seal key, and every statement given verifies.</summary>
    public required bool Ok { get; init; }

    /// <summary>What is wrong, each naming the line or statement; empty when Ok.</summary>
    public required IReadOnlyList<string> Problems { get; init; }

    /// <summary>The record read from the transcript, when its first line could be read.</summary>
    public CeremonyRecord? Record { get; init; }

    /// <summary>One result per statement given.</summary>
    public required IReadOnlyList<WitnessCheck> Witnesses { get; init; }

    /// <summary>Witnesses of the script with no valid statement among those given.</summary>
    public required IReadOnlyList<string> MissingWitnesses { get; init; }

    /// <summary>Lowercase hex SHA-256 of the whole transcript.</summary>
    public required string TranscriptSha256 { get; init; }
}

/// <summary>Verifies transcripts.</summary>
public static class TranscriptVerifier
{
    /// <summary>The largest transcript read, in bytes.</summary>
    public const int MaxTranscriptBytes = 64 * 1024 * 1024;

    /// <summary>Verifies <paramref name="transcript"/> and the witness statements given as (name, bytes).</summary>
    /// <param name="transcript">The transcript file's bytes.</param>
    /// <param name="statements">Witness statement files: a name for messages (the path) and the bytes.</param>
    /// <param name="requireAllWitnesses">Fail unless every witness of the script has a valid statement.</param>
    public static TranscriptVerification Verify(ReadOnlySpan<byte> transcript, IEnumerable<(string Name, byte[] Bytes)>? statements = null, bool requireAllWitnesses = false)
    {
        var sha = Convert.ToHexStringLower(SHA256.HashData(transcript));
        var run = new Replay();
        run.Read(transcript);
        var checks = new List<WitnessCheck>();
        var confirmed = new HashSet<string>(StringComparer.Ordinal);
        var record = run.Record(sha);
        foreach (var (name, bytes) in statements ?? [])
        {
            if (record is null)
            {
                checks.Add(new WitnessCheck(null, false, $"{name}: cannot be checked, the transcript cannot be read"));
                continue;
            }

            var check = WitnessStatement.Verify(bytes, sha, record.Script.CeremonyId, record.Script.Witnesses);
            checks.Add(check with { Message = $"{name}: {check.Message}" });
            if (check.Ok)
            {
                confirmed.Add(check.WitnessId!);
            }
            else
            {
                run.Problems.Add($"witness statement {name}: {check.Message}");
            }
        }

        var missing = record?.Script.Witnesses.Where(w => !confirmed.Contains(w.Id)).Select(w => w.Id).ToList() ?? [];
        if (requireAllWitnesses && missing.Count > 0)
        {
            run.Problems.Add($"no valid statement from witness(es) {string.Join(", ", missing)}");
        }

        return new TranscriptVerification
        {
            Ok = run.Problems.Count == 0,
            Problems = run.Problems,
            Record = record,
            Witnesses = checks,
            MissingWitnesses = missing,
            TranscriptSha256 = sha,
        };
    }

    private sealed class Replay
    {
        private readonly List<RecordedStep> steps = [];
        private readonly List<RecordedKey> keys = [];
        private readonly Dictionary<string, PublicKey> holderKeys = new(StringComparer.Ordinal);
        private readonly Dictionary<string, (Metadata<Signed> Md, string Role, List<RecordedSignature> Sigs)> items = new(StringComparer.Ordinal);
        private readonly List<RecordedSeal> seals = [];
        private CeremonyScript? script;
        private Metadata<Root>? trustedRoot;
        private string? trustedRootSha256;
        private string mode = "ceremony";
        private DateTimeOffset started;
        private DateTimeOffset ended;
        private long entries;
        private RecordedBundle? bundle;
        private int stepIndex = -1;       // index in the script of the step that is running or last ran
        private bool stepOpen;
        private bool halted;
        private JsonObject? lastPrompt;
        private JsonObject? previous;
        private bool declined;
        private bool sealedByAll;

        public List<string> Problems { get; } = [];

        public CeremonyRecord? Record(string sha)
        {
            if (script is null)
            {
                return null;
            }

            var recorded = new List<RecordedStep>(steps);
            for (var i = recorded.Count; i < script.Steps.Count; i++)
            {
                recorded.Add(new RecordedStep(script.Steps[i].Id, script.Steps[i].ActionText, "not run", null));
            }

            return new CeremonyRecord
            {
                Script = script,
                Mode = mode,
                StartedAt = started,
                EndedAt = ended,
                Steps = recorded,
                Keys = keys,
                TrustedRootSha256 = trustedRootSha256,
                Items = [.. items.Select(i => new RecordedItem(
                    i.Key,
                    Signed.TypeName(i.Value.Md.Signed.Type, i.Value.Md.Dialect),
                    i.Value.Md.Signed.Version,
                    Rfc3339.Format(i.Value.Md.Signed.Expires),
                    Convert.ToHexStringLower(SHA256.HashData(i.Value.Md.SignedBytes())),
                    i.Value.Sigs))],
                Seals = seals,
                Bundle = bundle,
                TranscriptSha256 = sha,
                Entries = entries,
                Sealed = sealedByAll,
            };
        }

        public void Read(ReadOnlySpan<byte> transcript)
        {
            if (transcript.Length > MaxTranscriptBytes)
            {
                Problems.Add($"the transcript is {transcript.Length} bytes, more than the limit of {MaxTranscriptBytes}");
                return;
            }

            var chain = AuditLogVerifier.Verify(transcript);
            if (!chain.Ok)
            {
                Problems.Add($"hash chain broken at line {chain.FirstBadLine}: {chain.Reason}");
            }

            if (chain.TornTail)
            {
                Problems.Add($"the transcript ends with a partial line after line {chain.Entries}");
            }

            foreach (var damage in chain.EarlierSegmentDamage)
            {
                Problems.Add("hash chain broken (" + damage + ") and restarted: a transcript has one chain");
            }

            if (!chain.Ok || chain.EarlierSegmentDamage.Count > 0)
            {
                // Nothing after a broken link can be trusted to be what was recorded; an intact first line still
                // names the ceremony, so statements and the report can say what they are refused for.
                var first = transcript.IndexOf((byte)'\n');
                if (chain.FirstBadLine > 1 && first > 0)
                {
                    try
                    {
                        var o = (JsonObject)JsonParser.Parse(transcript[..first], CanonicalJson.ReadBackOptions);
                        Entry(o, 1, ChainedLine.GenesisPrev);
                        entries = chain.Entries;
                    }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        script = null;
                    }
                }

                return;
            }

            var offset = 0;
            var lineNo = 0;
            string previousHash = ChainedLine.GenesisPrev;
            JsonObject? last = null;
            while (offset < transcript.Length)
            {
                var nl = transcript[offset..].IndexOf((byte)'\n');
                if (nl < 0)
                {
                    break;
                }

                var line = transcript.Slice(offset, nl);
                offset += nl + 1;
                lineNo++;
                var o = (JsonObject)JsonParser.Parse(line, CanonicalJson.ReadBackOptions);
                try
                {
                    Entry(o, lineNo, previousHash);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    // A hostile transcript may be wrong in any way; each fault is reported against its line.
                    Problems.Add($"line {lineNo} ({Str(o, "event")}): {e.Message}");
                }

                previousHash = ChainedLine.Hash(line);
                previous = o;
                last = o;
            }

            entries = lineNo;
            if (script is null)
            {
                if (Problems.Count == 0)
                {
                    Problems.Add("the transcript is empty");
                }

                return;
            }

            var sealStep = script.Steps[^1];
            if (halted)
            {
                var failed = steps.LastOrDefault(s => s.Status == "failed");
                Problems.Add($"not sealed: the ceremony stopped when step \"{failed?.Id}\" failed ({failed?.Reason})");
            }
            else if (stepIndex != script.Steps.Count - 1)
            {
                Problems.Add($"not sealed: the transcript ends before the seal step (the last step recorded is \"{(stepIndex < 0 ? "(none)" : script.Steps[stepIndex].Id)}\")");
            }
            else if (seals.Count != sealStep.Keys.Count || last is null || Str(last, "event") != TranscriptEvents.SealSignature)
            {
                Problems.Add($"not sealed: {seals.Count} of the {sealStep.Keys.Count} seal signatures the script asks for");
            }
            else
            {
                sealedByAll = true;
                steps[^1] = steps[^1] with { Status = "completed" };
            }
        }

        private void Entry(JsonObject o, long lineNo, string previousHash)
        {
            var ev = Str(o, "event");
            var time = Rfc3339.TryParse(Str(o, "time"), out var t) ? t : throw new FormatException("invalid time");
            if (lineNo == 1)
            {
                if (ev != TranscriptEvents.CeremonyStarted)
                {
                    throw new CeremonyFormatException($"the first line is {ev}, not {TranscriptEvents.CeremonyStarted}");
                }

                Start(o);
                started = time;
                ended = time;
                return;
            }

            if (script is null)
            {
                throw new CeremonyFormatException("no script to check against");
            }

            if (time < ended)
            {
                throw new CeremonyFormatException("its time is earlier than the line before");
            }

            ended = time;
            if (ev == TranscriptEvents.StepRefused)
            {
                return; // a refused attempt is evidence, not progress
            }

            if (sealedByAll || (seals.Count > 0 && ev != TranscriptEvents.SealSignature && ev != TranscriptEvents.Prompt && ev != TranscriptEvents.Answer))
            {
                throw new CeremonyFormatException("an entry after the seal began");
            }

            if (halted)
            {
                throw new CeremonyFormatException($"an entry after step \"{script.Steps[stepIndex].Id}\" failed");
            }

            var stepId = Str(o, "step");
            if (ev == TranscriptEvents.StepStarted)
            {
                if (stepOpen)
                {
                    throw new CeremonyFormatException($"step \"{stepId}\" starts before \"{script.Steps[stepIndex].Id}\" completed");
                }

                if (stepIndex + 1 >= script.Steps.Count || script.Steps[stepIndex + 1].Id != stepId)
                {
                    var expected = stepIndex + 1 < script.Steps.Count ? script.Steps[stepIndex + 1].Id : "(none)";
                    throw new CeremonyFormatException($"step \"{stepId}\" out of order: the script's next step is \"{expected}\"");
                }

                stepIndex++;
                stepOpen = true;
                steps.Add(new RecordedStep(stepId, script.Steps[stepIndex].ActionText, "started", null));
                return;
            }

            if (!stepOpen || script.Steps[stepIndex].Id != stepId)
            {
                throw new CeremonyFormatException($"an entry for step \"{stepId}\", which is not the running step");
            }

            var step = script.Steps[stepIndex];
            if (declined && ev != TranscriptEvents.StepFailed)
            {
                throw new CeremonyFormatException($"step \"{stepId}\" went on after a prompt was not confirmed");
            }

            if (ev is TranscriptEvents.KeyGenerated or TranscriptEvents.KeyPresented or TranscriptEvents.SignatureAdded or TranscriptEvents.SealSignature
                && (previous is null || Str(previous, "event") != TranscriptEvents.Answer || Str(previous, "actor") != Str(o, "holder")))
            {
                throw new CeremonyFormatException($"{ev} for {Str(o, "holder")} without {Str(o, "holder")}'s confirmation just before it");
            }

            switch (ev)
            {
                case TranscriptEvents.Prompt:
                    lastPrompt = o;
                    break;
                case TranscriptEvents.Answer:
                    if (lastPrompt is null || Str(lastPrompt, "prompt") != Str(o, "prompt") || Str(lastPrompt, "actor") != Str(o, "actor"))
                    {
                        throw new CeremonyFormatException("an answer without its prompt, or by someone else than the one asked");
                    }

                    lastPrompt = null;
                    declined = !string.Equals(Str(o, "answer"), "yes", StringComparison.OrdinalIgnoreCase);
                    break;
                case TranscriptEvents.KeyGenerated:
                    KeyGenerated(o, step);
                    break;
                case TranscriptEvents.TrustedRoot:
                    TrustedRoot(o, step);
                    break;
                case TranscriptEvents.KeyPresented:
                    KeyPresented(o, step);
                    break;
                case TranscriptEvents.KeyAttested:
                    KeyAttested(o);
                    break;
                case TranscriptEvents.KeyEnrolled:
                    KeyEnrolled(o);
                    break;
                case TranscriptEvents.MetadataBuilt:
                    MetadataBuilt(o, step);
                    break;
                case TranscriptEvents.SignatureAdded:
                    SignatureAdded(o, step);
                    break;
                case TranscriptEvents.BundleExported:
                    foreach (var id in step.Items)
                    {
                        var (_, role, sigs) = items.TryGetValue(id, out var it) ? it : throw new CeremonyFormatException($"the bundle carries \"{id}\", which was never built");
                        if (sigs.Count < ThresholdOfRole(role))
                        {
                            throw new CeremonyFormatException($"the bundle carries \"{id}\" with {sigs.Count} of the {ThresholdOfRole(role)} signatures it needs");
                        }
                    }

                    bundle = new RecordedBundle(Str(o, "bundle_id"), Str(o, "manifest_sha256"), Str(o, "location"));
                    break;
                case TranscriptEvents.StepCompleted:
                    stepOpen = false;
                    steps[^1] = steps[^1] with { Status = "completed" };
                    break;
                case TranscriptEvents.StepFailed:
                    stepOpen = false;
                    halted = true;
                    steps[^1] = steps[^1] with { Status = "failed", Reason = Str(o, "reason") };
                    break;
                case TranscriptEvents.SealSignature:
                    SealSignature(o, step, lineNo, previousHash);
                    break;
                default:
                    throw new CeremonyFormatException($"\"{ev}\" is not a transcript event");
            }
        }

        private void Start(JsonObject o)
        {
            if (Str(o, "format") != TranscriptEvents.TranscriptFormat)
            {
                throw new CeremonyFormatException($"transcript format \"{Str(o, "format")}\" is not {TranscriptEvents.TranscriptFormat}");
            }

            var scriptBytes = Base64(o, "script");
            var digest = Convert.ToHexStringLower(SHA256.HashData(scriptBytes));
            if (Str(o, "script_sha256") != digest)
            {
                throw new CeremonyFormatException("script_sha256 is not the SHA-256 of the script it carries");
            }

            script = CeremonyScriptReader.Parse(scriptBytes);
            if (!CanonicalJson.Serialize(script.Json).AsSpan().SequenceEqual(scriptBytes))
            {
                throw new CeremonyFormatException("the script is not in canonical form");
            }

            if (Str(o, "ceremony_id") != script.CeremonyId)
            {
                throw new CeremonyFormatException("ceremony_id differs from the script's");
            }

            mode = Str(o, "mode") is "ceremony" or "rehearsal" ? Str(o, "mode") : throw new CeremonyFormatException("mode is neither ceremony nor rehearsal");
        }

        private void KeyGenerated(JsonObject o, CeremonyStep step)
        {
            var holder = Str(o, "holder");
            if (step.Action != StepAction.GenerateKey || step.Holder != holder)
            {
                throw new CeremonyFormatException($"a key for {holder} generated in step \"{step.Id}\", which does not generate {holder}'s key");
            }

            var key = PublicKey.FromSubjectPublicKeyInfo(Base64(o, "public_key"));
            if (key.Fingerprint != Str(o, "fingerprint"))
            {
                throw new CeremonyFormatException("fingerprint is not the SHA-256 of the public key");
            }

            var device = script!.FindHolder(holder)!.Device;
            if (Str(o, "device_serial") != device.Serial)
            {
                throw new CeremonyFormatException($"generated on device serial {Str(o, "device_serial")}, not {holder}'s {device.Serial}");
            }

            if (keys.Any(k => k.DeviceSerial == device.Serial || k.Fingerprint == key.Fingerprint))
            {
                throw new CeremonyFormatException("a second key from one device, or the same key twice");
            }

            holderKeys[holder] = key;
            keys.Add(new RecordedKey(step.Id, holder, Str(o, "device_kind"), Str(o, "device_serial"), Str(o, "algorithm"), Str(o, "key_id"), key.Fingerprint, string.Empty, string.Empty, "not attested", false));
        }

        private void TrustedRoot(JsonObject o, CeremonyStep step)
        {
            if (trustedRoot is not null || step.Action != StepAction.EnrollKey)
            {
                throw new CeremonyFormatException(trustedRoot is null ? $"a trusted root recorded in a {step.ActionText} step" : "a second trusted root");
            }

            var document = Base64(o, "document");
            if (Convert.ToHexStringLower(SHA256.HashData(document)) != Str(o, "sha256"))
            {
                throw new CeremonyFormatException("sha256 is not the SHA-256 of the trusted root recorded");
            }

            trustedRoot = Metadata<Root>.Parse(document, dialect: script!.Repository.Dialect);
            trustedRootSha256 = Str(o, "sha256");
        }

        // A key the trusted root already lists for the step's role, brought on the holder's device.
        private void KeyPresented(JsonObject o, CeremonyStep step)
        {
            var holder = Str(o, "holder");
            if (step.Action != StepAction.EnrollKey || step.Holder != holder || Str(o, "role") != step.Role)
            {
                throw new CeremonyFormatException($"a key for {holder} brought in step \"{step.Id}\", which does not enroll {holder}'s {Str(o, "role")} key");
            }

            var key = PublicKey.FromSubjectPublicKeyInfo(Base64(o, "public_key"));
            if (key.Fingerprint != Str(o, "fingerprint"))
            {
                throw new CeremonyFormatException("fingerprint is not the SHA-256 of the public key");
            }

            var root = trustedRoot ?? throw new CeremonyFormatException("a key brought before the trusted root was recorded");
            var listed = root.Signed.RoleKeys(step.Role!).FirstOrDefault(k => k.KeyId == Str(o, "key_id"));
            if (listed?.PublicKey is null || !listed.PublicKey.Equals(key))
            {
                throw new CeremonyFormatException($"{holder}'s key {Str(o, "key_id")} is not a {step.Role} key of the trusted root version {root.Signed.Version}");
            }

            if (root.Signed.Roles[step.Role!].Threshold != script!.Policies.ThresholdOf(step.Role!))
            {
                throw new CeremonyFormatException($"the trusted root's {step.Role} threshold is not the script's");
            }

            var device = script.FindHolder(holder)!.Device;
            if (Str(o, "device_serial") != device.Serial)
            {
                throw new CeremonyFormatException($"found on device serial {Str(o, "device_serial")}, not {holder}'s {device.Serial}");
            }

            if (keys.Any(k => k.DeviceSerial == device.Serial || k.Fingerprint == key.Fingerprint))
            {
                throw new CeremonyFormatException("a second key from one device, or the same key twice");
            }

            holderKeys[holder] = key;
            keys.Add(new RecordedKey(step.Id, holder, Str(o, "device_kind"), Str(o, "device_serial"), AlgorithmName(key), listed.KeyId, key.Fingerprint, string.Empty, string.Empty, "not attested", false));
        }

        private static string AlgorithmName(PublicKey key) => key.Family switch
        {
            KeyFamily.Ecdsa => key.Curve == "P-384" ? "ecdsa-p384" : "ecdsa-p256",
            KeyFamily.Ed25519 => "ed25519",
            _ => "rsa-" + key.KeySizeBits.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };

        private void KeyAttested(JsonObject o)
        {
            var index = keys.FindIndex(k => k.Holder == Str(o, "holder"));
            if (index < 0)
            {
                throw new CeremonyFormatException("an attestation for a key that was not generated");
            }

            var evidence = Base64(o, "attestation");
            if (Convert.ToHexStringLower(SHA256.HashData(evidence)) != Str(o, "attestation_sha256"))
            {
                throw new CeremonyFormatException("attestation_sha256 is not the SHA-256 of the evidence recorded");
            }

            var verdict = o.TryGetValue("verdict", out var v) && v is JsonObject vo ? vo : throw new CeremonyFormatException("no verdict");
            var problems = verdict.TryGetValue("problems", out var p) && p is JsonArray pa ? pa.Count : 0;
            keys[index] = keys[index] with
            {
                AttestationFormat = Str(o, "attestation_format"),
                AttestationSha256 = Str(o, "attestation_sha256"),
                AttestationSummary = (problems == 0 ? string.Empty : "REFUSED: ") + Str(verdict, "summary"),
            };
        }

        private void KeyEnrolled(JsonObject o)
        {
            var index = keys.FindIndex(k => k.Holder == Str(o, "holder"));
            if (index < 0 || keys[index].Fingerprint != Str(o, "fingerprint"))
            {
                throw new CeremonyFormatException("an enrollment for a key that was not generated");
            }

            if (keys[index].AttestationSha256.Length == 0 && script!.Policies.RequireAttestation)
            {
                throw new CeremonyFormatException($"{keys[index].Holder}'s key enrolled without attestation evidence");
            }

            if (keys[index].AttestationSummary.StartsWith("REFUSED", StringComparison.Ordinal) && script!.Policies.RequireAttestation)
            {
                throw new CeremonyFormatException($"{keys[index].Holder}'s key enrolled although its attestation was refused");
            }

            keys[index] = keys[index] with { Enrolled = true };
        }

        private void MetadataBuilt(JsonObject o, CeremonyStep step)
        {
            if (step.Action is not (StepAction.BuildRoot or StepAction.Delegation or StepAction.DelegatedRole))
            {
                throw new CeremonyFormatException($"metadata built in a {step.ActionText} step");
            }

            var md = MetadataReader.Parse(Base64(o, "document"));
            if (Convert.ToHexStringLower(SHA256.HashData(md.SignedBytes())) != Str(o, "signed_sha256"))
            {
                throw new CeremonyFormatException("signed_sha256 is not the SHA-256 of the document's signed part");
            }

            string signingRole;
            if (step.Action == StepAction.BuildRoot)
            {
                var root = md.Signed as Root ?? throw new CeremonyFormatException("a build-root step built no root");
                foreach (var (role, keyRefs) in step.RoleKeys)
                {
                    CheckPlannedKeys(role, root.RoleKeys(role).ToList(), root.Roles[role].Threshold, keyRefs, script!.Policies.ThresholdOf(role));
                }

                foreach (var role in step.OnlineRoles)
                {
                    if (root.RoleKeys(role).Any(k => keys.Any(e => e.Fingerprint == k.Fingerprint)))
                    {
                        throw new CeremonyFormatException($"the root lists an offline ceremony key for the online role {role}");
                    }
                }

                signingRole = "root";
            }
            else if (step.Action == StepAction.DelegatedRole)
            {
                var delegation = script!.FindStep(step.DelegationStep!)!;
                _ = md.Signed as Targets ?? throw new CeremonyFormatException("a delegated-role step built no targets metadata");
                if (!items.ContainsKey(delegation.Id))
                {
                    throw new CeremonyFormatException($"the delegated role of \"{delegation.Id}\" built before its delegation");
                }

                signingRole = delegation.Name!;
            }
            else
            {
                var targets = md.Signed as Targets ?? throw new CeremonyFormatException("a delegation step built no targets metadata");
                var role = targets.Delegations?.Roles?.FirstOrDefault(r => r.Name == step.Name) ?? throw new CeremonyFormatException($"the metadata built does not delegate to \"{step.Name}\"");
                var listed = role.KeyIds.Select(id => targets.Delegations!.Keys.TryGetValue(id, out var k) ? k : throw new CeremonyFormatException($"delegation key {id} is not listed")).ToList();
                CheckPlannedKeys(step.Name!, listed, role.Threshold, step.Keys, step.Threshold ?? script!.Policies.ThresholdOf("delegation"));
                signingRole = step.Delegator;
            }

            if (Str(o, "signing_role") != signingRole)
            {
                throw new CeremonyFormatException($"signing_role is {Str(o, "signing_role")}, not {signingRole}");
            }

            items[step.Id] = (md, signingRole, []);
        }

        // The claim an auditor checks: a role lists exactly the keys enrolled (generated on the named holders'
        // devices, with their evidence) in the generate-key steps the script names for it, at the script's threshold.
        private void CheckPlannedKeys(string role, List<Key> listed, int threshold, IReadOnlyList<string> keyRefs, int plannedThreshold)
        {
            var planned = keyRefs.Select(r => keys.FirstOrDefault(k => k.StepId == r && k.Enrolled)
                ?? throw new CeremonyFormatException($"{role} lists the key of step \"{r}\", which was not enrolled")).Select(k => k.Fingerprint).ToHashSet(StringComparer.Ordinal);
            var actual = listed.Select(k => k.Fingerprint).ToHashSet(StringComparer.Ordinal);
            if (listed.Count != planned.Count || !actual.SetEquals(planned))
            {
                var extra = listed.Where(k => !planned.Contains(k.Fingerprint)).Select(k => k.KeyId).ToList();
                throw new CeremonyFormatException(extra.Count > 0
                    ? $"{role} lists key(s) {string.Join(", ", extra)} that no key holder enrolled in this ceremony"
                    : $"{role} does not list every key the script names for it");
            }

            if (threshold != plannedThreshold)
            {
                throw new CeremonyFormatException($"{role} has threshold {threshold}, not the script's {plannedThreshold}");
            }
        }

        private int ThresholdOfRole(string role) =>
            Root.TopLevelRoles.Contains(role)
                ? script!.Policies.ThresholdOf(role)
                : script!.Steps.LastOrDefault(s => s.Action == StepAction.Delegation && s.Name == role) is { } d ? d.Threshold ?? script.Policies.ThresholdOf("delegation") : 1;

        private void SignatureAdded(JsonObject o, CeremonyStep step)
        {
            var holder = Str(o, "holder");
            if (step.Action != StepAction.Sign || !step.Signers.Contains(holder) || Str(o, "item") != step.Item)
            {
                throw new CeremonyFormatException($"a signature by {holder} that step \"{step.Id}\" does not ask for");
            }

            var (md, role, sigs) = items.TryGetValue(step.Item!, out var it) ? it : throw new CeremonyFormatException($"no item \"{step.Item}\" was built");
            var key = holderKeys.TryGetValue(holder, out var k) ? k : throw new CeremonyFormatException($"{holder} has no enrolled key");
            var listed = FindKeyObject(role, Str(o, "key_id")) ?? throw new CeremonyFormatException($"key {Str(o, "key_id")} is not a key of {role}");
            if (listed.PublicKey is null || !listed.PublicKey.Equals(key))
            {
                throw new CeremonyFormatException($"{holder} signed for key {Str(o, "key_id")}, which is not {holder}'s enrolled key");
            }

            var method = o.TryGetValue("method", out var m) && m is JsonString ms ? ms.Value : null;
            if (!SignatureVerifier.Verify(key, md.Dialect, listed.KeyType, listed.Scheme, method, md.SignedBytes(), Hex(o, "sig")))
            {
                throw new CeremonyFormatException($"{holder}'s signature over \"{step.Item}\" does not verify");
            }

            var device = script!.FindHolder(holder)!.Device;
            if (Str(o, "device_serial") != device.Serial)
            {
                throw new CeremonyFormatException($"{holder}'s signature was made on device serial {Str(o, "device_serial")}, not {holder}'s {device.Serial}");
            }

            sigs.Add(new RecordedSignature(holder, Str(o, "device_serial"), Str(o, "key_id"), key.Fingerprint));
        }

        private Key? FindKeyObject(string role, string keyId)
        {
            if (trustedRoot is not null && trustedRoot.Signed.RoleKeys(role).FirstOrDefault(k => k.KeyId == keyId) is { } tk)
            {
                return tk;
            }

            foreach (var (md, _, _) in items.Values)
            {
                if (md.Signed is Root root && root.RoleKeys(role).FirstOrDefault(k => k.KeyId == keyId) is { } rk)
                {
                    return rk;
                }

                if (md.Signed is Targets { Delegations: { } d } && d.FindRole(role) is { } r && r.KeyIds.Contains(keyId) && d.Keys.TryGetValue(keyId, out var dk))
                {
                    return dk;
                }
            }

            return null;
        }

        private void SealSignature(JsonObject o, CeremonyStep step, long lineNo, string previousHash)
        {
            if (step.Action != StepAction.Seal)
            {
                throw new CeremonyFormatException($"a seal signature in a {step.ActionText} step");
            }

            var holder = Str(o, "holder");
            var key = PublicKey.FromSubjectPublicKeyInfo(Base64(o, "public_key"));
            var keyObject = KeyFormats.Encode(key, Dialect.TufSpecification);
            if (Str(o, "keytype") != ((JsonString)keyObject["keytype"]).Value || Str(o, "scheme") != ((JsonString)keyObject["scheme"]).Value)
            {
                throw new CeremonyFormatException($"keytype/scheme {Str(o, "keytype")}/{Str(o, "scheme")} do not fit the seal key");
            }
            var sealKeys = step.Keys.Select(id => script!.FindStep(id)!.Holder).ToList();
            if (!sealKeys.Contains(holder) || !holderKeys.TryGetValue(holder, out var enrolled) || !enrolled.Equals(key))
            {
                throw new CeremonyFormatException($"a seal by {holder}, whose enrolled key is not one the seal step names");
            }

            if (Str(o, "fingerprint") != key.Fingerprint || Str(o, "key_id") != KeyFormats.ComputeKeyId(keyObject))
            {
                throw new CeremonyFormatException($"{holder}'s seal names another fingerprint or key id than its key's");
            }

            if (seals.Any(s => s.Holder == holder))
            {
                throw new CeremonyFormatException($"{holder} sealed twice");
            }

            var coversSeq = Long(o, "covers_seq");
            var coversSha = Str(o, "covers_sha256");
            if (coversSeq != lineNo - 1 || coversSha != previousHash)
            {
                throw new CeremonyFormatException($"{holder}'s seal covers line {coversSeq} ({coversSha[..Math.Min(16, coversSha.Length)]}), not the line before it");
            }

            if (!SealStatement.Verify(keyObject, script!.CeremonyId, coversSeq, coversSha, Str(o, "time"), Hex(o, "sig")))
            {
                throw new CeremonyFormatException($"{holder}'s seal signature does not verify");
            }

            seals.Add(new RecordedSeal(holder, KeyFormats.ComputeKeyId(keyObject), key.Fingerprint, coversSeq, coversSha));
        }

        // One encoding per value: a base64 or hex field that decodes to the same bytes under another spelling
        // (padding bits, upper case) would be an edit nothing else notices.
        private static byte[] Base64(JsonObject o, string key)
        {
            var text = Str(o, key);
            var bytes = Convert.FromBase64String(text);
            return Convert.ToBase64String(bytes) == text ? bytes : throw new CeremonyFormatException($"field \"{key}\" is not in canonical base64");
        }

        private static byte[] Hex(JsonObject o, string key)
        {
            var text = Str(o, key);
            var bytes = Convert.FromHexString(text);
            return Convert.ToHexStringLower(bytes) == text ? bytes : throw new CeremonyFormatException($"field \"{key}\" is not lowercase hex");
        }

        private static string Str(JsonObject o, string key) =>
            o.TryGetValue(key, out var v) && v is JsonString s ? s.Value : throw new CeremonyFormatException($"field \"{key}\" is missing or not a string");

        private static long Long(JsonObject o, string key) =>
            o.TryGetValue(key, out var v) && v is JsonInteger { FitsInt64: true } i ? i.Int64Value
            : throw new CeremonyFormatException(string.Create(CultureInfo.InvariantCulture, $"field \"{key}\" is missing or not an integer"));
    }
}
