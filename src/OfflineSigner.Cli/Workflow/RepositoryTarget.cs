using System.Globalization;
using OfflineSigner.Bundles;
using OfflineSigner.Cli.Repositories;
using OfflineSigner.Signing;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Crypto;

namespace OfflineSigner.Cli.Workflow;

/// <summary>A repository's verified current state and the exact bytes of its trusted root (the bundle's identity).</summary>
internal sealed record LoadedRepository(RepositoryState State, byte[] RootFile);

/// <summary>What an import changed.</summary>
internal sealed record ImportResult(IReadOnlyList<string> Roles, long RootVersion, IReadOnlyList<string> Files, IReadOnlyList<string> Notes);

/// <summary>Where export reads from and import writes to: a TUF repository folder or a notary server.</summary>
internal abstract class RepositoryTarget
{
    public abstract Dialect Dialect { get; }

    public abstract string Name { get; }

    public abstract string? Gun { get; }

    public abstract string Describe();

    public abstract Task<LoadedRepository?> LoadAsync(CancellationToken cancellationToken);

    public abstract Task<IReadOnlyList<(string Role, Key Key)>> OnlineKeysForNewAsync(string? onlineKeyFile, CancellationToken cancellationToken);

    public abstract Task<ImportResult> ImportAsync(Bundle bundle, string? onlineKeyFile, DateTimeOffset now, CancellationToken cancellationToken);

    public static RepositoryTarget FromOptions(string? repo, string? notary, string? gun)
    {
        if (repo is not null == notary is not null)
        {
            throw new OfflineSignerException("name the repository: either --repo DIR (a TUF repository folder) or --notary URL --gun GUN");
        }

        if (repo is not null)
        {
            return gun is null ? new TufDirectoryTarget(repo) : throw new OfflineSignerException("--gun goes with --notary, not with --repo");
        }

        if (string.IsNullOrEmpty(gun))
        {
            throw new OfflineSignerException("--notary needs the repository's --gun (for example docker.io/library/app)");
        }

        return !Uri.TryCreate(notary, UriKind.Absolute, out var url) || (url.Scheme != "http" && url.Scheme != "https")
            ? throw new OfflineSignerException($"--notary: \"{notary}\" is not an http(s) URL")
            : new NotaryTarget(url, gun);
    }

    /// <summary>Reads the online key file: a PKCS#8 private key, or (for export) a public key.</summary>
    public static Key ReadOnlyPublicKey(string path, Dialect dialect)
    {
        var text = File.ReadAllText(path);
        if (text.Contains("PRIVATE KEY", StringComparison.Ordinal))
        {
            using var signer = SoftwareKeySigner.LoadPkcs8Pem(path);
            return Key.FromPublicKey(signer.PublicKey, dialect);
        }

        return Exporter.ReadKeyFile(path, dialect);
    }
}

/// <summary>A TUF specification repository in a folder, written atomically (see <see cref="TufRepository.Commit"/>).</summary>
internal sealed class TufDirectoryTarget(string dir) : RepositoryTarget
{
    public override Dialect Dialect => Dialect.TufSpecification;

    public override string Name => Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir)));

    public override string? Gun => null;

    public override string Describe() => dir;

    public override Task<LoadedRepository?> LoadAsync(CancellationToken cancellationToken) => Task.FromResult(Load(null));

    private LoadedRepository? Load(IReadOnlySet<string>? replaced)
    {
        TufRepository.RemoveLeftovers(dir);
        if (!TufRepository.Exists(dir))
        {
            return null;
        }

        using var phase = Timings.Measure("load and verify the repository");
        var repo = TufRepository.Load(dir, replaced);
        return new LoadedRepository(repo.State, repo.RootFileBytes);
    }

    public override Task<IReadOnlyList<(string Role, Key Key)>> OnlineKeysForNewAsync(string? onlineKeyFile, CancellationToken cancellationToken)
    {
        if (TufRepository.Exists(dir))
        {
            throw new OfflineSignerException($"{dir} already holds a repository (metadata/1.root.json): --new starts a new one");
        }

        if (onlineKeyFile is null)
        {
            throw new OfflineSignerException("a new TUF repository needs --online-key FILE: the key that signs snapshot and timestamp on this machine (for example: openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out online.pem)");
        }

        var key = ReadOnlyPublicKey(onlineKeyFile, Dialect);
        return Task.FromResult<IReadOnlyList<(string Role, Key Key)>>([("snapshot", key), ("timestamp", key)]);
    }

    public override Task<ImportResult> ImportAsync(Bundle bundle, string? onlineKeyFile, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(bundle);

        // The delegated roles this bundle replaces are held to the verified snapshot's versions, but their old
        // signatures are not checked again: their content is dropped, and the staged repository is verified whole.
        var replaced = bundle.Manifest.Items.Select(i => i.Role).Where(r => r != "root" && r != "targets").ToHashSet(StringComparer.Ordinal);
        var loaded = Load(replaced);
        if (onlineKeyFile is null && loaded is null)
        {
            throw new OfflineSignerException("a new TUF repository needs its first snapshot and timestamp: pass --online-key FILE (the PKCS#8 PEM key the root lists for them)");
        }

        ImportPlan plan;
        RepositoryState state;
        var leftToService = onlineKeyFile is null;
        if (leftToService)
        {
            // Snapshot and timestamp are the repository's own service's (tuf-on-ci, RSTUF...): the signed roles are
            // written beside the current ones, and clients see them once the service publishes a snapshot naming them.
            using (Timings.Measure("merge signatures and check every item"))
            {
                plan = Importer.Plan(bundle, loaded!.State, loaded.RootFile, null, now);
            }

            state = plan.State;
        }
        else
        {
            using var online = SoftwareKeySigner.LoadPkcs8Pem(onlineKeyFile!);
            using (Timings.Measure("merge signatures and check every item"))
            {
                plan = Importer.Plan(bundle, loaded?.State, loaded?.RootFile, null, now, online);
            }

            state = plan.State;
            using var phase = Timings.Measure("new snapshot and timestamp");
            var snapshotKey = OnlineKey(state.Root.Signed, "snapshot", online.PublicKey);
            var timestampKey = OnlineKey(state.Root.Signed, "timestamp", online.PublicKey);
            state.RefreshSnapshot(Exporter.ExpiresFor(new ExportRequest(), now, "snapshot"));
            state.Snapshot!.SignWith(online, snapshotKey);
            state.RefreshTimestamp(Exporter.ExpiresFor(new ExportRequest(), now, "timestamp"));
            state.Timestamp!.SignWith(online, timestampKey);
        }

        var files = new List<(string Name, byte[] Bytes)>();
        foreach (var root in state.Roots.Where(r => plan.FirstNewRootVersion > 0 && r.Signed.Version >= plan.FirstNewRootVersion))
        {
            files.Add(($"{root.Signed.Version.ToString(CultureInfo.InvariantCulture)}.root.json", RepositoryState.FileBytes(root)));
        }

        if (plan.FirstNewRootVersion > 0)
        {
            files.Add(("root.json", RepositoryState.FileBytes(state.Root)));
        }

        foreach (var role in plan.ChangedRoles.Where(r => r != "root"))
        {
            var md = role == "targets" ? state.Targets! : state.Delegated[role];
            if (role.Contains('/', StringComparison.Ordinal) || role.StartsWith('.'))
            {
                throw new OfflineSignerException($"role name '{role}' cannot be a file name in metadata/");
            }

            files.Add(($"{md.Signed.Version.ToString(CultureInfo.InvariantCulture)}.{role}.json", RepositoryState.FileBytes(md)));
        }

        if (!leftToService)
        {
            files.Add(($"{state.Snapshot!.Signed.Version.ToString(CultureInfo.InvariantCulture)}.snapshot.json", RepositoryState.FileBytes(state.Snapshot)));
            files.Add(("timestamp.json", RepositoryState.FileBytes(state.Timestamp!)));
        }

        var expectedRoot = state.Root.Signed.Version;
        var expectedTimestamp = leftToService ? loaded!.State.Timestamp?.Signed.Version : state.Timestamp!.Signed.Version;
        // What is about to become the repository must verify as a whole, as a client would walk it, and hold the
        // versions just written.
        void Verify(string meta, string? timestampFile, string what)
        {
            using var verify = Timings.Measure($"verify the {what}");
            var check = TufRepository.LoadMetadata(dir, meta, timestampFile: timestampFile);
            if (check.State.Root.Signed.Version != expectedRoot || check.State.Timestamp?.Signed.Version != expectedTimestamp)
            {
                throw new OfflineSignerException($"the {what} does not hold the versions just written; nothing was changed");
            }
        }

        // Routine updates (no new root, snapshot and timestamp made here) are published in place, timestamp.json
        // last; a new root (root.json replaced with it) or roles left to the repository's service swap the folder.
        if (!leftToService && plan.FirstNewRootVersion == 0 && loaded is not null)
        {
            using var publish = Timings.Measure("write, verify what the new timestamp names, switch to it");
            TufRepository.Publish(dir, files, pendingTimestamp => Verify(TufRepository.MetadataDir(dir), pendingTimestamp, "new repository"));
        }
        else
        {
            using var commit = Timings.Measure("stage, verify the staged metadata, swap in");
            TufRepository.Commit(dir, files, staged => Verify(staged, null, "staged repository"));
        }

        Directory.CreateDirectory(Path.Combine(dir, "targets"));
        var note = leftToService
            ? "snapshot and timestamp left to the repository's own service (no --online-key): clients see the new versions once it publishes a snapshot naming them"
            : $"snapshot version {state.Snapshot!.Signed.Version}, timestamp version {expectedTimestamp} signed with the online key";
        return Task.FromResult(new ImportResult(plan.ChangedRoles, state.Root.Signed.Version, [.. files.Select(f => "metadata/" + f.Name)], [note]));
    }

    internal static Key OnlineKey(Root root, string role, PublicKey key) =>
        root.RoleKeys(role).FirstOrDefault(k => k.PublicKey is not null && k.PublicKey.Equals(key))
        ?? throw new OfflineSignerException($"--online-key is not a {role} key of root version {root.Version} ({string.Join(", ", root.Roles[role].KeyIds)})");
}
