using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using System.Security.Cryptography;
using OfflineSigner.Bundles;
using OfflineSigner.Tuf;

namespace OfflineSigner.Cli.Repositories;

/// <summary>
/// A TUF specification repository in a folder, laid out as python-tuf and tuf-on-ci lay it out with consistent
/// snapshots: metadata/N.root.json for every root version and root.json, VERSION.ROLE.json for targets, delegated
/// roles and snapshot, timestamp.json. Loading checks every signature (not expiry: an expired repository must
/// still be loadable to be re-signed), and every role's version against the snapshot's. Updates are committed all at once (see <see cref="Commit"/>).
/// </summary>
internal sealed partial class TufRepository
{
    private TufRepository(string dir, RepositoryState state, byte[] rootFile)
    {
        Dir = dir;
        State = state;
        RootFileBytes = rootFile;
    }

    public string Dir { get; }

    public RepositoryState State { get; }

    /// <summary>The current root as stored (metadata/root.json), whose SHA-256 identifies the trusted root.</summary>
    public byte[] RootFileBytes { get; }

    public string RootSha256 => Convert.ToHexStringLower(SHA256.HashData(RootFileBytes));

    public static string MetadataDir(string dir) => Path.Combine(dir, "metadata");

    public static bool Exists(string dir) => File.Exists(Path.Combine(MetadataDir(dir), "1.root.json"));

    /// <summary>Loads and verifies the repository in <paramref name="dir"/>.</summary>
    /// <param name="dir">The repository folder.</param>
    /// <param name="replaced">
    /// Delegated roles that are about to be replaced (an import's items): read, parsed and held to the verified
    /// snapshot's version, length and hash like every role, but when they delegate nothing (hash bins) their
    /// signatures are not checked, since their content is dropped and the staged repository is verified as a whole
    /// before it is swapped in. A replaced role that delegates is verified, as the merge may consult it.
    /// </param>
    public static TufRepository Load(string dir, IReadOnlySet<string>? replaced = null) => LoadMetadata(dir, MetadataDir(dir), replaced);

    /// <summary>Loads and verifies the repository whose metadata folder is <paramref name="meta"/>.</summary>
    /// <param name="dir">The repository folder (for messages).</param>
    /// <param name="meta">Its metadata folder.</param>
    /// <param name="replaced">As for <see cref="Load"/>.</param>
    /// <param name="timestampFile">The timestamp to start from, when it is not yet meta/timestamp.json (a publish about to switch to it).</param>
    public static TufRepository LoadMetadata(string dir, string meta, IReadOnlySet<string>? replaced = null, string? timestampFile = null)
    {
        if (!File.Exists(Path.Combine(meta, "1.root.json")))
        {
            throw new OfflineSignerException($"{dir} is not a TUF repository: {Path.Combine(meta, "1.root.json")} is missing (create one with 'offline-signer export --new')");
        }

        var state = new RepositoryState(Dialect.TufSpecification);
        byte[] last = [];
        for (var v = 1L; ; v++)
        {
            var path = Path.Combine(meta, $"{v}.root.json");
            if (!File.Exists(path))
            {
                break;
            }

            last = Commands.CommandSupport.ReadFile(path);
            var root = Parse<Root>(last, path);
            if (root.Signed.Version != v)
            {
                throw new OfflineSignerException($"{path} holds root version {root.Signed.Version}");
            }

            if (state.Roots.Count == 0)
            {
                Verifier.ThrowIfNotVerified(Verifier.VerifyTopLevel(root.Signed, root));
            }
            else
            {
                var step = Verifier.VerifyRootUpdate(state.Root, root);
                if (!step.Verified)
                {
                    throw new OfflineSignerException($"{path} does not verify against root version {v - 1}: the repository's root chain is broken");
                }
            }

            state.Roots.Add(root);
        }

        var rootJson = Commands.CommandSupport.ReadFile(Path.Combine(meta, "root.json"));
        if (!rootJson.AsSpan().SequenceEqual(last))
        {
            throw new OfflineSignerException($"{Path.Combine(meta, "root.json")} is not the newest N.root.json (version {state.Root.Signed.Version})");
        }

        var rootSigned = state.Root.Signed;
        var timestampPath = timestampFile ?? Path.Combine(meta, "timestamp.json");
        if (File.Exists(timestampPath))
        {
            state.Timestamp = Parse<Timestamp>(Commands.CommandSupport.ReadFile(timestampPath), timestampPath);
            Check(Verifier.VerifyTopLevel(rootSigned, state.Timestamp), timestampPath);
            var snapshotVersion = state.Timestamp.Signed.SnapshotMeta.Version
                ?? throw new OfflineSignerException($"{timestampPath} names no snapshot version");
            var snapshotPath = Path.Combine(meta, $"{snapshotVersion}.snapshot.json");
            var snapshotBytes = Commands.CommandSupport.ReadFile(snapshotPath);
            state.Snapshot = Parse<Snapshot>(snapshotBytes, snapshotPath);
            Check(Verifier.VerifyTopLevel(rootSigned, state.Snapshot), snapshotPath);
            CheckMeta(state.Timestamp.Signed.SnapshotMeta, snapshotBytes, snapshotPath);
            // Thousands of roles (hash bins): read, checked against the snapshot and parsed on every core, then taken
            // in the snapshot's order.
            var entries = state.Snapshot.Signed.Meta.ToList();
            var roles = Parallelism.Map(entries.Count, i =>
            {
                var (name, entry) = entries[i];
                var role = name.EndsWith(".json", StringComparison.Ordinal) ? name[..^5] : throw new OfflineSignerException($"{snapshotPath}: meta entry \"{name}\" is not ROLE.json");
                var path = Path.Combine(meta, $"{entry.Version}.{role}.json");
                var bytes = Commands.CommandSupport.ReadFile(path);
                CheckMeta(entry, bytes, path);
                var md = Parse<Targets>(bytes, path);
                if (md.Signed.Version != entry.Version)
                {
                    throw new OfflineSignerException($"{path} holds {role} version {md.Signed.Version}, but the snapshot lists version {entry.Version}: the repository does not verify");
                }

                return (Role: role, Metadata: md);
            });
            foreach (var (role, md) in roles)
            {
                if (role == "targets")
                {
                    state.Targets = md;
                }
                else
                {
                    state.Delegated[role] = md;
                }
            }

            if (state.Targets is null)
            {
                throw new OfflineSignerException($"{snapshotPath} lists no targets.json");
            }

            Check(Verifier.VerifyTopLevel(rootSigned, state.Targets), "targets");
            var delegated = state.Delegated.ToList();
            Parallelism.For(delegated.Count, i =>
            {
                var (name, md) = delegated[i];
                if (replaced?.Contains(name) == true && md.Signed.Delegations is null)
                {
                    return;
                }

                var delegator = FindDelegator(state, name)
                    ?? throw new OfflineSignerException($"delegated role '{name}' is listed in the snapshot, but no targets role delegates to it");
                Check(Verifier.VerifyDelegated(name, delegator, md), name);
            });
        }

        return new TufRepository(dir, state, last);
    }

    /// <summary>The targets metadata that delegates to <paramref name="role"/> (targets itself or a delegated role).</summary>
    public static Targets? FindDelegator(RepositoryState state, string role)
    {
        if (state.Targets?.Signed.Delegations?.FindRole(role) is not null)
        {
            return state.Targets.Signed;
        }

        return state.Delegated.Values.Select(d => d.Signed).FirstOrDefault(t => t.Delegations?.FindRole(role) is not null);
    }

    /// <summary>
    /// Publishes an update that only adds versioned files and replaces timestamp.json (no new root), the way a TUF
    /// repository with consistent snapshots is published: every new VERSION.ROLE.json and VERSION.snapshot.json first
    /// (temporary names, one flush, renamed into place), then the new timestamp under a temporary name, which must
    /// verify with everything it names (<paramref name="verify"/> gets its path), and last the one rename that makes
    /// it timestamp.json. Whatever point a kill hits, timestamp.json names either the old repository or the new one,
    /// and both are complete on disk: the new files are names the old repository never uses. When the check fails,
    /// the files this call created are removed again.
    /// </summary>
    public static void Publish(string dir, IReadOnlyList<(string Name, byte[] Bytes)> files, Action<string> verify)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(verify);
        var full = Path.GetFullPath(dir);
        var meta = MetadataDir(full);
        RemoveLeftovers(full);
        var timestamp = files.Where(f => f.Name == "timestamp.json").ToList();
        var versioned = files.Where(f => f.Name != "timestamp.json").ToList();
        if (timestamp.Count != 1 || !Directory.Exists(meta))
        {
            throw new ArgumentException("a publish writes one new timestamp.json into an existing metadata folder", nameof(files));
        }

        foreach (var (name, _) in versioned)
        {
            if (!VersionedName().IsMatch(name))
            {
                throw new ArgumentException($"metadata file name {name}: a publish adds VERSION.ROLE.json files only", nameof(files));
            }
        }

        var created = versioned.Select(f => Path.Combine(meta, f.Name)).Where(p => !File.Exists(p)).ToList();
        var pending = Path.Combine(meta, PendingTimestampPrefix + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)));
        try
        {
            AtomicFile.WriteMany([.. versioned.Select(f => (Path.Combine(meta, f.Name), f.Bytes)), (pending, timestamp[0].Bytes)]);
            verify(pending);
        }
        catch
        {
            foreach (var path in created.Append(pending))
            {
                File.Delete(path);
            }

            AtomicFile.SyncDirectory(meta);
            throw;
        }

        File.Move(pending, Path.Combine(meta, "timestamp.json"), overwrite: true);
        AtomicFile.SyncDirectory(meta);
    }

    private const string PendingTimestampPrefix = ".timestamp.json.pending.";

    // VERSION.ROLE.json: never root.json or timestamp.json, never hidden, never a path.
    [GeneratedRegex("^[0-9]+\\.[^/]+\\.json$", RegexOptions.CultureInvariant)]
    private static partial Regex VersionedName();

    /// <summary>
    /// Replaces metadata/ with a copy that has <paramref name="files"/> added or replaced, in one step a reader or a
    /// crash cannot split: the copy is built in a staging folder beside it (unchanged files hard-linked, new ones
    /// written and flushed), then swapped with metadata/ by renameat2(RENAME_EXCHANGE) and the repository folder
    /// flushed. Whatever point a kill hits, metadata/ is either the old folder or the new one; a staging folder left
    /// behind is removed by the next commit.
    /// </summary>
    public static void Commit(string dir, IReadOnlyList<(string Name, byte[] Bytes)> files, Action<string>? verifyStaged = null)
    {
        ArgumentNullException.ThrowIfNull(files);
        var full = Path.GetFullPath(dir);
        Directory.CreateDirectory(full);
        RemoveLeftovers(full);
        var meta = MetadataDir(full);
        var staging = Path.Combine(full, ".metadata.staging." + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)));
        Directory.CreateDirectory(staging);
        var exists = Directory.Exists(meta);
        if (exists)
        {
            foreach (var file in Directory.EnumerateFiles(meta))
            {
                var name = Path.GetFileName(file);
                if (name.StartsWith('.'))
                {
                    continue;
                }

                var target = Path.Combine(staging, name);
                if (Link(file, target) != 0)
                {
                    File.Copy(file, target);
                }
            }
        }

        foreach (var (name, _) in files)
        {
            if (name.Contains('/', StringComparison.Ordinal) || name.StartsWith('.'))
            {
                throw new ArgumentException($"metadata file name {name}", nameof(files));
            }
        }

        AtomicFile.WriteMany([.. files.Select(f => (Path.Combine(staging, f.Name), f.Bytes))]);

        AtomicFile.SyncDirectory(staging);
        try
        {
            verifyStaged?.Invoke(staging);
        }
        catch
        {
            Directory.Delete(staging, recursive: true);
            throw;
        }

        if (exists)
        {
            if (RenameAt2(AtFdCwd, staging, AtFdCwd, meta, RenameExchange) != 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                Directory.Delete(staging, recursive: true);
                throw new IOException($"cannot swap in the new metadata folder (renameat2 RENAME_EXCHANGE failed, errno {errno}); the file system of {full} must support it (ext4, xfs, btrfs, tmpfs do). Nothing was changed.");
            }
        }
        else
        {
            Directory.Move(staging, meta);
        }

        AtomicFile.SyncDirectory(full);
        if (exists)
        {
            Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>Staging folders of an earlier commit that was interrupted: never the repository's state, so they go.</summary>
    public static void RemoveLeftovers(string dir)
    {
        if (!Directory.Exists(dir))
        {
            return;
        }

        foreach (var d in Directory.EnumerateDirectories(dir, ".metadata.staging.*"))
        {
            Directory.Delete(d, recursive: true);
        }

        // A publish that was interrupted: its temporary files and its pending timestamp, never names a reader uses.
        var meta = MetadataDir(dir);
        if (Directory.Exists(meta))
        {
            foreach (var f in Directory.EnumerateFiles(meta, ".*"))
            {
                var name = Path.GetFileName(f);
                if (name.StartsWith(PendingTimestampPrefix, StringComparison.Ordinal) || AtomicFile.IsTemporaryName(name))
                {
                    File.Delete(f);
                }
            }
        }
    }

    private static void Check(VerificationResult result, string what)
    {
        if (!result.Verified)
        {
            throw new OfflineSignerException($"the repository does not verify: {what}: {result.Signers.Count} of {result.Threshold} required signatures{(result.Problems.Count > 0 ? ": " + string.Join("; ", result.Problems) : string.Empty)}");
        }
    }

    private static void CheckMeta(MetaFile entry, byte[] bytes, string path)
    {
        if (entry.Length is long length && length != bytes.LongLength)
        {
            throw new OfflineSignerException($"{path} is {bytes.LongLength} bytes, but its snapshot/timestamp entry says {length}");
        }

        if (entry.Hashes.TryGetValue("sha256", out var sha) && sha != Convert.ToHexStringLower(SHA256.HashData(bytes)))
        {
            throw new OfflineSignerException($"{path} does not have the SHA-256 its snapshot/timestamp entry names");
        }
    }

    private static Metadata<T> Parse<T>(byte[] bytes, string path)
        where T : Signed
    {
        try
        {
            return Metadata<T>.Parse(bytes, dialect: Dialect.TufSpecification);
        }
        catch (MetadataException e)
        {
            throw new MetadataException($"{path}: {e.Message}", e);
        }
    }

    private const int AtFdCwd = -100;
    private const uint RenameExchange = 2;

    [LibraryImport("libc", EntryPoint = "renameat2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int RenameAt2(int oldDirFd, string oldPath, int newDirFd, string newPath, uint flags);

    [LibraryImport("libc", EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Link(string oldPath, string newPath);
}
