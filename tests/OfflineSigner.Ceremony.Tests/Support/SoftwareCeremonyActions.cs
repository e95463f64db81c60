using System.Security.Cryptography;
using OfflineSigner.Ceremony.Engine;
using OfflineSigner.Ceremony.Scripts;
using OfflineSigner.Signing;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Json;
using TufKey = OfflineSigner.Tuf.Key;

namespace OfflineSigner.Ceremony.Tests.Support;

/// <summary>
/// <see cref="ICeremonyActions"/> with software keys standing in for each holder's device, a test PIV attestation
/// authority, real TUF metadata built with the project's model and a bundle written as a plain folder. Faults can
/// be injected to prove the runner refuses them. The real implementation (daemon, bundles) comes with issues 5 and 6.
/// </summary>
internal sealed class SoftwareCeremonyActions : ICeremonyActions, IDisposable
{
    private readonly Dictionary<string, SoftwareKeySigner> keyOfHolder = new(StringComparer.Ordinal);
    private readonly string bundleRoot;

    public SoftwareCeremonyActions(TestAttestationAuthority authority, string bundleRoot)
    {
        Authority = authority;
        this.bundleRoot = bundleRoot;
    }

    public TestAttestationAuthority Authority { get; }

    /// <summary>Online keys the "online side" contributes to the root (snapshot, timestamp).</summary>
    public Dictionary<string, SoftwareKeySigner> OnlineKeys { get; } = new(StringComparer.Ordinal);

    /// <summary>Faults: the device serial a holder's generation reports instead of theirs.</summary>
    public Dictionary<string, string> ReportSerial { get; } = new(StringComparer.Ordinal);

    /// <summary>Faults: attestation signed by this authority instead (an untrusted CA), per holder.</summary>
    public Dictionary<string, TestAttestationAuthority> AttestWith { get; } = new(StringComparer.Ordinal);

    /// <summary>Faults: attest another key than the generated one, per holder.</summary>
    public HashSet<string> AttestOtherKey { get; } = new(StringComparer.Ordinal);

    /// <summary>Faults: weaker touch policy in the attestation, per holder.</summary>
    public Dictionary<string, string> AttestTouch { get; } = new(StringComparer.Ordinal);

    /// <summary>Faults: a PKCS#11 key that is extractable, per holder.</summary>
    public HashSet<string> ExtractableKey { get; } = new(StringComparer.Ordinal);

    /// <summary>Faults: holder signs with another holder's key (and on that holder's device).</summary>
    public Dictionary<string, string> SignWithKeyOf { get; } = new(StringComparer.Ordinal);

    /// <summary>Faults: the signature is corrupted, per holder.</summary>
    public HashSet<string> CorruptSignature { get; } = new(StringComparer.Ordinal);

    /// <summary>Faults: the root lists an extra key for root.</summary>
    public bool RootWithExtraKey { get; set; }

    public List<string> Calls { get; } = [];

    public string? BundleDir { get; private set; }

    public SoftwareKeySigner KeyOf(string holder) => keyOfHolder[holder];

    public GeneratedKey GenerateKey(KeyGenerationRequest request)
    {
        Calls.Add("generate " + request.Holder.Id);
        var key = SoftwareKeySigner.Generate(request.Algorithm);
        keyOfHolder[request.Holder.Id] = key;
        var serial = ReportSerial.TryGetValue(request.Holder.Id, out var s) ? s : request.Holder.Device.Serial;
        return new GeneratedKey(key.SubjectPublicKeyInfo, $"test:{request.Holder.Device.KindName}:serial={serial}", serial);
    }

    // Ceremonies on an existing repository run against the daemon and real bundles (tests/OfflineSigner.CeremonyRun.Tests).
    public GeneratedKey FindKey(KeyLookupRequest request) => throw new NotSupportedException("the software actions hold new-repository ceremonies only");

    public ReadOnlyMemory<byte> TrustedRoot() => throw new NotSupportedException("the software actions hold new-repository ceremonies only");

    public BuiltItem BuildDelegatedRole(DelegatedRolePlan plan) => throw new NotSupportedException("the software actions hold new-repository ceremonies only");

    public AttestationEvidence Attest(GeneratedKey key, KeyHolder holder)
    {
        Calls.Add("attest " + holder.Id);
        var spki = key.SubjectPublicKeyInfo.ToArray();
        if (AttestOtherKey.Contains(holder.Id))
        {
            using var other = SoftwareKeySigner.Generate(KeyAlgorithm.EcdsaP256);
            spki = other.SubjectPublicKeyInfo.ToArray();
        }

        if (holder.Device.Kind == DeviceKind.Pkcs11)
        {
            var extractable = ExtractableKey.Contains(holder.Id);
            return Pkcs11AttributeReport.Create(
                new KeyProtectionEvidence("pkcs11", key.KeyReference, true, !extractable, !extractable, extractable, !extractable, "CKM_EC_KEY_PAIR_GEN"),
                key.DeviceSerial,
                spki);
        }

        var authority = AttestWith.TryGetValue(holder.Id, out var a) ? a : Authority;
        return authority.Attest(spki, key.DeviceSerial, touch: AttestTouch.TryGetValue(holder.Id, out var t) ? t : "always");
    }

    public BuiltItem BuildRoot(RootPlan plan)
    {
        Calls.Add("build-root");
        var dialect = plan.Repository.Dialect;
        var root = Root.Create(dialect, plan.Expires);
        if (plan.Version != 1)
        {
            root.SetVersion(plan.Version);
        }

        foreach (var (role, rolePlan) in plan.Roles)
        {
            foreach (var k in rolePlan.Keys)
            {
                root.AddKey(role, TufKey.FromPublicKey(k.PublicKey, dialect));
            }

            root.SetThreshold(role, rolePlan.Threshold);
        }

        if (RootWithExtraKey)
        {
            using var extra = SoftwareKeySigner.Generate(KeyAlgorithm.EcdsaP256);
            root.AddKey("root", TufKey.FromPublicKey(extra.PublicKey, dialect));
        }

        foreach (var role in plan.OnlineRoles)
        {
            var online = SoftwareKeySigner.Generate(KeyAlgorithm.Ed25519);
            OnlineKeys[role] = online;
            root.AddKey(role, TufKey.FromPublicKey(online.PublicKey, dialect));
        }

        return new BuiltItem(plan.StepId, Metadata<Root>.Create(root).ToBytes());
    }

    public BuiltItem BuildDelegation(DelegationPlan plan)
    {
        Calls.Add("build-delegation " + plan.Name);
        var dialect = plan.Repository.Dialect;
        var targets = Targets.Create(dialect, plan.Expires);
        targets.AddDelegation(plan.Name, [.. plan.Keys.Select(k => TufKey.FromPublicKey(k.PublicKey, dialect))], plan.Threshold, plan.Paths, plan.Terminating);
        return new BuiltItem(plan.StepId, Metadata<Targets>.Create(targets).ToBytes());
    }

    public ItemSignature Sign(SignRequest request)
    {
        Calls.Add("sign " + request.Holder.Id);
        var holder = SignWithKeyOf.TryGetValue(request.Holder.Id, out var other) ? other : request.Holder.Id;
        var signer = keyOfHolder[holder];
        var dialect = request.Item.Dialect;
        var key = TufKey.FromPublicKey(signer.PublicKey, dialect);
        var (sig, method) = MetadataSigner.Sign(signer, dialect, key.Json, request.Item.SignedBytes());
        if (CorruptSignature.Contains(request.Holder.Id))
        {
            sig[^1] ^= 0x01;
        }

        // A holder who signs with another holder's key does it on the device holding that key, so the serial is theirs.
        return new ItemSignature(key.KeyId, sig, method, request.Holder.Device.Serial);
    }

    public ExportedBundle Export(ExportRequest request)
    {
        Calls.Add("export");
        BundleDir = Path.Combine(bundleRoot, "bundle-" + request.StepId);
        Directory.CreateDirectory(BundleDir);
        var manifest = new JsonObject();
        foreach (var item in request.Items)
        {
            var bytes = item.Metadata.ToBytes();
            File.WriteAllBytes(Path.Combine(BundleDir, item.StepId + ".json"), bytes);
            manifest.Add(item.StepId, Convert.ToHexStringLower(SHA256.HashData(bytes)));
        }

        foreach (var e in request.Evidence)
        {
            File.WriteAllBytes(Path.Combine(BundleDir, e.Key.Holder.Id + ".attestation"), e.Evidence.Bytes.ToArray());
            manifest.Add(e.Key.Holder.Id + ".attestation", e.Key.AttestationSha256);
        }

        var manifestBytes = CanonicalJson.Serialize(manifest);
        File.WriteAllBytes(Path.Combine(BundleDir, "manifest.json"), manifestBytes);
        return new ExportedBundle("test-" + request.StepId, Convert.ToHexStringLower(SHA256.HashData(manifestBytes)), BundleDir);
    }

    public void AttachTranscript(ExportedBundle bundle, ReadOnlyMemory<byte> sealedTranscript)
    {
        Calls.Add("attach-transcript");
        File.WriteAllBytes(Path.Combine(bundle.Location, "transcript.jsonl"), sealedTranscript.ToArray());
    }

    public byte[] Seal(SealRequest request)
    {
        Calls.Add("seal " + request.Key.Holder.Id);
        var signer = keyOfHolder[request.Key.Holder.Id];
        var keyObject = OfflineSigner.Tuf.Crypto.KeyFormats.Encode(signer.PublicKey, Dialect.TufSpecification);
        return MetadataSigner.Sign(signer, Dialect.TufSpecification, keyObject, request.Statement()).Signature;
    }

    public void Dispose()
    {
        foreach (var k in keyOfHolder.Values.Concat(OnlineKeys.Values))
        {
            k.Dispose();
        }
    }
}

/// <summary>Answers every prompt "yes" unless told otherwise, and keeps what was asked.</summary>
internal sealed class ScriptedOperator : ICeremonyOperator
{
    public Dictionary<string, string> Answers { get; } = new(StringComparer.Ordinal);

    public List<CeremonyPrompt> Asked { get; } = [];

    public List<string> Shown { get; } = [];

    public string Ask(CeremonyPrompt prompt)
    {
        Asked.Add(prompt);
        return Answers.TryGetValue(prompt.PromptId, out var a) ? a : "yes";
    }

    public void Show(string message) => Shown.Add(message);
}

/// <summary>A clock that stays at one instant: rehearsals and golden outputs do not depend on when they run.</summary>
internal sealed class FixedClock(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now;
}

/// <summary>The sample script with fresh witness keys, and the pieces to run it.</summary>
internal sealed class CeremonyFixture : IDisposable
{
    public static readonly DateTimeOffset Start = new(2026, 3, 14, 9, 30, 0, TimeSpan.Zero);

    private readonly OfflineSigner.Tests.Shared.TempDir temp = new("ceremony");

    public CeremonyFixture(Action<JsonObject>? edit = null)
    {
        var json = (JsonObject)JsonParser.Parse(File.ReadAllBytes(SamplePath));
        var witnesses = (JsonArray)((JsonObject)json["people"])["witnesses"];
        foreach (var w in witnesses.Cast<JsonObject>())
        {
            var key = SoftwareKeySigner.Generate(KeyAlgorithm.Ed25519);
            WitnessKeys[((JsonString)w["id"]).Value] = key;
            w.Set("public_key", OfflineSigner.Tuf.Crypto.KeyFormats.Encode(key.PublicKey, Dialect.TufSpecification));
        }

        edit?.Invoke(json);
        ScriptBytes = JsonText.Serialize(json, indented: true);
        Script = CeremonyScriptReader.Parse(ScriptBytes);
        Actions = new SoftwareCeremonyActions(Authority, temp.Path);
        Verifier = new TestAttestationVerifier(Authority.Root);
    }

    public static string SamplePath => Path.Combine(AppContext.BaseDirectory, "Scripts", "root-ceremony.json");

    public string Dir => temp.Path;

    public byte[] ScriptBytes { get; }

    public CeremonyScript Script { get; }

    public Dictionary<string, SoftwareKeySigner> WitnessKeys { get; } = new(StringComparer.Ordinal);

    public TestAttestationAuthority Authority { get; } = new();

    public SoftwareCeremonyActions Actions { get; }

    public TestAttestationVerifier Verifier { get; }

    public ScriptedOperator Operator { get; } = new();

    public FixedClock Clock { get; } = new(Start);

    public CeremonyRunner Runner(TranscriptWriterHolder holder, CeremonyMode mode = CeremonyMode.Rehearsal) =>
        new(Script, Actions, Verifier, Operator, holder.Writer, mode);

    public TranscriptWriterHolder NewTranscript(string name = "transcript.jsonl") => new(Path.Combine(Dir, name), Clock);

    /// <summary>Runs the whole ceremony and returns the sealed transcript's bytes.</summary>
    public byte[] RunAll(CeremonyMode mode = CeremonyMode.Rehearsal)
    {
        using var t = NewTranscript();
        Runner(t, mode).RunAll();
        return File.ReadAllBytes(t.Path);
    }

    public byte[] WitnessStatement(byte[] transcript, string witnessId) =>
        Transcripts.WitnessStatement.Create(transcript, Script.CeremonyId, Script.Witnesses.Single(w => w.Id == witnessId), WitnessKeys[witnessId], Clock.GetUtcNow());

    public void Dispose()
    {
        Actions.Dispose();
        Authority.Dispose();
        foreach (var k in WitnessKeys.Values)
        {
            k.Dispose();
        }

        temp.Dispose();
    }
}

/// <summary>A transcript file and its writer.</summary>
internal sealed class TranscriptWriterHolder(string path, TimeProvider clock) : IDisposable
{
    public string Path { get; } = path;

    public Transcripts.TranscriptWriter Writer { get; } = Transcripts.TranscriptWriter.Create(path, clock);

    public void Dispose() => Writer.Dispose();
}
