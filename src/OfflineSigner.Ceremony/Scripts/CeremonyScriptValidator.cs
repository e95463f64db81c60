// Checks a ceremony script before the day, docs/ceremony.md "Validation".
using OfflineSigner.Tuf;

namespace OfflineSigner.Ceremony.Scripts;

/// <summary>How serious a finding is.</summary>
public enum FindingSeverity
{
    /// <summary>The ceremony cannot run as written.</summary>
    Error,

    /// <summary>The ceremony can run, but something deserves a second look.</summary>
    Warning,
}

/// <summary>One thing the validator found, at a field of the script.</summary>
public sealed record ScriptFinding(FindingSeverity Severity, string Path, string Message)
{
    /// <summary>"error: $.steps[2].holder: ...".</summary>
    public override string ToString() => $"{(Severity == FindingSeverity.Error ? "error" : "warning")}: {Path}: {Message}";
}

/// <summary>The result of validating a script: the script when it could be read, and every finding.</summary>
public sealed record ScriptValidation(CeremonyScript? Script, IReadOnlyList<ScriptFinding> Findings)
{
    /// <summary>True when there is no error (warnings allowed).</summary>
    public bool Valid => Script is not null && Findings.All(f => f.Severity != FindingSeverity.Error);

    /// <summary>The errors.</summary>
    public IEnumerable<ScriptFinding> Errors => Findings.Where(f => f.Severity == FindingSeverity.Error);

    /// <summary>The warnings.</summary>
    public IEnumerable<ScriptFinding> Warnings => Findings.Where(f => f.Severity == FindingSeverity.Warning);
}

/// <summary>
/// Checks what the format alone cannot: references between steps and people, that every threshold can be met by
/// the holders listed to sign, one key per holder and per device serial, that the policies can be met by the
/// steps and devices, and that expiries are sane.
/// </summary>
public static class CeremonyScriptValidator
{
    private static readonly Version EucleakFixed = new(5, 7, 0);

    /// <summary>Parses and validates a script given as bytes; a format error becomes one error finding.</summary>
    public static ScriptValidation Validate(ReadOnlySpan<byte> utf8)
    {
        CeremonyScript script;
        try
        {
            script = CeremonyScriptReader.Parse(utf8);
        }
        catch (CeremonyFormatException e)
        {
            return new ScriptValidation(null, [new ScriptFinding(FindingSeverity.Error, e.FieldPath ?? "$", e.Reason ?? e.Message)]);
        }

        return Validate(script);
    }

    /// <summary>Validates a parsed script.</summary>
    public static ScriptValidation Validate(CeremonyScript script)
    {
        ArgumentNullException.ThrowIfNull(script);
        var v = new Run(script);
        v.CheckPeople();
        v.CheckPolicies();
        v.CheckSteps();
        return new ScriptValidation(script, v.Findings);
    }

    private sealed class Run(CeremonyScript script)
    {
        // The generate-key step of each holder, and the step ids seen so far with their index.
        private readonly Dictionary<string, CeremonyStep> keyOfHolder = new(StringComparer.Ordinal);
        private readonly Dictionary<string, int> stepIndex = new(StringComparer.Ordinal);

        // What each built item needs: the role that signs it, its keys (generate-key step ids) and threshold; and the signers collected.
        private readonly Dictionary<string, (string Role, IReadOnlyList<string> Keys, int Threshold)> items = new(StringComparer.Ordinal);
        private readonly Dictionary<string, HashSet<string>> signed = new(StringComparer.Ordinal);

        // Keys of roles built in this ceremony: top-level roles from build-root, delegations by name.
        private readonly Dictionary<string, (IReadOnlyList<string> Keys, int Threshold)> roleKeys = new(StringComparer.Ordinal);

        public List<ScriptFinding> Findings { get; } = [];

        private CeremonyPolicies Policies => script.Policies;

        public void CheckPeople()
        {
            var ids = new Dictionary<string, string>(StringComparer.Ordinal) { [script.Administrator.Id] = "$.people.administrator" };
            for (var i = 0; i < script.KeyHolders.Count; i++)
            {
                Unique(ids, script.KeyHolders[i].Id, $"$.people.key_holders[{i}].id");
            }

            for (var i = 0; i < script.Witnesses.Count; i++)
            {
                Unique(ids, script.Witnesses[i].Id, $"$.people.witnesses[{i}].id");
            }

            if (script.KeyHolders.Count == 0)
            {
                Error("$.people.key_holders", "a ceremony needs at least one key holder");
            }

            var serials = new Dictionary<(DeviceKind, string), string>();
            for (var i = 0; i < script.KeyHolders.Count; i++)
            {
                var h = script.KeyHolders[i];
                if (serials.TryGetValue((h.Device.Kind, h.Device.Serial), out var other))
                {
                    Error($"$.people.key_holders[{i}].device.serial", $"{h.Device} is already {other}'s device: one key per device serial");
                }
                else
                {
                    serials[(h.Device.Kind, h.Device.Serial)] = h.Id;
                }
            }

            var witnessKeys = new Dictionary<string, string>(StringComparer.Ordinal);
            for (var i = 0; i < script.Witnesses.Count; i++)
            {
                var keyId = Tuf.Crypto.KeyFormats.ComputeKeyId(script.Witnesses[i].PublicKey);
                if (witnessKeys.TryGetValue(keyId, out var other))
                {
                    Error($"$.people.witnesses[{i}].public_key", $"the same key as witness {other}'s: each witness signs with their own key");
                }
                else
                {
                    witnessKeys[keyId] = script.Witnesses[i].Id;
                }
            }

            if (script.Witnesses.Count == 0)
            {
                Warning("$.people.witnesses", "no witness: nobody outside the key holders will attest to the transcript");
            }
        }

        public void CheckPolicies()
        {
            var e = Policies.ExpiryDays;
            var root = e["root"];
            if (root > 3650)
            {
                Error("$.policies.expiry_days.root", $"{root} days is more than ten years: a root that outlives its keys' custody cannot be trusted");
            }
            else if (root > 1825)
            {
                Warning("$.policies.expiry_days.root", $"{root} days is more than five years");
            }
            else if (root < 30)
            {
                Warning("$.policies.expiry_days.root", $"{root} days: the root will need a new ceremony within a month");
            }

            Order(e, "timestamp", "snapshot");
            Order(e, "snapshot", "targets");
            Order(e, "targets", "root");
            Order(e, "delegation", "root");
            if (!Policies.RequireAttestation)
            {
                Warning("$.policies.require_attestation", "keys enter without attestation evidence: nobody can later show they were generated in hardware");
            }

            var y = Policies.YubiKey;
            var usesYubiKeys = script.KeyHolders.Any(h => h.Device.Kind == DeviceKind.YubiKey);
            if (usesYubiKeys && (y.PinPolicy != "always" || y.TouchPolicy != "always"))
            {
                Error("$.policies.yubikey", $"pin_policy \"{y.PinPolicy}\" and touch_policy \"{y.TouchPolicy}\": root and offline keys need both \"always\"");
            }

            if (Policies.Thresholds.TryGetValue("root", out var rt) && rt == 1)
            {
                Warning("$.policies.thresholds.root", "threshold 1: any single root key can sign a new root");
            }
        }

        public void CheckSteps()
        {
            var steps = script.Steps;
            if (steps.Count == 0)
            {
                Error("$.steps", "a ceremony needs steps");
                return;
            }

            for (var i = 0; i < steps.Count; i++)
            {
                var s = steps[i];
                if (stepIndex.ContainsKey(s.Id))
                {
                    Error(s.Path + ".id", $"step id \"{s.Id}\" is used twice");
                    continue;
                }

                switch (s.Action)
                {
                    case StepAction.GenerateKey:
                        GenerateKey(s);
                        break;
                    case StepAction.EnrollKey:
                        EnrollKey(s);
                        break;
                    case StepAction.DelegatedRole:
                        DelegatedRole(s);
                        break;
                    case StepAction.BuildRoot:
                        BuildRoot(s);
                        break;
                    case StepAction.Sign:
                        Sign(s);
                        break;
                    case StepAction.Delegation:
                        Delegation(s);
                        break;
                    case StepAction.ExportBundle:
                        Export(s, i);
                        break;
                    case StepAction.Seal:
                        Seal(s, i);
                        break;
                }

                stepIndex[s.Id] = i;
            }

            if (steps.FirstOrDefault(s => s.Action == StepAction.EnrollKey) is { } enroll && steps.Any(s => s.Action == StepAction.BuildRoot))
            {
                Error(enroll.Path, "enroll-key brings a key of the repository's current trusted root, and build-root makes a new root: one ceremony does one or the other");
            }

            if (steps[^1].Action != StepAction.Seal)
            {
                Error($"$.steps[{steps.Count - 1}]", "the last step must be a seal step: the transcript is sealed when the ceremony ends");
            }

            foreach (var (item, need) in items)
            {
                if (!steps.Any(s => s.Action == StepAction.ExportBundle && s.Items.Contains(item)))
                {
                    Warning(script.FindStep(item)!.Path, $"the item built by \"{item}\" is never exported, so it never leaves the ceremony");
                }
            }

            if (!steps.Any(s => s.Action == StepAction.ExportBundle) && items.Count > 0)
            {
                Warning("$.steps", "no export-bundle step: nothing built in the ceremony leaves it");
            }
        }

        private void GenerateKey(CeremonyStep s)
        {
            if (KeyHolderOf(s) is not { } holder)
            {
                return;
            }
            if (!Policies.Algorithms.Contains(s.Algorithm!))
            {
                Error(s.Path + ".algorithm", $"\"{s.Algorithm}\" is not among the policy's algorithms ({string.Join(", ", Policies.Algorithms)})");
            }

            if (!CeremonyScriptReader.Algorithms.Contains(s.Algorithm!))
            {
                Error(s.Path + ".algorithm", $"\"{s.Algorithm}\" is not one of {string.Join(", ", CeremonyScriptReader.Algorithms)}");
                return;
            }

            if (holder.Device.Kind == DeviceKind.YubiKey)
            {
                Version? min = Policies.YubiKey.MinFirmware is { } m && CeremonyScriptReader.TryParseFirmware(m, out var parsed) ? parsed : null;
                if (s.Algorithm == "ed25519" && (min is null || min < EucleakFixed))
                {
                    Error(s.Path + ".algorithm", "Ed25519 on a YubiKey needs firmware 5.7.0 or later: set policies.yubikey.min_firmware to \"5.7.0\"");
                }
                else if (s.Algorithm!.StartsWith("ecdsa", StringComparison.Ordinal) && (min is null || min < EucleakFixed))
                {
                    Warning(s.Path + ".algorithm", "ECDSA on YubiKey firmware below 5.7.0 is exposed to EUCLEAK; the enrollment refuses such devices unless policy allows them (set policies.yubikey.min_firmware to \"5.7.0\" to say so here)");
                }
            }
        }

        private void EnrollKey(CeremonyStep s)
        {
            if (KeyHolderOf(s) is null)
            {
                return;
            }

            var role = s.Role!;
            var keys = roleKeys.TryGetValue(role, out var known) ? [.. known.Keys, s.Id] : new List<string> { s.Id };
            roleKeys[role] = (keys, Policies.ThresholdOf(role));
        }

        // The holder of a generate-key or enroll-key step, once theirs: one key per holder (and so per device).
        private KeyHolder? KeyHolderOf(CeremonyStep s)
        {
            var holder = script.FindHolder(s.Holder!);
            if (holder is null)
            {
                Error(s.Path + ".holder", $"\"{s.Holder}\" is not a key holder of this script");
                return null;
            }

            if (keyOfHolder.TryGetValue(holder.Id, out var earlier))
            {
                Error(s.Path + ".holder", $"{holder.Id} already has a key in step \"{earlier.Id}\" ({earlier.ActionText}): one key per holder and per device");
                return null;
            }

            keyOfHolder[holder.Id] = s;
            return holder;
        }

        private void DelegatedRole(CeremonyStep s)
        {
            var d = script.FindStep(s.DelegationStep!);
            if (d is null || d.Action != StepAction.Delegation || !stepIndex.ContainsKey(d.Id))
            {
                Error(s.Path + ".delegation", d is null
                    ? $"no step \"{s.DelegationStep}\" in this script"
                    : d.Action != StepAction.Delegation ? $"step \"{d.Id}\" is a {d.ActionText} step, not delegation" : $"step \"{d.Id}\" comes later: the delegated role follows its delegation");
                return;
            }

            if (script.Steps.Any(o => o.Action == StepAction.DelegatedRole && o.DelegationStep == d.Id && stepIndex.ContainsKey(o.Id)))
            {
                Error(s.Path + ".delegation", $"the delegated role of \"{d.Id}\" already gets its next version in an earlier step");
            }

            if (!Policies.ExpiryDays.ContainsKey("delegation"))
            {
                Error("$.policies.expiry_days", $"step \"{s.Id}\" builds a new version of {d.Name}, so expiry_days.delegation is needed");
            }

            if (roleKeys.TryGetValue(d.Name!, out var keys))
            {
                items[s.Id] = (d.Name!, keys.Keys, keys.Threshold);
                signed[s.Id] = [];
            }
        }

        private void BuildRoot(CeremonyStep s)
        {
            if (items.Values.Any(i => i.Role == "root"))
            {
                Error(s.Path, "a second build-root step: one ceremony builds one root");
            }

            if (s.Version < 1)
            {
                Error(s.Path + ".version", "a root's version starts at 1");
            }

            foreach (var role in Root.TopLevelRoles)
            {
                var listed = s.RoleKeys.ContainsKey(role);
                var online = s.OnlineRoles.Contains(role);
                if (listed && online)
                {
                    Error($"{s.Path}.keys.{role}", $"{role} is listed both with keys and as an online role");
                }
                else if (!listed && !online)
                {
                    Error($"{s.Path}.keys", role == "root" ? "the root role needs keys" : $"{role} needs keys, or must be named in online_roles");
                }
            }

            if (s.OnlineRoles.Contains("root"))
            {
                Error(s.Path + ".online_roles", "the root role is never online");
            }

            foreach (var (role, keys) in s.RoleKeys)
            {
                var path = $"{s.Path}.keys.{role}";
                var checkedKeys = KeyReferences(keys, path);
                var threshold = Policies.ThresholdOf(role);
                if (checkedKeys.Count < threshold)
                {
                    Error(path, $"{checkedKeys.Count} key(s) cannot meet the {role} threshold of {threshold}");
                }

                if (role == "root" && script.Repository.Dialect == Dialect.Notary && threshold > 1)
                {
                    Warning($"$.policies.thresholds.root", "notary clients may refuse a root threshold above 1");
                }

                roleKeys[role] = (checkedKeys, threshold);
            }

            if (!Policies.ExpiryDays.ContainsKey("targets") && s.RoleKeys.ContainsKey("targets"))
            {
                Warning("$.policies.expiry_days", "no targets expiry: the targets role's expiry is left to the online side");
            }

            if (s.RoleKeys.TryGetValue("root", out var rootKeys))
            {
                items[s.Id] = ("root", KeyReferences(rootKeys, null), Policies.ThresholdOf("root"));
                signed[s.Id] = [];
            }
        }

        private void Delegation(CeremonyStep s)
        {
            if (s.Name is "root" or "targets" or "snapshot" or "timestamp")
            {
                Error(s.Path + ".name", $"\"{s.Name}\" is a top-level role, not a delegation");
            }

            if (script.Repository.Dialect == Dialect.Notary && !s.Name!.StartsWith(s.Delegator + "/", StringComparison.Ordinal))
            {
                Error(s.Path + ".name", $"notary names a delegated role by its path: \"{s.Delegator}/{s.Name}\", not \"{s.Name}\"");
            }

            if (!roleKeys.TryGetValue(s.Delegator, out var delegator))
            {
                Error(s.Path + ".delegator", $"the keys of \"{s.Delegator}\" are not enrolled earlier in this ceremony, so its signers cannot be checked");
            }

            if (s.Mode == "create" && roleKeys.ContainsKey(s.Name!))
            {
                Error(s.Path + ".name", $"delegation \"{s.Name}\" is created twice");
            }

            if (s.Mode == "create" && s.Paths.Count == 0)
            {
                Error(s.Path + ".paths", "a new delegation needs the paths it delegates");
            }

            var keys = KeyReferences(s.Keys, s.Path + ".keys");
            var threshold = s.Threshold ?? Policies.ThresholdOf("delegation");
            if (threshold < 1)
            {
                Error(s.Path + ".threshold", "a threshold is at least 1");
            }
            else if (keys.Count < threshold)
            {
                Error(s.Path + ".keys", $"{keys.Count} key(s) cannot meet the delegation threshold of {threshold}");
            }

            var expiryRole = s.Delegator == "targets" ? "targets" : "delegation";
            if (!Policies.ExpiryDays.ContainsKey(expiryRole))
            {
                Error("$.policies.expiry_days", $"step \"{s.Id}\" builds a new version of {s.Delegator}, so expiry_days.{expiryRole} is needed");
            }

            roleKeys[s.Name!] = (keys, threshold);
            if (delegator.Keys is not null)
            {
                items[s.Id] = (s.Delegator, delegator.Keys, delegator.Threshold);
                signed[s.Id] = [];
            }
        }

        private void Sign(CeremonyStep s)
        {
            if (!stepIndex.ContainsKey(s.Item!))
            {
                Error(s.Path + ".item", script.FindStep(s.Item!) is null
                    ? $"no step \"{s.Item}\" in this script"
                    : $"step \"{s.Item}\" comes later: an item is signed after it is built");
                return;
            }

            if (!items.TryGetValue(s.Item!, out var item))
            {
                Error(s.Path + ".item", $"step \"{s.Item}\" builds nothing to sign (build-root, delegation and delegated-role steps do)");
                return;
            }

            if (s.Signers.Count == 0)
            {
                Error(s.Path + ".signers", "no signer");
            }

            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < s.Signers.Count; i++)
            {
                var path = $"{s.Path}.signers[{i}]";
                var who = s.Signers[i];
                if (!seen.Add(who))
                {
                    Error(path, $"{who} is listed twice: each holder signs once");
                    continue;
                }

                if (script.FindHolder(who) is null)
                {
                    Error(path, $"\"{who}\" is not a key holder of this script");
                    continue;
                }

                if (!keyOfHolder.TryGetValue(who, out var key) || !item.Keys.Contains(key.Id))
                {
                    Error(path, $"{who} holds no key of the {item.Role} role that signs \"{s.Item}\"");
                    continue;
                }

                if (!signed[s.Item!].Add(who))
                {
                    Error(path, $"{who} already signed \"{s.Item}\" in an earlier step");
                }
            }

            if (signed[s.Item!].Count < item.Threshold)
            {
                var missing = item.Threshold - signed[s.Item!].Count;
                if (!script.Steps.Skip(stepIndex.Count + 1).Any(later => later.Action == StepAction.Sign && later.Item == s.Item))
                {
                    Error(s.Path + ".signers", $"\"{s.Item}\" needs {item.Threshold} signatures of {item.Role} keys; the signers listed give {signed[s.Item!].Count} ({missing} short)");
                }
            }
        }

        private void Export(CeremonyStep s, int index)
        {
            if (script.Steps.Take(index).Any(p => p.Action == StepAction.ExportBundle))
            {
                Error(s.Path, "a second export-bundle step: one ceremony exports one bundle");
            }

            for (var i = 0; i < s.Items.Count; i++)
            {
                var path = $"{s.Path}.items[{i}]";
                var id = s.Items[i];
                if (!items.TryGetValue(id, out var item))
                {
                    Error(path, stepIndex.ContainsKey(id) ? $"step \"{id}\" builds nothing to export" : $"no earlier step \"{id}\"");
                }
                else if (signed[id].Count < item.Threshold)
                {
                    Error(path, $"\"{id}\" would leave with {signed[id].Count} of the {item.Threshold} signatures it needs");
                }
            }
        }

        private void Seal(CeremonyStep s, int index)
        {
            if (index != script.Steps.Count - 1)
            {
                Error(s.Path, "the seal step must be the last step");
            }

            if (s.Keys.Count == 0)
            {
                Error(s.Path + ".keys", "a seal needs at least one key");
            }

            _ = KeyReferences(s.Keys, s.Path + ".keys");
        }

        // Checks that each reference names an earlier generate-key or enroll-key step, once; returns the good ones.
        private List<string> KeyReferences(IReadOnlyList<string> keys, string? path)
        {
            var good = new List<string>();
            for (var i = 0; i < keys.Count; i++)
            {
                var id = keys[i];
                var at = $"{path}[{i}]";
                var step = script.FindStep(id);
                if (step is null || step.Action is not (StepAction.GenerateKey or StepAction.EnrollKey))
                {
                    if (path is not null)
                    {
                        Error(at, step is null ? $"no step \"{id}\" in this script" : $"step \"{id}\" is a {step.ActionText} step, not generate-key or enroll-key");
                    }
                }
                else if (!stepIndex.ContainsKey(id))
                {
                    if (path is not null)
                    {
                        Error(at, $"step \"{id}\" comes later: a key is used after it is generated or brought");
                    }
                }
                else if (good.Contains(id))
                {
                    if (path is not null)
                    {
                        Error(at, $"key \"{id}\" is listed twice");
                    }
                }
                else
                {
                    good.Add(id);
                }
            }

            return good;
        }

        private void Order(IReadOnlyDictionary<string, int> e, string shorter, string longer)
        {
            if (e.TryGetValue(shorter, out var a) && e.TryGetValue(longer, out var b) && a > b)
            {
                Warning($"$.policies.expiry_days.{shorter}", $"{shorter} ({a} days) outlives {longer} ({b} days)");
            }
        }

        private void Unique(Dictionary<string, string> ids, string id, string path)
        {
            if (ids.TryGetValue(id, out var other))
            {
                Error(path, $"\"{id}\" is already used at {other}: each person takes one part");
            }
            else
            {
                ids[id] = path;
            }
        }

        private void Error(string path, string message) => Findings.Add(new ScriptFinding(FindingSeverity.Error, path, message));

        private void Warning(string path, string message) => Findings.Add(new ScriptFinding(FindingSeverity.Warning, path, message));
    }
}
