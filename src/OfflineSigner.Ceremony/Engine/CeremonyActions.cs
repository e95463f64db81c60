// The seams through which a ceremony acts on devices, metadata and bundles (docs/ceremony.md "The step engine").
using OfflineSigner.Ceremony.Scripts;
using OfflineSigner.Signing;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Crypto;

namespace OfflineSigner.Ceremony.Engine;

/// <summary>
/// What a ceremony does to the world, one method per kind of step. The runner decides when each is called and
/// checks every result before it is recorded; an implementation only acts. The air-gapped implementation drives
/// offline-signerd (keys on YubiKeys and PKCS#11 tokens) and the bundle code; rehearsals use SoftHSM2 tokens and the
/// YubiKey simulator through the same daemon.
/// </summary>
public interface ICeremonyActions
{
    /// <summary>Generates the holder's key on their device, with the policy's PIN and touch settings.</summary>
    GeneratedKey GenerateKey(KeyGenerationRequest request);

    /// <summary>
    /// Finds the key on the holder's device that the repository's trusted root lists for a role (an enroll-key step).
    /// Throws when the device holds no such key, or more than one.
    /// </summary>
    GeneratedKey FindKey(KeyLookupRequest request);

    /// <summary>The repository's current trusted root (the whole document) that enroll-key steps and rotations work against.</summary>
    ReadOnlyMemory<byte> TrustedRoot();

    /// <summary>Reads the device's evidence for a key it generated (PIV attestation chain, PKCS#11 attribute report).</summary>
    AttestationEvidence Attest(GeneratedKey key, KeyHolder holder);

    /// <summary>Builds the unsigned root the plan describes.</summary>
    BuiltItem BuildRoot(RootPlan plan);

    /// <summary>Builds the delegator's next unsigned version with the delegation created or rotated.</summary>
    BuiltItem BuildDelegation(DelegationPlan plan);

    /// <summary>Builds the next unsigned version of a rotated delegation's delegated role, for its new keys to sign.</summary>
    BuiltItem BuildDelegatedRole(DelegatedRolePlan plan);

    /// <summary>Has the holder sign the item with their key on their device.</summary>
    ItemSignature Sign(SignRequest request);

    /// <summary>Writes the signed items and the attestation evidence into the bundle that leaves the ceremony.</summary>
    ExportedBundle Export(ExportRequest request);

    /// <summary>Adds the sealed transcript to the bundle exported earlier, once the ceremony is sealed.</summary>
    void AttachTranscript(ExportedBundle bundle, ReadOnlyMemory<byte> sealedTranscript);

    /// <summary>
    /// Has the holder's enrolled key sign the seal statement over the transcript so far (the daemon-held key on the
    /// holder's device; the daemon checks the transcript before it signs). Returns the TUF specification signature.
    /// </summary>
    byte[] Seal(SealRequest request);
}

/// <summary>Checks attestation evidence: the chain or report, and what it says about the key and device.</summary>
public interface IAttestationVerifier
{
    /// <summary>Verifies <paramref name="evidence"/> for <paramref name="key"/>; never throws for bad evidence (the verdict says why).</summary>
    AttestationVerdict Verify(AttestationEvidence evidence, GeneratedKey key);
}

/// <summary>A key to generate: for whom, on which device, with which algorithm and policy.</summary>
public sealed record KeyGenerationRequest(string StepId, KeyHolder Holder, KeyAlgorithm Algorithm, YubiKeyPolicy YubiKeyPolicy, Dialect Dialect);

/// <summary>A key to find: the holder, on their device, and the trusted root's role that lists it.</summary>
public sealed record KeyLookupRequest(string StepId, KeyHolder Holder, string Role, Dialect Dialect);

/// <summary>A key a device generated: its public key, its reference and the serial of the device that reports holding it.</summary>
public sealed record GeneratedKey(ReadOnlyMemory<byte> SubjectPublicKeyInfo, string KeyReference, string DeviceSerial);

/// <summary>Evidence as the device gave it: a format name and the bytes (recorded whole in the transcript).</summary>
/// <param name="Format"><c>piv-attestation</c> (DER attestation certificate then intermediate, concatenated PEM) or <c>pkcs11-attributes</c>.</param>
/// <param name="Bytes">The evidence.</param>
public sealed record AttestationEvidence(string Format, ReadOnlyMemory<byte> Bytes);

/// <summary>What an attestation verifier concluded, and what the evidence says.</summary>
public sealed record AttestationVerdict
{
    /// <summary>The chain verifies to a trusted root (PIV), or the report shows a key that never left the device (PKCS#11).</summary>
    public required bool Trusted { get; init; }

    /// <summary>Why the evidence is not acceptable; empty when it is.</summary>
    public IReadOnlyList<string> Problems { get; init; } = [];

    /// <summary>The device serial the evidence names, if any.</summary>
    public string? DeviceSerial { get; init; }

    /// <summary>The public key the evidence is about (DER SubjectPublicKeyInfo), if the format binds one.</summary>
    public ReadOnlyMemory<byte>? AttestedSubjectPublicKeyInfo { get; init; }

    /// <summary>PIV PIN policy the evidence reports (never, once, always), if any.</summary>
    public string? PinPolicy { get; init; }

    /// <summary>PIV touch policy the evidence reports (never, cached, always), if any.</summary>
    public string? TouchPolicy { get; init; }

    /// <summary>Firmware version the evidence reports, if any.</summary>
    public string? Firmware { get; init; }

    /// <summary>One line for people.</summary>
    public required string Summary { get; init; }
}

/// <summary>A key the ceremony accepted: generated, attested, checked and confirmed.</summary>
public sealed record EnrolledKey(string StepId, KeyHolder Holder, PublicKey PublicKey, string KeyReference, string DeviceSerial, string AttestationSha256)
{
    /// <summary>The key's identity: SHA-256 of its SubjectPublicKeyInfo.</summary>
    public string Fingerprint => PublicKey.Fingerprint;
}

/// <summary>The keys and threshold of one role in a plan.</summary>
public sealed record RolePlan(IReadOnlyList<EnrolledKey> Keys, int Threshold);

/// <summary>A root to build.</summary>
/// <param name="StepId">The build-root step.</param>
/// <param name="Repository">The repository.</param>
/// <param name="Version">The root's version.</param>
/// <param name="Expires">The root's expiry.</param>
/// <param name="Roles">The roles whose keys were enrolled in the ceremony.</param>
/// <param name="OnlineRoles">The roles whose keys the online side provides (the implementation takes them from the bundle it was given).</param>
public sealed record RootPlan(string StepId, RepositoryIdentity Repository, long Version, DateTimeOffset Expires, IReadOnlyDictionary<string, RolePlan> Roles, IReadOnlyList<string> OnlineRoles);

/// <summary>A delegation to create or rotate, and the delegator's next version to build.</summary>
public sealed record DelegationPlan(
    string StepId,
    RepositoryIdentity Repository,
    string Mode,
    string Name,
    string Delegator,
    IReadOnlyList<EnrolledKey> Keys,
    int Threshold,
    IReadOnlyList<string> Paths,
    bool Terminating,
    DateTimeOffset Expires);

/// <summary>The delegated role of a delegation step to build the next version of.</summary>
/// <param name="StepId">The delegated-role step.</param>
/// <param name="DelegationStepId">The delegation step (its built delegator lists the role's new keys).</param>
/// <param name="Name">The delegated role.</param>
/// <param name="Delegator">The role that delegates to it.</param>
/// <param name="Expires">The new version's expiry.</param>
public sealed record DelegatedRolePlan(string StepId, string DelegationStepId, string Name, string Delegator, DateTimeOffset Expires);

/// <summary>An unsigned metadata document built in the ceremony.</summary>
/// <param name="StepId">The step that built it.</param>
/// <param name="Document">The whole document (<c>signed</c> and an empty <c>signatures</c> list).</param>
public sealed record BuiltItem(string StepId, ReadOnlyMemory<byte> Document);

/// <summary>A signature the holder's device is to make.</summary>
public sealed record SignRequest(string StepId, string ItemStepId, Metadata<Signed> Item, KeyHolder Holder, EnrolledKey Key);

/// <summary>A signature a device made, as the metadata lists it, with the serial of the device that made it.</summary>
public sealed record ItemSignature(string KeyId, ReadOnlyMemory<byte> Signature, string? Method, string DeviceSerial);

/// <summary>What leaves in the bundle.</summary>
public sealed record ExportRequest(string StepId, RepositoryIdentity Repository, IReadOnlyList<SignedItem> Items, IReadOnlyList<EnrolledEvidence> Evidence);

/// <summary>A signed item and the step that built it.</summary>
public sealed record SignedItem(string StepId, Metadata<Signed> Metadata);

/// <summary>An enrolled key with the evidence it entered with.</summary>
public sealed record EnrolledEvidence(EnrolledKey Key, AttestationEvidence Evidence);

/// <summary>A seal to make: the enrolled key, the transcript up to the line it covers, and the seal line's time.</summary>
/// <param name="StepId">The seal step.</param>
/// <param name="Key">The enrolled key that seals.</param>
/// <param name="Transcript">The transcript's bytes so far; the seal covers its last line.</param>
/// <param name="CeremonyId">The ceremony.</param>
/// <param name="CoversSeq">The last line's seq.</param>
/// <param name="CoversSha256">The last line's SHA-256.</param>
/// <param name="SealedAt">The seal line's time, as the transcript writes it.</param>
public sealed record SealRequest(string StepId, EnrolledKey Key, ReadOnlyMemory<byte> Transcript, string CeremonyId, long CoversSeq, string CoversSha256, string SealedAt)
{
    /// <summary>The canonical statement the seal signs.</summary>
    public byte[] Statement() => Transcripts.SealStatement.Bytes(CeremonyId, CoversSeq, CoversSha256, SealedAt);
}

/// <summary>A bundle written by the export step.</summary>
public sealed record ExportedBundle(string BundleId, string ManifestSha256, string Location);
