using System.Globalization;
using System.Security.Cryptography;
using OfflineSigner.Bundles;
using OfflineSigner.Cli.Repositories;
using OfflineSigner.Signing;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Crypto;

namespace OfflineSigner.Cli.Workflow;

/// <summary>A bundle that cannot be imported as it is: a threshold not met, a version or expiry refused (exit 1).</summary>
internal sealed class ImportRefusedException(string message) : OfflineSignerException(message);

/// <summary>The repository state after a bundle's items are merged in, and what changed.</summary>
internal sealed record ImportPlan(RepositoryState State, IReadOnlyList<ItemStatus> Items, IReadOnlyList<string> ChangedRoles, bool NewRepository, long FirstNewRootVersion);

/// <summary>
/// Merges a bundle into a repository's verified state, refusing everything unless every item reaches its thresholds
/// (a root both its own and the trusted root's), follows the current version by exactly one, is not expired, was
/// built against this repository's trusted root, and was not imported already. Nothing is written here.
/// </summary>
internal static class Importer
{
    /// <summary>The repository's state with the bundle merged in; throws <see cref="ImportRefusedException"/> when anything does not hold.</summary>
    /// <param name="bundle">The opened bundle.</param>
    /// <param name="current">The repository's verified state, or null when there is none yet.</param>
    /// <param name="currentRootFile">The exact bytes of its current root, whose SHA-256 the bundle must name.</param>
    /// <param name="gun">Notary: the repository's GUN.</param>
    /// <param name="now">The time expiry is checked at.</param>
    /// <param name="online">
    /// The online key (--online-key), if given: it signs the items whose thresholds list it (notary's targets key, as
    /// `docker trust` keeps it online), and a new repository's first targets when its root gives targets to it.
    /// </param>
    public static ImportPlan Plan(Bundle bundle, RepositoryState? current, byte[]? currentRootFile, string? gun, DateTimeOffset now, IKeySigner? online = null)
    {
        ArgumentNullException.ThrowIfNull(bundle);
        var manifest = bundle.Manifest;
        if (manifest.Items.Count == 0)
        {
            throw new OfflineSignerException("the bundle is a request for a new repository with no items yet: run 'offline-signer ceremony init-root --bundle BUNDLE ...' on the air-gapped machine first");
        }

        if (manifest.Dialect == Dialect.Notary && !string.Equals(manifest.Repository.Gun, gun, StringComparison.Ordinal))
        {
            throw new ImportRefusedException($"the bundle was built for repository '{manifest.Repository.Gun}', not '{gun}': import it into the repository it was exported from");
        }

        if (manifest.IsNewRepository)
        {
            if (current is not null)
            {
                throw new ImportRefusedException("the bundle creates a new repository, but the repository already exists (it has a root): refusing to replace it");
            }
        }
        else
        {
            if (current is null || currentRootFile is null)
            {
                throw new OfflineSignerException("the bundle updates an existing repository, but there is no repository here (no root)");
            }

            if (current.Dialect != manifest.Dialect)
            {
                throw new OfflineSignerException($"the bundle is {BundleManifest.DialectName(manifest.Dialect)} metadata, the repository is {BundleManifest.DialectName(current.Dialect)}");
            }

            var sha = Convert.ToHexStringLower(SHA256.HashData(currentRootFile));
            if (sha != manifest.Repository.TrustedRootSha256)
            {
                throw new ImportRefusedException(
                    $"the bundle was built against trusted root version {manifest.Repository.TrustedRootVersion} (SHA-256 {manifest.Repository.TrustedRootSha256}), but the repository's root is version {current.Root.Signed.Version} (SHA-256 {sha}): "
                    + "it belongs to another repository or was overtaken by a later import; export a new bundle");
            }
        }

        List<ItemStatus> statuses;
        using (Timings.Measure("merge: count every item's signatures"))
        {
            statuses = [.. BundleMerge.Evaluate(bundle)];
        }

        if (online is not null)
        {
            var onlineKey = PublicKey.FromSubjectPublicKeyInfo(online.SubjectPublicKeyInfo.Span);
            for (var i = 0; i < statuses.Count; i++)
            {
                var s = statuses[i];
                var key = s.Authorities.Zip(s.Requirements).Where(p => !p.Second.Met)
                    .SelectMany(p => p.First.Role.KeyIds.Where(p.First.Keys.ContainsKey).Select(id => p.First.Keys[id]))
                    .FirstOrDefault(k => onlineKey.Equals(k.PublicKey));
                if (key is not null)
                {
                    s.Merged.SignWith(online, key);
                    statuses[i] = BundleMerge.Recount(s);
                }
            }
        }

        var incomplete = statuses.Where(s => !s.Complete).ToList();
        if (incomplete.Count > 0)
        {
            var lines = incomplete.Take(10).SelectMany(s => s.Requirements.Where(r => !r.Met).Select(r =>
                $"  item {s.Item.Id} {s.Item.Role} v{s.Item.Version}: {r.Name} has {r.SignedBy.Count} of {r.Threshold} signatures{(r.Problems.Count > 0 ? " (" + string.Join("; ", r.Problems) + ")" : string.Empty)}"));
            throw new ImportRefusedException(
                $"the bundle is not signed enough: {incomplete.Count} of {statuses.Count} items are below a threshold; nothing was written\n{string.Join('\n', lines)}\n"
                + "sign it with the missing keys ('offline-signer status --bundle BUNDLE' lists them), then import again");
        }

        // A bundle that left a ceremony: its transcript and evidence must account for every item and root key.
        CeremonyProvenance.Check(bundle, statuses);

        var state = current ?? new RepositoryState(manifest.Dialect);
        var changed = new List<string>();
        var bundleSigned = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var trustedSigned = new Dictionary<(string, long), byte[]>();
        long firstNewRoot = 0;
        foreach (var status in statuses)
        {
            var item = status.Item;
            var md = status.Merged;
            if (md.Signed.IsExpired(now))
            {
                throw new ImportRefusedException($"item {item.Id} ({item.Role} version {item.Version}) expired at {Rfc3339.Format(md.Signed.Expires)}; export a new bundle");
            }

            switch (md.Signed)
            {
                case Root:
                    var root = md.As<Root>();
                    if (state.Roots.Count == 0)
                    {
                        if (root.Signed.Version != 1)
                        {
                            throw new ImportRefusedException($"a new repository starts at root version 1, not {root.Signed.Version}");
                        }

                        Require(Verifier.VerifyTopLevel(root.Signed, root), "root version 1");
                    }
                    else
                    {
                        CheckNext("root", state.Root.Signed.Version, root.Signed.Version);
                        var step = Verifier.VerifyRootUpdate(state.Root, root);
                        Require(step.ByTrusted, $"root version {root.Signed.Version} (cross-signature by root version {state.Root.Signed.Version})");
                        Require(step.ByNew, $"root version {root.Signed.Version}");
                    }

                    firstNewRoot = firstNewRoot == 0 ? root.Signed.Version : firstNewRoot;
                    state.Roots.Add(root);
                    break;
                case Targets when item.Role == "targets":
                    var targets = md.As<Targets>();
                    CheckNext("targets", state.Targets?.Signed.Version ?? 0, targets.Signed.Version);
                    Require(Verifier.Verify("targets", state.Root.Signed.Roles["targets"], state.Root.Signed.Keys, targets), "targets");
                    state.Targets = targets;
                    break;
                case Targets:
                    var delegated = md.As<Targets>();
                    CheckNext(item.Role, state.Delegated.TryGetValue(item.Role, out var cur) ? cur.Signed.Version : 0, delegated.Signed.Version);
                    var delegatorRole = Exporter.FindDelegatorRole(state, item.Role)
                        ?? throw new ImportRefusedException($"no role of the repository delegates to '{item.Role}'");
                    var delegator = delegatorRole == "targets" ? state.Targets!.Signed : state.Delegated[delegatorRole].Signed;

                    // The merge counted this item's signatures against the bundle's delegator. When that document's
                    // signed part is the trusted delegator's, byte for byte, the count holds for the trusted one too
                    // (thousands of hash bins share one delegator); otherwise count again against the trusted one.
                    if (item.Delegator is not { } delegatorPath
                        || !SignedPart(bundle, delegatorPath, bundleSigned).AsSpan().SequenceEqual(TrustedSignedPart(delegatorRole, delegator, trustedSigned)))
                    {
                        Require(Verifier.VerifyDelegated(item.Role, delegator, delegated), item.Role);
                    }

                    state.Delegated[item.Role] = delegated;
                    break;
                default:
                    throw new ImportRefusedException($"item {item.Id}: {md.Signed.Type} is an online role and is never carried in a bundle");
            }

            changed.Add(item.Role);
        }

        if (state.Targets is null && online is not null
            && state.Root.Signed.RoleKeys("targets").FirstOrDefault(k => PublicKey.FromSubjectPublicKeyInfo(online.SubjectPublicKeyInfo.Span).Equals(k.PublicKey)) is { } targetsKey)
        {
            // The first targets of a repository whose targets key is online: empty, signed here.
            state.Targets = Metadata<Targets>.Create(Targets.Create(state.Dialect, Exporter.ExpiresFor(new ExportRequest(), now, "targets")));
            state.Targets.SignWith(online, targetsKey);
            changed.Add("targets");
        }

        if (state.Targets is null)
        {
            throw new ImportRefusedException("a new repository needs its first targets metadata: in the bundle, or made at import with --online-key when the root gives targets to the online key");
        }

        // A root rotation can change the keys of targets; what the new root says must still hold for them.
        Require(Verifier.Verify("targets", state.Root.Signed.Roles["targets"], state.Root.Signed.Keys, state.Targets), "targets under the newest root");
        return new ImportPlan(state, statuses, changed, current is null, firstNewRoot);
    }

    private static byte[] SignedPart(Bundle bundle, string path, Dictionary<string, byte[]> cache)
    {
        if (!cache.TryGetValue(path, out var bytes))
        {
            cache[path] = bytes = MetadataReader.Parse(bundle.Read(path), dialect: bundle.Manifest.Dialect).SignedBytes();
        }

        return bytes;
    }

    private static byte[] TrustedSignedPart(string role, Targets delegator, Dictionary<(string, long), byte[]> cache)
    {
        if (!cache.TryGetValue((role, delegator.Version), out var bytes))
        {
            cache[(role, delegator.Version)] = bytes = delegator.CanonicalBytes();
        }

        return bytes;
    }

    private static void CheckNext(string role, long current, long next)
    {
        if (next <= current)
        {
            throw new ImportRefusedException(next == current
                ? $"{role} version {next} is already in the repository: this bundle (or one like it) was imported already"
                : $"{role} version {next} is older than the repository's version {current}: refusing a rollback");
        }

        if (next != current + 1)
        {
            throw new ImportRefusedException($"{role} version {next} does not follow the repository's version {current} (expected {current + 1}): export a new bundle");
        }
    }

    private static void Require(VerificationResult result, string what)
    {
        if (!result.Verified)
        {
            throw new ImportRefusedException(string.Create(CultureInfo.InvariantCulture, $"{what} does not verify: {result.Signers.Count} of {result.Threshold} required signatures{(result.Problems.Count > 0 ? ": " + string.Join("; ", result.Problems) : string.Empty)}"));
        }
    }
}
