// The step engine, docs/ceremony.md "The step engine".
using System.Security.Cryptography;
using OfflineSigner.Ceremony.Fingerprints;
using OfflineSigner.Ceremony.Scripts;
using OfflineSigner.Ceremony.Transcripts;
using OfflineSigner.Signing;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Crypto;
using OfflineSigner.Tuf.Json;

namespace OfflineSigner.Ceremony.Engine;

/// <summary>Whether a run is the ceremony itself or a rehearsal of it.</summary>
public enum CeremonyMode
{
    /// <summary>The real ceremony.</summary>
    Ceremony,

    /// <summary>A rehearsal: the same script on rehearsal devices (SoftHSM2 tokens, the YubiKey simulator), marked as such everywhere.</summary>
    Rehearsal,
}

/// <summary>Where a run is.</summary>
public enum CeremonyState
{
    /// <summary>Nothing recorded yet.</summary>
    NotStarted,

    /// <summary>Steps are being run.</summary>
    Running,

    /// <summary>A step failed; nothing more can run.</summary>
    Halted,

    /// <summary>The seal step completed; the transcript is final.</summary>
    Sealed,
}

/// <summary>A step failed; the transcript records why and the ceremony cannot go on.</summary>
public sealed class CeremonyStepFailedException(string stepId, string reason)
    : OfflineSignerException($"step \"{stepId}\" failed: {reason}")
{
    /// <summary>The step that failed.</summary>
    public string StepId { get; } = stepId;

    /// <summary>Why.</summary>
    public string Reason { get; } = reason;
}

/// <summary>A step was asked for out of order, again, or after the ceremony stopped; the transcript records the refusal.</summary>
public sealed class CeremonyOrderException(string message) : OfflineSignerException(message);

/// <summary>
/// Walks a validated script's steps in order. Each step names who acts and on which device, asks them to confirm,
/// calls <see cref="ICeremonyActions"/>, checks what comes back (serials, keys, attestation, signatures) and records
/// every prompt, answer and result in the transcript. It refuses a step out of order and anything after a failed step.
/// </summary>
public sealed class CeremonyRunner
{
    private readonly CeremonyScript script;
    private readonly ICeremonyActions actions;
    private readonly IAttestationVerifier attestation;
    private readonly ICeremonyOperator op;
    private readonly TranscriptWriter transcript;
    private readonly CeremonyMode mode;

    private readonly Dictionary<string, EnrolledKey> enrolledByStep = new(StringComparer.Ordinal);
    private readonly Dictionary<string, EnrolledKey> enrolledByHolder = new(StringComparer.Ordinal);
    private readonly List<EnrolledEvidence> evidence = [];

    // Per role (top-level or delegated): the enrolled keys, threshold, and the key objects the built metadata lists.
    private readonly Dictionary<string, (IReadOnlyList<EnrolledKey> Keys, int Threshold)> roles = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IReadOnlyDictionary<string, Key>> roleKeyObjects = new(StringComparer.Ordinal);

    // Built items by step id, with the role that signs them.
    private readonly Dictionary<string, (Metadata<Signed> Metadata, string Role)> items = new(StringComparer.Ordinal);
    private ExportedBundle? bundle;
    private Metadata<Root>? trustedRoot;
    private int next;
    private string? haltedReason;

    /// <summary>A runner for <paramref name="script"/>, writing to <paramref name="transcript"/> (whose clock stamps the run).</summary>
    public CeremonyRunner(CeremonyScript script, ICeremonyActions actions, IAttestationVerifier attestation, ICeremonyOperator op, TranscriptWriter transcript, CeremonyMode mode)
    {
        this.script = script ?? throw new ArgumentNullException(nameof(script));
        this.actions = actions ?? throw new ArgumentNullException(nameof(actions));
        this.attestation = attestation ?? throw new ArgumentNullException(nameof(attestation));
        this.op = op ?? throw new ArgumentNullException(nameof(op));
        this.transcript = transcript ?? throw new ArgumentNullException(nameof(transcript));
        this.mode = mode;
    }

    /// <summary>Where the run is.</summary>
    public CeremonyState State { get; private set; }

    /// <summary>The step that runs next, or null when none can.</summary>
    public CeremonyStep? NextStep => State is CeremonyState.Halted or CeremonyState.Sealed || next >= script.Steps.Count ? null : script.Steps[next];

    /// <summary>The keys enrolled so far.</summary>
    public IReadOnlyCollection<EnrolledKey> EnrolledKeys => enrolledByStep.Values;

    /// <summary>The bundle the export step wrote, once it has run.</summary>
    public ExportedBundle? Bundle => bundle;

    /// <summary>Runs every remaining step in order.</summary>
    /// <exception cref="CeremonyStepFailedException">a step failed (recorded; the run is halted).</exception>
    public void RunAll()
    {
        while (NextStep is { } step)
        {
            RunStep(step.Id);
        }
    }

    /// <summary>Runs one step, which must be the next one.</summary>
    /// <exception cref="CeremonyOrderException">it is not the next step, or the run is halted or sealed (the refusal is recorded).</exception>
    /// <exception cref="CeremonyStepFailedException">the step failed (recorded; the run is halted).</exception>
    public void RunStep(string stepId)
    {
        ArgumentNullException.ThrowIfNull(stepId);
        if (State == CeremonyState.NotStarted)
        {
            Start();
        }

        string? refusal = State switch
        {
            CeremonyState.Halted => $"the ceremony stopped when step \"{script.Steps[next].Id}\" failed ({haltedReason}); no step can run after a failed step: hold a new ceremony with a new transcript",
            CeremonyState.Sealed => "the ceremony is sealed; nothing can be added to its transcript",
            _ when script.FindStep(stepId) is null => $"there is no step \"{stepId}\" in the script",
            _ when stepId != script.Steps[next].Id => script.Steps.Take(next).Any(s => s.Id == stepId)
                ? $"step \"{stepId}\" has already run; the next step is \"{script.Steps[next].Id}\""
                : $"step \"{stepId}\" is out of order: the next step is \"{script.Steps[next].Id}\", and steps run in the script's order without skipping",
            _ => null,
        };
        if (refusal is not null)
        {
            if (State != CeremonyState.Sealed)
            {
                transcript.Append(TranscriptEvents.StepRefused, new JsonObject { { "step", stepId }, { "reason", refusal } });
            }

            throw new CeremonyOrderException(refusal);
        }

        var step = script.Steps[next];
        transcript.Append(TranscriptEvents.StepStarted, new JsonObject { { "step", step.Id }, { "index", next + 1 }, { "action", step.ActionText } });
        op.Show($"step {next + 1} of {script.Steps.Count}: {step.Id} ({step.ActionText}){(step.Description is null ? string.Empty : ": " + step.Description)}");
        try
        {
            switch (step.Action)
            {
                case StepAction.GenerateKey:
                    GenerateKey(step);
                    break;
                case StepAction.EnrollKey:
                    EnrollKey(step);
                    break;
                case StepAction.BuildRoot:
                    BuildRoot(step);
                    break;
                case StepAction.DelegatedRole:
                    DelegatedRole(step);
                    break;
                case StepAction.Delegation:
                    Delegation(step);
                    break;
                case StepAction.Sign:
                    Sign(step);
                    break;
                case StepAction.ExportBundle:
                    Export(step);
                    break;
                case StepAction.Seal:
                    Seal(step);
                    next++;
                    State = CeremonyState.Sealed;
                    if (bundle is not null)
                    {
                        actions.AttachTranscript(bundle, transcript.ToArray());
                    }

                    return;
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException && e is not CeremonyOrderException)
        {
            var reason = e is StepFailure f ? f.Message : $"{e.GetType().Name}: {e.Message}";
            State = CeremonyState.Halted;
            haltedReason = reason;
            transcript.Append(TranscriptEvents.StepFailed, new JsonObject { { "step", step.Id }, { "reason", reason } });
            op.Show($"step {step.Id} FAILED: {reason}");
            throw new CeremonyStepFailedException(step.Id, reason);
        }

        transcript.Append(TranscriptEvents.StepCompleted, new JsonObject { { "step", step.Id } });
        next++;
    }

    private void Start()
    {
        var validation = CeremonyScriptValidator.Validate(script);
        if (!validation.Valid)
        {
            throw new CeremonyFormatException("the script is not valid: " + string.Join("; ", validation.Errors));
        }

        var scriptBytes = CanonicalJson.Serialize(script.Json);
        transcript.Append(TranscriptEvents.CeremonyStarted, new JsonObject
        {
            { "format", TranscriptEvents.TranscriptFormat },
            { "ceremony_id", script.CeremonyId },
            { "mode", mode == CeremonyMode.Rehearsal ? "rehearsal" : "ceremony" },
            { "script", Convert.ToBase64String(scriptBytes) },
            { "script_sha256", Convert.ToHexStringLower(SHA256.HashData(scriptBytes)) },
        });
        State = CeremonyState.Running;
    }

    private void GenerateKey(CeremonyStep step)
    {
        var holder = script.FindHolder(step.Holder!)!;
        var policy = script.Policies.YubiKey;
        var algorithm = CeremonyScriptReader.ToKeyAlgorithm(step.Algorithm!);
        Confirm(step, "insert-device", holder, "key-holder", holder.Device,
            $"{holder.Name}: insert your {holder.Device} and confirm. A new {step.Algorithm} key will be generated on it"
            + (holder.Device.Kind == DeviceKind.YubiKey ? $" with PIN policy {policy.PinPolicy} and touch policy {policy.TouchPolicy}." : "."),
            []);
        var generated = actions.GenerateKey(new KeyGenerationRequest(step.Id, holder, algorithm, policy, script.Repository.Dialect));
        var key = DeviceKey(holder, generated, "generated");

        if (!Matches(key, algorithm))
        {
            throw new StepFailure($"the device generated a {key} key, not {step.Algorithm}");
        }

        if (enrolledByStep.Values.FirstOrDefault(k => k.PublicKey.Equals(key)) is { } sameKey)
        {
            throw new StepFailure($"the device returned {sameKey.Holder.Id}'s key again (fingerprint {key.Fingerprint})");
        }

        var keyId = Key.FromPublicKey(key, script.Repository.Dialect).KeyId;
        transcript.Append(TranscriptEvents.KeyGenerated, new JsonObject
        {
            { "step", step.Id },
            { "holder", holder.Id },
            { "device_kind", holder.Device.KindName },
            { "device_serial", generated.DeviceSerial },
            { "algorithm", step.Algorithm! },
            { "key_reference", generated.KeyReference },
            { "public_key", Convert.ToBase64String(key.SubjectPublicKeyInfo.Span) },
            { "fingerprint", key.Fingerprint },
            { "key_id", keyId },
        });

        AttestAndEnroll(step, holder, generated, key, keyId);
    }

    private void EnrollKey(CeremonyStep step)
    {
        var holder = script.FindHolder(step.Holder!)!;
        var role = step.Role!;
        var root = TrustedRoot(step);
        Confirm(step, "insert-device", holder, "key-holder", holder.Device,
            $"{holder.Name}: insert your {holder.Device} and confirm. The {role} key that the repository's root lists for you will be looked up on it and its attestation checked again.",
            [$"trusted root version {root.Signed.Version}, SHA-256 {Sha256(root.ToBytes())}", $"{role}: {root.Signed.Roles[role].Threshold} of {root.Signed.Roles[role].KeyIds.Count} key(s)"]);
        var found = actions.FindKey(new KeyLookupRequest(step.Id, holder, role, script.Repository.Dialect));
        var key = DeviceKey(holder, found, "found");

        var listed = root.Signed.RoleKeys(role).FirstOrDefault(k => k.PublicKey is not null && k.PublicKey.Equals(key))
            ?? throw new StepFailure($"the key on {holder.Id}'s {holder.Device} (fingerprint {key.Fingerprint}) is not a {role} key of the trusted root version {root.Signed.Version}");
        if (enrolledByStep.Values.FirstOrDefault(k => k.PublicKey.Equals(key)) is { } sameKey)
        {
            throw new StepFailure($"the device returned {sameKey.Holder.Id}'s key again (fingerprint {key.Fingerprint})");
        }

        var threshold = root.Signed.Roles[role].Threshold;
        if (threshold != script.Policies.ThresholdOf(role))
        {
            throw new StepFailure($"the trusted root sets the {role} threshold to {threshold}, the script's policy to {script.Policies.ThresholdOf(role)}: correct the script before the ceremony");
        }

        transcript.Append(TranscriptEvents.KeyPresented, new JsonObject
        {
            { "step", step.Id },
            { "holder", holder.Id },
            { "role", role },
            { "device_kind", holder.Device.KindName },
            { "device_serial", found.DeviceSerial },
            { "key_reference", found.KeyReference },
            { "public_key", Convert.ToBase64String(key.SubjectPublicKeyInfo.Span) },
            { "fingerprint", key.Fingerprint },
            { "key_id", listed.KeyId },
        });
        var enrolled = AttestAndEnroll(step, holder, found, key, listed.KeyId);
        var keys = roles.TryGetValue(role, out var known) ? [.. known.Keys, enrolled] : new List<EnrolledKey> { enrolled };
        roles[role] = (keys, threshold);
        roleKeyObjects[role] = root.Signed.RoleKeys(role).ToDictionary(k => k.KeyId, StringComparer.Ordinal);
    }

    // The key a device returned: on the holder's device, not one already enrolled from that device, and readable.
    private PublicKey DeviceKey(KeyHolder holder, GeneratedKey returned, string how)
    {
        if (enrolledByStep.Values.FirstOrDefault(k => k.DeviceSerial == returned.DeviceSerial) is { } sameDevice)
        {
            throw new StepFailure($"device serial {returned.DeviceSerial} already holds {sameDevice.Holder.Id}'s enrolled key: one key per device serial");
        }

        if (returned.DeviceSerial != holder.Device.Serial)
        {
            throw new StepFailure($"the key was {how} on device serial {returned.DeviceSerial}, not on {holder.Id}'s {holder.Device}");
        }

        try
        {
            return PublicKey.FromSubjectPublicKeyInfo(returned.SubjectPublicKeyInfo.Span);
        }
        catch (CryptographicException e)
        {
            throw new StepFailure("the device returned a public key that cannot be read: " + e.Message);
        }
    }

    // The request's trusted root, read and recorded in the transcript once, at the first step that needs it.
    private Metadata<Root> TrustedRoot(CeremonyStep step)
    {
        if (trustedRoot is not null)
        {
            return trustedRoot;
        }

        var bytes = actions.TrustedRoot();
        Metadata<Root> root;
        try
        {
            root = Metadata<Root>.Parse(bytes.Span, dialect: script.Repository.Dialect);
        }
        catch (MetadataException e)
        {
            throw new StepFailure("the repository's trusted root cannot be read: " + e.Message);
        }

        transcript.Append(TranscriptEvents.TrustedRoot, new JsonObject
        {
            { "step", step.Id },
            { "version", root.Signed.Version },
            { "sha256", Sha256(bytes.Span) },
            { "document", Convert.ToBase64String(bytes.Span) },
        });
        trustedRoot = root;
        return root;
    }

    private EnrolledKey AttestAndEnroll(CeremonyStep step, KeyHolder holder, GeneratedKey generated, PublicKey key, string keyId)
    {
        var policy = script.Policies.YubiKey;
        var ev = actions.Attest(generated, holder);
        var verdict = attestation.Verify(ev, generated);
        var evidenceSha256 = Convert.ToHexStringLower(SHA256.HashData(ev.Bytes.Span));
        var problems = new List<string>(verdict.Problems);
        if (!verdict.Trusted && problems.Count == 0)
        {
            problems.Add("the evidence is not trusted");
        }

        if (verdict.AttestedSubjectPublicKeyInfo is not { } attested || !attested.Span.SequenceEqual(key.SubjectPublicKeyInfo.Span))
        {
            problems.Add("the attestation is for another key than the one generated");
        }

        if (verdict.DeviceSerial != holder.Device.Serial)
        {
            problems.Add($"the attestation names device serial {verdict.DeviceSerial ?? "(none)"}, not {holder.Id}'s {holder.Device.Serial}");
        }

        if (holder.Device.Kind == DeviceKind.YubiKey)
        {
            CheckPivPolicy(verdict, policy, problems);
        }

        var verdictJson = new JsonObject { { "trusted", verdict.Trusted }, { "summary", verdict.Summary }, { "problems", new JsonArray(problems.Select(p => (JsonNode)p)) } };
        AddIf(verdictJson, "device_serial", verdict.DeviceSerial);
        AddIf(verdictJson, "pin_policy", verdict.PinPolicy);
        AddIf(verdictJson, "touch_policy", verdict.TouchPolicy);
        AddIf(verdictJson, "firmware", verdict.Firmware);
        transcript.Append(TranscriptEvents.KeyAttested, new JsonObject
        {
            { "step", step.Id },
            { "holder", holder.Id },
            { "device_serial", generated.DeviceSerial },
            { "attestation_format", ev.Format },
            { "attestation", Convert.ToBase64String(ev.Bytes.Span) },
            { "attestation_sha256", evidenceSha256 },
            { "verdict", verdictJson },
        });
        if (problems.Count > 0 && script.Policies.RequireAttestation)
        {
            throw new StepFailure($"{holder.Id}'s key has no valid attestation: {string.Join("; ", problems)}");
        }

        var fingerprint = KeyFingerprint.Of(key);
        Confirm(step, "confirm-fingerprint", script.Administrator, "administrator", null,
            $"{holder.Name} reads the key's fingerprint aloud; the witnesses compare it with this screen. Confirm that it matches.",
            [$"hex: {fingerprint.GroupedHex}", $"words: {fingerprint.WordsText}", $"attestation sha256: {evidenceSha256}"]);
        var enrolled = new EnrolledKey(step.Id, holder, key, generated.KeyReference, generated.DeviceSerial, evidenceSha256);
        enrolledByStep[step.Id] = enrolled;
        enrolledByHolder[holder.Id] = enrolled;
        evidence.Add(new EnrolledEvidence(enrolled, ev));
        transcript.Append(TranscriptEvents.KeyEnrolled, new JsonObject
        {
            { "step", step.Id }, { "holder", holder.Id }, { "fingerprint", key.Fingerprint }, { "key_id", keyId },
        });
        return enrolled;
    }

    private void BuildRoot(CeremonyStep step)
    {
        var plan = new Dictionary<string, RolePlan>(StringComparer.Ordinal);
        foreach (var (role, keyRefs) in step.RoleKeys)
        {
            plan[role] = new RolePlan([.. keyRefs.Select(r => enrolledByStep[r])], script.Policies.ThresholdOf(role));
        }

        var expires = ExpiryOf("root");
        var built = actions.BuildRoot(new RootPlan(step.Id, script.Repository, step.Version, expires, plan, step.OnlineRoles));
        var md = ParseBuilt(built, step);
        if (md.Signed is not Root root)
        {
            throw new StepFailure($"the item built is {md.Signed.Type}, not a root");
        }

        CheckCommon(md, step.Version, expires);
        foreach (var (role, rolePlan) in plan)
        {
            CheckRoleKeys(role, root.RoleKeys(role).ToList(), root.Roles.TryGetValue(role, out var r) ? r.Threshold : 0, rolePlan.Keys, rolePlan.Threshold);
            roles[role] = (rolePlan.Keys, rolePlan.Threshold);
            roleKeyObjects[role] = root.RoleKeys(role).ToDictionary(k => k.KeyId, StringComparer.Ordinal);
        }

        foreach (var role in step.OnlineRoles)
        {
            var listed = root.RoleKeys(role).ToList();
            if (listed.Count == 0)
            {
                throw new StepFailure($"the root lists no key for the online role {role}");
            }

            if (listed.FirstOrDefault(k => enrolledByStep.Values.Any(e => e.PublicKey.Equals(k.PublicKey))) is { } offline)
            {
                throw new StepFailure($"the root lists the offline key {offline.KeyId} for the online role {role}");
            }
        }

        RecordBuilt(step, md, "root");
        items[step.Id] = (md, "root");
        var lines = new List<string> { $"{script.Repository.Name}: root version {md.Signed.Version}, expires {Rfc3339.Format(md.Signed.Expires)}" };
        foreach (var (role, rolePlan) in plan)
        {
            lines.Add($"{role}: {rolePlan.Threshold} of {string.Join(", ", rolePlan.Keys.Select(k => k.Holder.Id))}");
        }

        lines.AddRange(step.OnlineRoles.Select(r => $"{r}: online ({root.RoleKeys(r).Count()} key(s) from the online side)"));
        lines.Add($"signed sha256: {Sha256(md.SignedBytes())}");
        Confirm(step, "confirm-root", script.Administrator, "administrator", null, $"{script.Administrator.Name}: check the root built and confirm.", lines);
    }

    private void Delegation(CeremonyStep step)
    {
        var keys = step.Keys.Select(r => enrolledByStep[r]).ToList();
        var threshold = step.Threshold ?? script.Policies.ThresholdOf("delegation");
        var expires = ExpiryOf(step.Delegator == "targets" ? "targets" : "delegation");
        var built = actions.BuildDelegation(new DelegationPlan(step.Id, script.Repository, step.Mode!, step.Name!, step.Delegator, keys, threshold, step.Paths, step.Terminating, expires));
        var md = ParseBuilt(built, step);
        if (md.Signed is not Targets targets)
        {
            throw new StepFailure($"the item built is {md.Signed.Type}, not the delegator's targets metadata");
        }

        CheckCommon(md, null, expires);
        var role = targets.Delegations?.Roles?.FirstOrDefault(r => r.Name == step.Name)
            ?? throw new StepFailure($"the metadata built does not delegate to \"{step.Name}\"");
        var listed = role.KeyIds.Select(id => targets.Delegations!.Keys.TryGetValue(id, out var k) ? k : throw new StepFailure($"delegation \"{step.Name}\" names key {id}, which its delegator does not list")).ToList();
        CheckRoleKeys(step.Name!, listed, role.Threshold, keys, threshold);
        if (step.Paths.Count > 0 && (role.Paths is null || !role.Paths.SequenceEqual(step.Paths)))
        {
            throw new StepFailure($"delegation \"{step.Name}\" delegates [{string.Join(", ", role.Paths ?? [])}], not the script's [{string.Join(", ", step.Paths)}]");
        }

        if (role.Terminating != step.Terminating)
        {
            throw new StepFailure($"delegation \"{step.Name}\" is {(role.Terminating ? string.Empty : "not ")}terminating, unlike the script");
        }

        roles[step.Name!] = (keys, threshold);
        roleKeyObjects[step.Name!] = listed.ToDictionary(k => k.KeyId, StringComparer.Ordinal);
        RecordBuilt(step, md, step.Delegator);
        items[step.Id] = (md, step.Delegator);
        Confirm(step, "confirm-delegation", script.Administrator, "administrator", null, $"{script.Administrator.Name}: check the delegation and confirm.",
        [
            $"{step.Delegator} version {md.Signed.Version}, expires {Rfc3339.Format(md.Signed.Expires)}: {step.Mode} delegation \"{step.Name}\"",
            $"{step.Name}: {threshold} of {string.Join(", ", keys.Select(k => k.Holder.Id))}; paths {string.Join(", ", step.Paths)}",
            $"signed sha256: {Sha256(md.SignedBytes())}",
        ]);
    }

    private void DelegatedRole(CeremonyStep step)
    {
        var delegation = script.FindStep(step.DelegationStep!)!;
        var name = delegation.Name!;
        var expires = ExpiryOf("delegation");
        var built = actions.BuildDelegatedRole(new DelegatedRolePlan(step.Id, delegation.Id, name, delegation.Delegator, expires));
        var md = ParseBuilt(built, step);
        if (md.Signed is not Targets)
        {
            throw new StepFailure($"the item built is {md.Signed.Type}, not the targets metadata of {name}");
        }

        CheckCommon(md, null, expires);
        var (keys, threshold) = roles[name];
        RecordBuilt(step, md, name);
        items[step.Id] = (md, name);
        Confirm(step, "confirm-delegated-role", script.Administrator, "administrator", null, $"{script.Administrator.Name}: check the delegated role's next version and confirm.",
        [
            $"{name} version {md.Signed.Version}, expires {Rfc3339.Format(md.Signed.Expires)}, {((Targets)md.Signed).TargetFiles.Count} target(s)",
            $"to be signed by {threshold} of {string.Join(", ", keys.Select(k => k.Holder.Id))}, the keys of \"{delegation.Id}\"",
            $"signed sha256: {Sha256(md.SignedBytes())}",
        ]);
    }

    private void Sign(CeremonyStep step)
    {
        var (md, role) = items[step.Item!];
        var (_, threshold) = roles[role];
        var keyObjects = roleKeyObjects[role];
        var signedBytes = md.SignedBytes();
        var digest = Sha256(signedBytes);
        foreach (var signerId in step.Signers)
        {
            var holder = script.FindHolder(signerId)!;
            var key = enrolledByHolder[signerId];
            Confirm(step, "sign-" + signerId, holder, "key-holder", holder.Device,
                $"{holder.Name}: insert your {holder.Device}, check what you sign, and confirm. Your device will ask for the PIN" + (holder.Device.Kind == DeviceKind.YubiKey ? " and a touch." : "."),
                [$"{role} version {md.Signed.Version}, expires {Rfc3339.Format(md.Signed.Expires)}", $"signed sha256: {digest}"]);
            var sig = actions.Sign(new SignRequest(step.Id, step.Item!, md, holder, key));
            if (sig.DeviceSerial != holder.Device.Serial)
            {
                throw new StepFailure($"the signature was made on device serial {sig.DeviceSerial}, not on {signerId}'s {holder.Device}");
            }

            if (!keyObjects.TryGetValue(sig.KeyId, out var listed))
            {
                throw new StepFailure($"{signerId}'s signature names key {sig.KeyId}, which is not a key of the {role} role");
            }

            if (listed.PublicKey is null || !listed.PublicKey.Equals(key.PublicKey))
            {
                var owner = enrolledByStep.Values.FirstOrDefault(k => listed.PublicKey is not null && k.PublicKey.Equals(listed.PublicKey));
                throw new StepFailure(owner is null
                    ? $"{signerId} signed for key {sig.KeyId}, which is not {signerId}'s enrolled key"
                    : $"{signerId} signed for {owner.Holder.Id}'s key {sig.KeyId}: a holder signs only with their own key");
            }

            if (md.Signatures.Any(s => s.KeyId == sig.KeyId))
            {
                throw new StepFailure($"{role} version {md.Signed.Version} already carries a signature by {signerId}'s key");
            }

            bool valid;
            try
            {
                valid = SignatureVerifier.Verify(key.PublicKey, md.Dialect, listed.KeyType, listed.Scheme, sig.Method, signedBytes, sig.Signature.Span);
            }
            catch (MetadataException e)
            {
                throw new StepFailure($"{signerId}'s signature cannot be checked: {e.Message}");
            }

            if (!valid)
            {
                throw new StepFailure($"{signerId}'s signature does not verify over {role} version {md.Signed.Version}");
            }

            md.AddSignature(Signature.Create(sig.KeyId, sig.Signature.ToArray(), sig.Method, md.Dialect));
            var entry = new JsonObject
            {
                { "step", step.Id },
                { "item", step.Item! },
                { "role", role },
                { "holder", signerId },
                { "device_serial", sig.DeviceSerial },
                { "key_id", sig.KeyId },
                { "fingerprint", key.Fingerprint },
                { "signed_sha256", digest },
                { "sig", Convert.ToHexStringLower(sig.Signature.Span) },
            };
            AddIf(entry, "method", sig.Method);
            transcript.Append(TranscriptEvents.SignatureAdded, entry);
        }

        var laterSigning = script.Steps.Skip(next + 1).Any(s => s.Action == StepAction.Sign && s.Item == step.Item);
        if (!laterSigning && md.Signatures.Count < threshold)
        {
            throw new StepFailure($"{role} version {md.Signed.Version} has {md.Signatures.Count} of the {threshold} signatures it needs");
        }
    }

    private void Export(CeremonyStep step)
    {
        var signedItems = step.Items.Select(id => new SignedItem(id, items[id].Metadata)).ToList();
        foreach (var item in signedItems)
        {
            var (_, role) = items[item.StepId];
            if (item.Metadata.Signatures.Count < roles[role].Threshold)
            {
                throw new StepFailure($"\"{item.StepId}\" has {item.Metadata.Signatures.Count} of the {roles[role].Threshold} signatures it needs and cannot leave");
            }
        }

        Confirm(step, "export", script.Administrator, "administrator", null,
            $"{script.Administrator.Name}: insert the export medium and confirm. The bundle carries {signedItems.Count} item(s) and the evidence of {evidence.Count} key(s).",
            [.. signedItems.Select(i => $"{i.Metadata.Signed.Type} version {i.Metadata.Signed.Version}: {i.Metadata.Signatures.Count} signature(s)")]);
        bundle = actions.Export(new ExportRequest(step.Id, script.Repository, signedItems, evidence));
        transcript.Append(TranscriptEvents.BundleExported, new JsonObject
        {
            { "step", step.Id }, { "bundle_id", bundle.BundleId }, { "manifest_sha256", bundle.ManifestSha256 }, { "location", bundle.Location },
        });
    }

    private void Seal(CeremonyStep step)
    {
        foreach (var keyRef in step.Keys)
        {
            var key = enrolledByStep[keyRef];
            var holder = key.Holder;
            Confirm(step, "seal-" + holder.Id, holder, "key-holder", holder.Device,
                $"{holder.Name}: insert your {holder.Device} and confirm to seal the transcript with your key. Your device will ask for the PIN" + (holder.Device.Kind == DeviceKind.YubiKey ? " and a touch." : "."),
                [$"the transcript so far: {transcript.HeadSequence} entries, head sha256 {transcript.HeadSha256}"]);
            var coversSeq = transcript.HeadSequence;
            var coversSha256 = transcript.HeadSha256;
            var sealedAt = transcript.Clock.GetUtcNow();
            var sealedAtText = Audit.ChainedLine.FormatTime(sealedAt);
            var keyObject = KeyFormats.Encode(key.PublicKey, Dialect.TufSpecification);
            var signature = actions.Seal(new SealRequest(step.Id, key, transcript.ToArray(), script.CeremonyId, coversSeq, coversSha256, sealedAtText));
            if (!SealStatement.Verify(keyObject, script.CeremonyId, coversSeq, coversSha256, sealedAtText, signature))
            {
                throw new StepFailure($"{holder.Id}'s seal signature does not verify");
            }

            transcript.Append(TranscriptEvents.SealSignature, new JsonObject
            {
                { "step", step.Id },
                { "holder", holder.Id },
                { "public_key", Convert.ToBase64String(key.PublicKey.SubjectPublicKeyInfo.Span) },
                { "keytype", ((JsonString)keyObject["keytype"]).Value },
                { "scheme", ((JsonString)keyObject["scheme"]).Value },
                { "key_id", KeyFormats.ComputeKeyId(keyObject) },
                { "fingerprint", key.Fingerprint },
                { "covers_seq", coversSeq },
                { "covers_sha256", coversSha256 },
                { "sig", Convert.ToHexStringLower(signature) },
            }, sealedAt);
        }
    }

    private void Confirm(CeremonyStep step, string what, Person actor, string part, Device? device, string text, IReadOnlyList<string> details)
    {
        var prompt = new CeremonyPrompt(step.Id, $"{step.Id}/{what}", actor, part, device, mode == CeremonyMode.Rehearsal ? "[REHEARSAL] " + text : text, details);
        var entry = new JsonObject
        {
            { "step", step.Id },
            { "prompt", prompt.PromptId },
            { "actor", actor.Id },
            { "part", part },
            { "text", prompt.Text },
            { "details", new JsonArray(details.Select(d => (JsonNode)d)) },
        };
        if (device is not null)
        {
            entry.Add("device_kind", device.KindName);
            entry.Add("device_serial", device.Serial);
        }

        transcript.Append(TranscriptEvents.Prompt, entry);
        var answer = Clean(op.Ask(prompt));
        transcript.Append(TranscriptEvents.Answer, new JsonObject { { "step", step.Id }, { "prompt", prompt.PromptId }, { "actor", actor.Id }, { "answer", answer } });
        if (!string.Equals(answer, CeremonyPrompt.Confirm, StringComparison.OrdinalIgnoreCase))
        {
            throw new StepFailure($"{actor.Id} did not confirm {prompt.PromptId} (answered \"{answer}\")");
        }
    }

    private Metadata<Signed> ParseBuilt(BuiltItem built, CeremonyStep step)
    {
        Metadata<Signed> md;
        try
        {
            md = MetadataReader.Parse(built.Document.Span);
        }
        catch (MetadataException e)
        {
            throw new StepFailure($"the metadata built for step \"{step.Id}\" is not valid: {e.Message}");
        }

        if (md.Dialect != script.Repository.Dialect)
        {
            throw new StepFailure($"the metadata built is in the {md.Dialect} dialect, not the repository's {script.Repository.Dialect}");
        }

        if (md.Signatures.Count > 0)
        {
            throw new StepFailure("the metadata built already carries signatures; items are signed only in the ceremony");
        }

        return md;
    }

    private static void CheckCommon(Metadata<Signed> md, long? version, DateTimeOffset expires)
    {
        if (version is long v && md.Signed.Version != v)
        {
            throw new StepFailure($"the metadata built has version {md.Signed.Version}, not {v}");
        }

        if (Rfc3339.Format(md.Signed.Expires) != Rfc3339.Format(expires))
        {
            throw new StepFailure($"the metadata built expires {Rfc3339.Format(md.Signed.Expires)}, not {Rfc3339.Format(expires)} as the policy says");
        }
    }

    private static void CheckRoleKeys(string role, List<Key> listed, int listedThreshold, IReadOnlyList<EnrolledKey> planned, int threshold)
    {
        var listedPrints = listed.Select(k => k.PublicKey?.Fingerprint ?? "unsupported:" + k.KeyId).ToHashSet(StringComparer.Ordinal);
        var plannedPrints = planned.Select(k => k.Fingerprint).ToHashSet(StringComparer.Ordinal);
        if (!listedPrints.SetEquals(plannedPrints) || listed.Count != planned.Count)
        {
            throw new StepFailure($"the metadata built lists other keys for {role} than the ceremony enrolled for it");
        }

        if (listedThreshold != threshold)
        {
            throw new StepFailure($"the metadata built sets the {role} threshold to {listedThreshold}, not {threshold}");
        }
    }

    private void RecordBuilt(CeremonyStep step, Metadata<Signed> md, string signingRole)
    {
        transcript.Append(TranscriptEvents.MetadataBuilt, new JsonObject
        {
            { "step", step.Id },
            { "type", Signed.TypeName(md.Signed.Type, md.Dialect) },
            { "signing_role", signingRole },
            { "version", md.Signed.Version },
            { "expires", Rfc3339.Format(md.Signed.Expires) },
            { "signed_sha256", Sha256(md.SignedBytes()) },
            { "document", Convert.ToBase64String(md.ToBytes()) },
        });
    }

    private DateTimeOffset ExpiryOf(string role)
    {
        var now = transcript.Clock.GetUtcNow();
        var start = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, now.Minute, now.Second, TimeSpan.Zero);
        return start.AddDays(script.Policies.ExpiryDays[role]);
    }

    private static void CheckPivPolicy(AttestationVerdict verdict, YubiKeyPolicy policy, List<string> problems)
    {
        static int Rank(string? p) => p switch { "always" => 2, "once" or "cached" => 1, "never" => 0, _ => -1 };
        if (Rank(verdict.PinPolicy) < Rank(policy.PinPolicy))
        {
            problems.Add($"PIN policy {verdict.PinPolicy ?? "(not attested)"} is weaker than the required {policy.PinPolicy}");
        }

        if (Rank(verdict.TouchPolicy) < Rank(policy.TouchPolicy))
        {
            problems.Add($"touch policy {verdict.TouchPolicy ?? "(not attested)"} is weaker than the required {policy.TouchPolicy}");
        }

        if (policy.MinFirmware is { } min && CeremonyScriptReader.TryParseFirmware(min, out var minimum)
            && (verdict.Firmware is null || !CeremonyScriptReader.TryParseFirmware(verdict.Firmware, out var fw) || fw < minimum))
        {
            problems.Add($"firmware {verdict.Firmware ?? "(not attested)"} is below the required {min}");
        }
    }

    private static bool Matches(PublicKey key, KeyAlgorithm algorithm) => algorithm switch
    {
        KeyAlgorithm.EcdsaP256 => key.Family == KeyFamily.Ecdsa && key.Curve == "P-256",
        KeyAlgorithm.EcdsaP384 => key.Family == KeyFamily.Ecdsa && key.Curve == "P-384",
        KeyAlgorithm.Ed25519 => key.Family == KeyFamily.Ed25519,
        KeyAlgorithm.Rsa2048 => key.Family == KeyFamily.Rsa && key.KeySizeBits == 2048,
        KeyAlgorithm.Rsa3072 => key.Family == KeyFamily.Rsa && key.KeySizeBits == 3072,
        _ => key.Family == KeyFamily.Rsa && key.KeySizeBits == 4096,
    };

    private static string Sha256(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private static string Clean(string? answer)
    {
        var s = new string((answer ?? string.Empty).Where(c => !char.IsControl(c)).ToArray()).Trim();
        return s.Length > 200 ? s[..200] : s;
    }

    private static void AddIf(JsonObject o, string key, string? value)
    {
        if (value is not null)
        {
            o.Add(key, value);
        }
    }

    /// <summary>A check inside a step failed; becomes <see cref="CeremonyStepFailedException"/>.</summary>
    private sealed class StepFailure(string message) : Exception(message);
}
