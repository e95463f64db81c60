using System.Globalization;
using System.Security.Cryptography;
using OfflineSigner.Bundles;
using OfflineSigner.Tuf;

namespace OfflineSigner.Cli.Workflow;

/// <summary>
/// Collects the files of a new bundle: context (trusted root, previous versions, delegators, online keys) and the
/// unsigned items with the thresholds that authorize them, then writes the bundle (manifest last).
/// </summary>
internal sealed class BundleBuilder(Dialect dialect, string name, string? gun, Metadata<Root>? trustedRoot, byte[]? trustedRootFile, string? bundleId = null)
{
    private readonly Dictionary<string, byte[]> content = new(StringComparer.Ordinal);
    private readonly List<ContextFile> context = [];
    private readonly List<BundleItem> items = [];
    private readonly Dictionary<string, Metadata<Signed>> parsed = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> delegatorPaths = new(StringComparer.Ordinal);

    public string BundleId { get; } = bundleId ?? BundleManifest.NewBundleId();

    public Dialect Dialect => dialect;

    public int ItemCount => items.Count;

    /// <summary>The trusted root in the bundle (context/root.N.json), or null for a new repository.</summary>
    public string? TrustedRootPath { get; private set; }

    public static BundleBuilder From(BundleManifest manifest, Bundle bundle)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var builder = new BundleBuilder(manifest.Dialect, manifest.Repository.Name, manifest.Repository.Gun, null, null, manifest.BundleId);
        foreach (var c in manifest.Context)
        {
            builder.context.Add(c);
            builder.content[c.File.Path] = bundle.Read(c.File.Path);
        }

        return builder;
    }

    public string AddTrustedRoot()
    {
        if (trustedRoot is null || trustedRootFile is null)
        {
            throw new InvalidOperationException("no trusted root");
        }

        TrustedRootPath = AddContext("root", "root", trustedRoot.Signed.Version, trustedRootFile, $"root.{trustedRoot.Signed.Version.ToString(CultureInfo.InvariantCulture)}.json");
        parsed[TrustedRootPath] = trustedRoot.As<Signed>();
        return TrustedRootPath;
    }

    public string AddContext(string kind, string role, long version, byte[] bytes, string fileName)
    {
        var path = BundleNames.Context + "/" + fileName;
        content.Add(path, bytes);
        context.Add(new ContextFile(kind, role, version, FileOf(path, bytes)));
        return path;
    }

    /// <summary>The file of the delegating role <paramref name="delegatorRole"/>, added once.</summary>
    public string AddDelegator(string delegatorRole, Metadata<Targets> delegator, byte[] bytes)
    {
        if (!delegatorPaths.TryGetValue(delegatorRole, out var path))
        {
            path = AddContext("delegator", delegatorRole, delegator.Signed.Version, bytes, $"delegator.{(delegatorPaths.Count + 1).ToString("D5", CultureInfo.InvariantCulture)}.json");
            parsed[path] = delegator.As<Signed>();
            delegatorPaths[delegatorRole] = path;
        }

        return path;
    }

    /// <summary>Uses an item of this bundle as the delegator of later items (a delegation rotation re-signs both).</summary>
    public void UseItemAsDelegator(string delegatorRole, string itemPath) => delegatorPaths[delegatorRole] = itemPath;

    public string? DelegatorPathFor(string delegatorRole) => delegatorPaths.GetValueOrDefault(delegatorRole);

    /// <summary>Adds an unsigned item; returns its path. The thresholds come from the documents it is checked against.</summary>
    public string AddItem(string role, Metadata<Signed> unsigned, string trustedRootPath, byte[]? previous, string? delegatorPath)
    {
        ArgumentNullException.ThrowIfNull(unsigned);
        if (items.Count >= BundleManifest.MaxItems)
        {
            throw new BundleException($"a bundle holds at most {BundleManifest.MaxItems} items; export the roles in several bundles");
        }

        unsigned.ClearSignatures();
        var id = BundleManifest.ItemId(items.Count);
        var path = BundleNames.ItemPath(id);
        var bytes = unsigned.ToBytes();
        content.Add(path, bytes);
        string? previousPath = null;
        if (previous is not null)
        {
            previousPath = AddContext("previous", role, unsigned.Signed.Version - 1, previous, $"previous.{id}.json");
        }

        var trusted = trustedRootPath == path ? unsigned.As<Root>() : parsed[trustedRootPath].As<Root>();
        var delegator = delegatorPath is null ? null : parsed[delegatorPath].As<Targets>();
        var authorities = BundleMerge.Authorities(unsigned, role, trusted, delegator);
        items.Add(new BundleItem(
            id,
            role,
            unsigned.Signed.Version,
            FileOf(path, bytes),
            Convert.ToHexStringLower(SHA256.HashData(unsigned.SignedBytes())),
            trustedRootPath,
            previousPath,
            delegatorPath,
            BundleMerge.Requirements(authorities)));
        parsed[path] = unsigned;
        return path;
    }

    public BundleManifest Manifest(DateTimeOffset created) => new(
        BundleManifest.CurrentFormatVersion,
        BundleId,
        created,
        dialect,
        new RepositoryIdentity(name, gun, trustedRootFile is null ? null : Convert.ToHexStringLower(SHA256.HashData(trustedRootFile)), trustedRoot?.Signed.Version ?? 0),
        context,
        items);

    public BundleManifest Write(string dir, DateTimeOffset now, params (string Key, string Value)[] details)
    {
        var manifest = Manifest(now);
        Bundle.Create(dir, manifest, content, now, details);
        return manifest;
    }

    /// <summary>The files this builder added beyond those of an existing bundle's manifest.</summary>
    public Dictionary<string, byte[]> NewContent(BundleManifest existing) =>
        content.Where(c => existing.Context.All(x => x.File.Path != c.Key)).ToDictionary(c => c.Key, c => c.Value, StringComparer.Ordinal);

    private static BundleFile FileOf(string path, byte[] bytes) =>
        new(path, bytes.LongLength, Convert.ToHexStringLower(SHA256.HashData(bytes)));
}
