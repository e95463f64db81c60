using System.Security.Cryptography;
using OfflineSigner.Tuf;

namespace OfflineSigner.Bundles;

/// <summary>One threshold an item must meet: the role (and the document) that authorizes its signers.</summary>
public sealed record Authority(string Name, Role Role, IReadOnlyDictionary<string, Key> Keys);

/// <summary>How far one threshold of an item is met by the bundle's signatures.</summary>
public sealed record RequirementStatus(string Name, int Threshold, IReadOnlyList<string> SignedBy, IReadOnlyList<string> Missing, IReadOnlyList<string> Problems)
{
    public bool Met => SignedBy.Count >= Threshold;
}

/// <summary>An item with every detached signature of the bundle merged in, and where each of its thresholds stands.</summary>
public sealed record ItemStatus(BundleItem Item, Metadata<Signed> Merged, IReadOnlyList<Authority> Authorities, IReadOnlyList<RequirementStatus> Requirements, IReadOnlyList<string> ExtraSignatures)
{
    public bool Complete => Requirements.All(r => r.Met);
}

/// <summary>
/// Merges the detached signatures of a bundle into its items and counts them against the thresholds that authorize
/// each item, recomputed from the documents themselves (the trusted root, the previous root, the delegator) rather
/// than taken from the manifest, whose requirements must agree.
/// </summary>
public static class BundleMerge
{
    /// <summary>
    /// The thresholds a document must meet: for a root, its own root role and (an update) the trusted root's root
    /// role; for a top-level role, the trusted root's role; for a delegated role, the delegator's delegation.
    /// </summary>
    public static IReadOnlyList<Authority> Authorities(Metadata<Signed> metadata, string role, Metadata<Root>? trustedRoot, Metadata<Targets>? delegator)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        var list = new List<Authority>();
        switch (metadata.Signed)
        {
            case Root root:
                list.Add(new Authority($"root (version {root.Version})", root.Roles["root"], root.Keys));
                if (trustedRoot is not null && trustedRoot.Signed.Version < root.Version)
                {
                    list.Add(new Authority($"root (trusted version {trustedRoot.Signed.Version})", trustedRoot.Signed.Roles["root"], trustedRoot.Signed.Keys));
                }

                break;
            case Targets when IsTopLevel(role):
            case Snapshot:
            case Timestamp:
                var trusted = trustedRoot ?? throw new BundleException($"item '{role}' needs the trusted root that lists its keys");
                var r = trusted.Signed.Roles.TryGetValue(role, out var found) ? found : throw new BundleException($"the trusted root has no role '{role}'");
                list.Add(new Authority($"{role} (root version {trusted.Signed.Version})", r, trusted.Signed.Keys));
                break;
            case Targets:
                var d = delegator?.Signed.Delegations ?? throw new BundleException($"item '{role}' needs the targets metadata that delegates to it");
                var delegated = d.FindRole(role) ?? throw new BundleException($"the delegator does not delegate to '{role}'");
                list.Add(new Authority($"{role} (delegated)", delegated, d.Keys));
                break;
        }

        return list;
    }

    /// <summary>The manifest's requirements for <paramref name="authorities"/>.</summary>
    public static IReadOnlyList<Requirement> Requirements(IReadOnlyList<Authority> authorities) =>
        [.. authorities.Select(a => new Requirement(a.Name, a.Role.Threshold, a.Role.KeyIds))];

    /// <summary>Where every item of the bundle stands. Throws <see cref="BundleException"/> when the bundle is not self-consistent.</summary>
    public static IReadOnlyList<ItemStatus> Evaluate(Bundle bundle)
    {
        ArgumentNullException.ThrowIfNull(bundle);

        // The trusted roots and delegators are a few files shared by thousands of items: parsed once, up front, so
        // that the items can be checked in parallel. A file that does not parse fails the items that use it.
        var parsed = new Dictionary<string, (Metadata<Signed>? Md, BundleException? Error)>(StringComparer.Ordinal);
        foreach (var path in bundle.Manifest.Items.SelectMany(i => i.Delegator is null ? [i.TrustedRoot] : new[] { i.TrustedRoot, i.Delegator }))
        {
            if (!parsed.ContainsKey(path))
            {
                try
                {
                    parsed[path] = (MetadataReader.Parse(bundle.Read(path), dialect: bundle.Manifest.Dialect), null);
                }
                catch (MetadataException e)
                {
                    parsed[path] = (null, new BundleException($"{path}: {e.Message}", e));
                }
                catch (BundleException e)
                {
                    parsed[path] = (null, e);
                }
            }
        }

        Metadata<Signed> Doc(string path)
        {
            var (md, error) = parsed[path];
            return md ?? throw new BundleException(error!.Message, error);
        }

        var items = bundle.Manifest.Items;
        return Parallelism.Map(items.Count, n =>
        {
            var item = items[n];

            // A fresh parse of the item: the signatures merged into it are this bundle's, nothing else.
            Metadata<Signed> md;
            try
            {
                md = MetadataReader.Parse(bundle.Read(item.File.Path), dialect: bundle.Manifest.Dialect);
            }
            catch (MetadataException e)
            {
                throw new BundleException($"{item.File.Path}: {e.Message}", e);
            }

            if (md.Signatures.Count > 0)
            {
                throw new BundleException($"{item.File.Path} carries signatures; a bundle's items are unsigned and the signatures are detached");
            }

            var signedSha = Convert.ToHexStringLower(SHA256.HashData(md.SignedBytes()));
            if (signedSha != item.SignedSha256)
            {
                throw new BundleException($"item {item.Id}: its signed bytes have SHA-256 {signedSha}, not the {item.SignedSha256} the manifest says");
            }

            if (md.Signed.Version != item.Version)
            {
                throw new BundleException($"item {item.Id}: the document is version {md.Signed.Version}, the manifest says {item.Version}");
            }

            var trusted = Doc(item.TrustedRoot) is { Signed: Root } t ? t.As<Root>() : throw new BundleException($"item {item.Id}: {item.TrustedRoot} is not root metadata");
            Metadata<Targets>? delegator = null;
            if (item.Delegator is not null)
            {
                delegator = Doc(item.Delegator) is { Signed: Targets } dt ? dt.As<Targets>() : throw new BundleException($"item {item.Id}: {item.Delegator} is not targets metadata");
            }

            // For a root item, the trusted root is the previous root (or, for a first root, itself).
            var authorities = Authorities(md, item.Role, trusted, delegator);
            var expected = Requirements(authorities);
            if (expected.Count != item.Requirements.Count || expected.Zip(item.Requirements).Any(p => p.First.Threshold != p.Second.Threshold || !p.First.KeyIds.SequenceEqual(p.Second.KeyIds, StringComparer.Ordinal)))
            {
                throw new BundleException($"item {item.Id} ({item.Role}): the signers the manifest names are not the ones its metadata authorizes; the manifest was changed after export");
            }

            foreach (var s in bundle.SignaturesFor(item.Id).OrderBy(s => s.KeyId, StringComparer.Ordinal))
            {
                md.AddSignature(s.ToSignature(bundle.Manifest.Dialect));
            }

            return Count(item, md, authorities);
        });
    }

    /// <summary>The item's thresholds counted again, after signatures were added to <see cref="ItemStatus.Merged"/>.</summary>
    public static ItemStatus Recount(ItemStatus status)
    {
        ArgumentNullException.ThrowIfNull(status);
        return Count(status.Item, status.Merged, status.Authorities);
    }

    private static ItemStatus Count(BundleItem item, Metadata<Signed> md, IReadOnlyList<Authority> authorities)
    {
        var statuses = authorities.Select(a =>
        {
            var v = Verifier.Verify(a.Name, a.Role, a.Keys, md);
            return new RequirementStatus(a.Name, a.Role.Threshold, [.. v.Signers.Select(k => k.KeyId)], [.. v.Missing.Select(k => k.KeyId)], v.Problems);
        }).ToList();
        var extra = statuses.Where(s => s.SignedBy.Count > s.Threshold).Select(s => $"{s.Name}: {s.SignedBy.Count} signatures, {s.Threshold} needed (all kept)").ToList();
        return new ItemStatus(item, md, authorities, statuses, extra);
    }

    private static bool IsTopLevel(string role) => Root.TopLevelRoles.Contains(role, StringComparer.Ordinal);
}
