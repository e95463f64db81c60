using System.Security.Cryptography;
using OfflineSigner.Bundles;
using OfflineSigner.Ceremony.Transcripts;
using OfflineSigner.Tuf;

namespace OfflineSigner.Cli.Workflow;

/// <summary>
/// What the online side checks in a bundle that left a ceremony (docs/ceremony.md "Provenance"): the sealed
/// transcript verifies (chain, ceremony rules, seals), it exported this very bundle, every item is one the ceremony
/// built, every root passes <see cref="RootProvenance"/> (each ceremony key enrolled with evidence on its holder's
/// device), and every evidence file is the one the transcript recorded.
/// </summary>
internal static class CeremonyProvenance
{
    /// <summary>The ceremony's verification, or null when the bundle carries no ceremony transcript.</summary>
    /// <exception cref="ImportRefusedException">anything does not hold; nothing has been written.</exception>
    public static TranscriptVerification? Check(Bundle bundle, IReadOnlyList<ItemStatus> statuses)
    {
        ArgumentNullException.ThrowIfNull(bundle);
        ArgumentNullException.ThrowIfNull(statuses);
        var transcripts = bundle.Manifest.ContextOf(BundleManifest.CeremonyTranscriptKind).ToList();
        var evidence = bundle.Manifest.ContextOf(BundleManifest.AttestationKind).ToList();
        if (transcripts.Count == 0)
        {
            if (evidence.Count > 0)
            {
                throw Refuse("the bundle carries attestation evidence but no ceremony transcript: a ceremony bundle travels with its sealed transcript");
            }

            return null;
        }

        if (transcripts.Count > 1)
        {
            throw Refuse($"the bundle carries {transcripts.Count} ceremony transcripts; a bundle leaves one ceremony");
        }

        var v = TranscriptVerifier.Verify(bundle.Read(transcripts[0].File.Path));
        if (!v.Ok || v.Record is not { } record)
        {
            throw Refuse($"the bundle's ceremony transcript ({transcripts[0].File.Path}, SHA-256 {v.TranscriptSha256}) is refused: {string.Join("; ", v.Problems.Take(5))}");
        }

        if (record.Bundle is not { } exported || exported.BundleId != bundle.Manifest.BundleId)
        {
            throw Refuse($"the ceremony transcript of {record.Script.CeremonyId} records {(record.Bundle is null ? "no bundle" : "bundle " + record.Bundle.BundleId)}, not this bundle {bundle.Manifest.BundleId}");
        }

        if (record.TrustedRootSha256 is { } rootSha && rootSha != bundle.Manifest.Repository.TrustedRootSha256)
        {
            throw Refuse($"ceremony {record.Script.CeremonyId} worked against the trusted root with SHA-256 {rootSha}, not this bundle's {bundle.Manifest.Repository.TrustedRootSha256 ?? "(none: a new repository)"}");
        }

        foreach (var s in statuses)
        {
            var digest = s.Item.SignedSha256;
            if (record.Items.All(i => i.SignedSha256 != digest))
            {
                throw Refuse($"item {s.Item.Id} ({s.Item.Role} version {s.Item.Version}, signed SHA-256 {digest}) was not built in ceremony {record.Script.CeremonyId}");
            }

            if (s.Merged.Signed is Root)
            {
                var provenance = RootProvenance.Check(v, s.Merged.As<Root>());
                if (!provenance.Ok)
                {
                    throw Refuse($"root version {s.Item.Version} fails its provenance check against ceremony {record.Script.CeremonyId}: {string.Join("; ", provenance.Problems)}");
                }
            }
        }

        foreach (var e in evidence)
        {
            var key = record.Keys.FirstOrDefault(k => k.Holder == e.Role && k.Enrolled)
                ?? throw Refuse($"the bundle carries evidence for \"{e.Role}\", who enrolled no key in ceremony {record.Script.CeremonyId}");
            var sha = Convert.ToHexStringLower(SHA256.HashData(bundle.Read(e.File.Path)));
            if (sha != key.AttestationSha256)
            {
                throw Refuse($"{e.File.Path} (SHA-256 {sha}) is not the evidence {e.Role}'s key was enrolled with (SHA-256 {key.AttestationSha256})");
            }
        }

        var missing = record.Keys.Where(k => k.Enrolled && evidence.All(e => e.Role != k.Holder)).Select(k => k.Holder).ToList();
        if (missing.Count > 0)
        {
            throw Refuse($"the bundle lacks the attestation evidence of {string.Join(", ", missing)}");
        }

        return v;
    }

    private static ImportRefusedException Refuse(string message) => new("ceremony: " + message + "; nothing was written");
}
