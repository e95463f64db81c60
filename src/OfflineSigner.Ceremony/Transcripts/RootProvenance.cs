// What the online side and later auditors check with a bundle's transcript, docs/ceremony.md "Provenance".
using System.Security.Cryptography;
using OfflineSigner.Tuf;

namespace OfflineSigner.Ceremony.Transcripts;

/// <summary>Where one key of a root came from, according to a ceremony's transcript.</summary>
/// <param name="Role">The root's role that lists the key.</param>
/// <param name="KeyId">The key id the root uses.</param>
/// <param name="Holder">The key holder who enrolled it, or null when the ceremony did not enroll it.</param>
/// <param name="DeviceSerial">The device it was generated on.</param>
/// <param name="AttestationSha256">The SHA-256 of its attestation evidence.</param>
public sealed record KeyProvenance(string Role, string KeyId, string? Holder, string? DeviceSerial, string? AttestationSha256);

/// <summary>The outcome of checking a root against the ceremony that made it.</summary>
public sealed record RootProvenanceCheck(bool Ok, IReadOnlyList<KeyProvenance> Keys, IReadOnlyList<string> Problems);

/// <summary>
/// Checks that a root is one a verified ceremony built and signed, and that every key of the roles the ceremony
/// enrolled was generated on the named holder's device with evidence (online roles are the online side's).
/// </summary>
public static class RootProvenance
{
    /// <summary>Checks <paramref name="root"/> against a verified transcript.</summary>
    public static RootProvenanceCheck Check(TranscriptVerification verification, Metadata<Root> root)
    {
        ArgumentNullException.ThrowIfNull(verification);
        ArgumentNullException.ThrowIfNull(root);
        var problems = new List<string>();
        var keys = new List<KeyProvenance>();
        if (!verification.Ok || verification.Record is not { } record)
        {
            return new RootProvenanceCheck(false, keys, [$"the transcript is refused: {string.Join("; ", verification.Problems)}"]);
        }

        var digest = Convert.ToHexStringLower(SHA256.HashData(root.SignedBytes()));
        var item = record.Items.FirstOrDefault(i => i.SignedSha256 == digest);
        if (item is null)
        {
            problems.Add($"root version {root.Signed.Version} (signed SHA-256 {digest}) is not a root built in ceremony {record.Script.CeremonyId}");
        }

        var build = record.Script.Steps.FirstOrDefault(s => s.Id == item?.StepId) ?? record.Script.Steps.FirstOrDefault(s => s.Action == Scripts.StepAction.BuildRoot);
        foreach (var role in build?.RoleKeys.Keys ?? [])
        {
            foreach (var key in root.Signed.RoleKeys(role))
            {
                var enrolled = record.Keys.FirstOrDefault(k => k.Enrolled && k.Fingerprint == key.Fingerprint);
                keys.Add(new KeyProvenance(role, key.KeyId, enrolled?.Holder, enrolled?.DeviceSerial, enrolled?.AttestationSha256));
                if (enrolled is null)
                {
                    problems.Add($"{role} key {key.KeyId} was not enrolled in ceremony {record.Script.CeremonyId}");
                }
            }
        }

        return new RootProvenanceCheck(problems.Count == 0, keys, problems);
    }
}
