// The ceremony script format, docs/ceremony.md "The script".
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Json;

namespace OfflineSigner.Ceremony.Scripts;

/// <summary>One ceremony, as written down before the day: who takes part, the policies, and the steps in order.</summary>
public sealed record CeremonyScript
{
    /// <summary>The only format this version reads.</summary>
    public const string FormatName = "offline-signer-ceremony/1";

    /// <summary>A short identifier, unique for the ceremony (for example <c>example-root-2026-03</c>).</summary>
    public required string CeremonyId { get; init; }

    /// <summary>Why the ceremony is held, in a sentence.</summary>
    public required string Purpose { get; init; }

    /// <summary>Which repository the ceremony makes keys and metadata for.</summary>
    public required RepositoryIdentity Repository { get; init; }

    /// <summary>The ceremony administrator, who runs the machine and acts for the steps no key holder acts in.</summary>
    public required Person Administrator { get; init; }

    /// <summary>The key holders, each with the one device that holds their key.</summary>
    public required IReadOnlyList<KeyHolder> KeyHolders { get; init; }

    /// <summary>The witnesses, each with the public key that signs their statement over the transcript.</summary>
    public required IReadOnlyList<Witness> Witnesses { get; init; }

    /// <summary>What the keys and metadata must satisfy.</summary>
    public required CeremonyPolicies Policies { get; init; }

    /// <summary>The steps, in the order they must run.</summary>
    public required IReadOnlyList<CeremonyStep> Steps { get; init; }

    /// <summary>The script exactly as read, for the transcript.</summary>
    public required JsonObject Json { get; init; }

    /// <summary>Looks a key holder up by id.</summary>
    public KeyHolder? FindHolder(string id) => KeyHolders.FirstOrDefault(h => h.Id == id);

    /// <summary>Looks a step up by id.</summary>
    public CeremonyStep? FindStep(string id) => Steps.FirstOrDefault(s => s.Id == id);

    /// <summary>Anyone taking part, by id (administrator, holder or witness).</summary>
    public Person? FindPerson(string id) =>
        Administrator.Id == id ? Administrator : (Person?)FindHolder(id) ?? Witnesses.FirstOrDefault(w => w.Id == id);
}

/// <summary>The repository: its dialect and its name (the GUN for notary).</summary>
public sealed record RepositoryIdentity(Dialect Dialect, string Name);

/// <summary>Someone taking part in the ceremony.</summary>
public record Person(string Id, string Name);

/// <summary>The kinds of device a key holder's key lives in.</summary>
public enum DeviceKind
{
    /// <summary>A YubiKey PIV slot (attested by the device's own certificate chain).</summary>
    YubiKey,

    /// <summary>A PKCS#11 token (an HSM; evidence is its attribute report).</summary>
    Pkcs11,
}

/// <summary>The device a key is generated in, named by kind and serial number.</summary>
public sealed record Device(DeviceKind Kind, string Serial)
{
    /// <summary>How the script and the transcript write the kind.</summary>
    public string KindName => Kind == DeviceKind.YubiKey ? "yubikey" : "pkcs11";

    /// <summary>For prompts: "YubiKey serial 12345678".</summary>
    public override string ToString() => (Kind == DeviceKind.YubiKey ? "YubiKey" : "PKCS#11 token") + " serial " + Serial;
}

/// <summary>A key holder and their device.</summary>
public sealed record KeyHolder(string Id, string Name, Device Device) : Person(Id, Name);

/// <summary>A witness and the public key (a TUF specification key object) that signs their statement.</summary>
public sealed record Witness(string Id, string Name, JsonObject PublicKey) : Person(Id, Name);

/// <summary>The ceremony's policies.</summary>
public sealed record CeremonyPolicies
{
    /// <summary>The key algorithms a generate-key step may use (script names: ecdsa-p256, ecdsa-p384, ed25519, rsa-2048, rsa-3072, rsa-4096).</summary>
    public required IReadOnlyList<string> Algorithms { get; init; }

    /// <summary>Every key enters only with verified attestation evidence (default true).</summary>
    public bool RequireAttestation { get; init; } = true;

    /// <summary>What YubiKey keys must be generated with.</summary>
    public YubiKeyPolicy YubiKey { get; init; } = new();

    /// <summary>Days from the ceremony to each role's expiry: root, targets, delegation, snapshot, timestamp.</summary>
    public required IReadOnlyDictionary<string, int> ExpiryDays { get; init; }

    /// <summary>Signature thresholds: root, targets, delegation (default 1 each).</summary>
    public required IReadOnlyDictionary<string, int> Thresholds { get; init; }

    /// <summary>The threshold of a role (1 when the script sets none).</summary>
    public int ThresholdOf(string role) => Thresholds.TryGetValue(role, out var t) ? t : 1;
}

/// <summary>YubiKey generation policy: PIN and touch policy of the slot, and the lowest firmware accepted.</summary>
/// <param name="PinPolicy">never, once or always.</param>
/// <param name="TouchPolicy">never, cached or always.</param>
/// <param name="MinFirmware">The lowest firmware version accepted, or null for any.</param>
public sealed record YubiKeyPolicy(string PinPolicy = "always", string TouchPolicy = "always", string? MinFirmware = null);

/// <summary>What a step does.</summary>
public enum StepAction
{
    /// <summary>A key holder generates their key on their device; its attestation is verified and it is enrolled.</summary>
    GenerateKey,

    /// <summary>
    /// A key holder brings the key a role of the trusted root already lists, on their device; its attestation is
    /// verified again and it is enrolled for signing that role in this ceremony.
    /// </summary>
    EnrollKey,

    /// <summary>The administrator builds a root from enrolled keys.</summary>
    BuildRoot,

    /// <summary>Key holders sign a built item in turn until its threshold is met.</summary>
    Sign,

    /// <summary>The administrator creates or rotates a delegation, building the delegator's next version.</summary>
    Delegation,

    /// <summary>The delegated role of a rotated delegation gets its next version, to be signed by the new keys.</summary>
    DelegatedRole,

    /// <summary>The administrator exports the signed items, the transcript and the evidence into a bundle.</summary>
    ExportBundle,

    /// <summary>Key holders seal the transcript with their enrolled keys. Always the last step.</summary>
    Seal,
}

/// <summary>One step. Which fields are set depends on <see cref="Action"/>.</summary>
public sealed record CeremonyStep
{
    /// <summary>The step's id, unique in the script.</summary>
    public required string Id { get; init; }

    /// <summary>What the step does.</summary>
    public required StepAction Action { get; init; }

    /// <summary>Where the step is in the script's JSON, for messages (<c>$.steps[3]</c>).</summary>
    public required string Path { get; init; }

    /// <summary>A sentence shown to the operators before the step, if the script gives one.</summary>
    public string? Description { get; init; }

    /// <summary>generate-key: the key holder.</summary>
    public string? Holder { get; init; }

    /// <summary>generate-key: the algorithm.</summary>
    public string? Algorithm { get; init; }

    /// <summary>enroll-key: the top-level role of the trusted root whose key the holder brings.</summary>
    public string? Role { get; init; }

    /// <summary>delegated-role: the delegation step whose delegated role gets its next version.</summary>
    public string? DelegationStep { get; init; }

    /// <summary>build-root: the generate-key steps whose keys each role lists.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> RoleKeys { get; init; } = new Dictionary<string, IReadOnlyList<string>>();

    /// <summary>build-root: the roles whose keys come from the online side (snapshot, timestamp).</summary>
    public IReadOnlyList<string> OnlineRoles { get; init; } = [];

    /// <summary>build-root: the root's version (1 for a new repository).</summary>
    public long Version { get; init; } = 1;

    /// <summary>sign: the step whose item is signed (a build-root, delegation or delegated-role step).</summary>
    public string? Item { get; init; }

    /// <summary>sign: the key holders who sign, in order.</summary>
    public IReadOnlyList<string> Signers { get; init; } = [];

    /// <summary>delegation: create or rotate.</summary>
    public string? Mode { get; init; }

    /// <summary>delegation: the delegated role's name.</summary>
    public string? Name { get; init; }

    /// <summary>delegation: the role that delegates (default targets).</summary>
    public string Delegator { get; init; } = "targets";

    /// <summary>delegation: the generate-key steps whose keys the delegation lists; seal: the keys (generate-key or enroll-key steps) that seal.</summary>
    public IReadOnlyList<string> Keys { get; init; } = [];

    /// <summary>delegation: the paths delegated.</summary>
    public IReadOnlyList<string> Paths { get; init; } = [];

    /// <summary>delegation: the threshold (default: the policy's delegation threshold).</summary>
    public int? Threshold { get; init; }

    /// <summary>delegation: whether the delegation is terminating.</summary>
    public bool Terminating { get; init; }

    /// <summary>export-bundle: the build steps whose items leave in the bundle.</summary>
    public IReadOnlyList<string> Items { get; init; } = [];

    /// <summary>The script's name of an action.</summary>
    public static string ActionName(StepAction action) => action switch
    {
        StepAction.GenerateKey => "generate-key",
        StepAction.EnrollKey => "enroll-key",
        StepAction.DelegatedRole => "delegated-role",
        StepAction.BuildRoot => "build-root",
        StepAction.Sign => "sign",
        StepAction.Delegation => "delegation",
        StepAction.ExportBundle => "export-bundle",
        _ => "seal",
    };

    /// <summary>The step's action as the script names it.</summary>
    public string ActionText => ActionName(Action);
}
