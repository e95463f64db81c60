using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace OfflineSigner.Bundles;

/// <summary>Size limits applied before a bundle's files are read.</summary>
public sealed record BundleLimits(long MaxFileBytes = 64L * 1024 * 1024, long MaxTotalBytes = 4L * 1024 * 1024 * 1024, int MaxFiles = 400_000)
{
    public static BundleLimits Default { get; } = new();
}

/// <summary>
/// A bundle on disk, opened strictly: every entry is a plain file or one of the three folders (no links, devices or
/// other names), within the size limits, listed by the manifest or a well-formed signature file, with the length and
/// SHA-256 the manifest states; signature files are for this bundle and its items; the transcript's chain holds.
/// See docs/bundle-format.md.
/// </summary>
public sealed class Bundle
{
    private readonly Dictionary<string, byte[]> files;
    private readonly List<DetachedSignature> signatures;
    private readonly Dictionary<string, List<DetachedSignature>> byItem = new(StringComparer.Ordinal);

    private Bundle(string dir, BundleManifest manifest, Dictionary<string, byte[]> files, List<DetachedSignature> signatures, Transcript transcript)
    {
        Dir = dir;
        Manifest = manifest;
        this.files = files;
        this.signatures = signatures;
        Transcript = transcript;
        foreach (var s in signatures)
        {
            Index(s);
        }
    }

    public string Dir { get; }

    public BundleManifest Manifest { get; private set; }

    public IReadOnlyList<DetachedSignature> Signatures => signatures;

    public Transcript Transcript { get; }

    /// <summary>The bytes of a file the manifest lists (already checked against its hash).</summary>
    public byte[] Read(string path) =>
        files.TryGetValue(path, out var b) ? b : throw new BundleException($"{path} is not a file of the bundle");

    public IReadOnlyList<DetachedSignature> SignaturesFor(string itemId) =>
        byItem.TryGetValue(itemId, out var list) ? list : [];

    /// <summary>Writes a new bundle folder (which must not exist or be empty) with its fixed files, manifest and first transcript entry.</summary>
    public static void Create(string dir, BundleManifest manifest, IReadOnlyDictionary<string, byte[]> content, DateTimeOffset time, params (string Key, string Value)[] exportDetails)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(content);
        if (Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any())
        {
            throw new BundleException($"{dir} exists and is not empty: choose a new folder for the bundle");
        }

        Directory.CreateDirectory(dir);
        foreach (var folder in BundleNames.Folders)
        {
            Directory.CreateDirectory(Path.Combine(dir, folder));
        }

        foreach (var path in content.Keys)
        {
            BundleNames.CheckRelativePath(path, "export");
        }

        AtomicFile.WriteMany([.. content.Select(c => (Path.Combine(dir, c.Key), c.Value))]);
        foreach (var folder in BundleNames.Folders)
        {
            AtomicFile.SyncDirectory(Path.Combine(dir, folder));
        }

        AtomicFile.Write(Path.Combine(dir, BundleNames.Transcript), Transcript.Empty().Append(time, "export", exportDetails));

        // The manifest last: a bundle without one is visibly incomplete.
        AtomicFile.Write(Path.Combine(dir, BundleNames.Manifest), manifest.ToBytes());
        AtomicFile.SyncDirectory(Path.GetDirectoryName(Path.GetFullPath(dir))!);
    }

    public static Bundle Open(string dir, BundleLimits? limits = null)
    {
        limits ??= BundleLimits.Default;
        var top = FileEntry.Of(dir);
        if (!top.IsDirectory)
        {
            throw new BundleException(top.Type == FileEntry.Missing ? $"{dir}: no such bundle folder" : $"{dir} is {top.TypeName}, not a bundle folder");
        }

        var found = new Dictionary<string, FileEntry>(StringComparer.Ordinal);
        long total = 0;
        void Add(string relative, FileEntry entry)
        {
            if (!entry.IsRegular)
            {
                throw new BundleException($"{relative} in the bundle is {entry.TypeName}; a bundle holds plain files only (refusing it)");
            }

            if (entry.Links > 1)
            {
                throw new BundleException($"{relative} in the bundle has {entry.Links} hard links; a bundle's files must not be linked elsewhere (refusing it)");
            }

            if (entry.Size > limits.MaxFileBytes)
            {
                throw new BundleException($"{relative} in the bundle is {entry.Size} bytes, more than the limit of {limits.MaxFileBytes} bytes (raise it with --max-file-bytes if the file is expected to be that large)");
            }

            total += entry.Size;
            if (total > limits.MaxTotalBytes || found.Count >= limits.MaxFiles)
            {
                throw new BundleException($"the bundle is larger than the limits ({limits.MaxTotalBytes} bytes, {limits.MaxFiles} files; see --max-total-bytes and --max-files)");
            }

            found.Add(relative, entry);
        }

        var leftovers = new List<string>();
        bool Leftover(string relative, string name, FileEntry entry)
        {
            // An interrupted atomic write leaves its temporary file: never read, reported, removed by the next write.
            if (BundleNames.IsTemporaryName(name) && entry.IsRegular)
            {
                leftovers.Add(relative);
                return true;
            }

            return false;
        }

        foreach (var path in Directory.EnumerateFileSystemEntries(dir))
        {
            var name = Path.GetFileName(path);
            var entry = FileEntry.Of(path);
            if (Leftover(name, name, entry))
            {
                continue;
            }

            if (BundleNames.Folders.Contains(name, StringComparer.Ordinal))
            {
                if (!entry.IsDirectory)
                {
                    throw new BundleException($"{name} in the bundle is {entry.TypeName}, not a folder (refusing it)");
                }

                foreach (var (inner, innerEntry) in Entries(path))
                {
                    var innerName = Path.GetFileName(inner);
                    var relative = name + "/" + innerName;
                    if (Leftover(relative, innerName, innerEntry))
                    {
                        continue;
                    }

                    if (name == BundleNames.Signatures)
                    {
                        // signatures/KEYID/ITEM.json: a folder per key, plain files inside.
                        if (!innerEntry.IsDirectory || !BundleNames.IsKeyIdFolder(innerName))
                        {
                            throw new BundleException($"\"{relative}\" is {(innerEntry.IsDirectory ? "not named by a key id" : innerEntry.TypeName)}; signatures/ holds one folder per key id (refusing the bundle)");
                        }

                        foreach (var (file, fileEntry) in Entries(inner))
                        {
                            var fileName = Path.GetFileName(file);
                            if (Leftover(relative + "/" + fileName, fileName, fileEntry))
                            {
                                continue;
                            }

                            if (BundleNames.ParseSignatureName(fileName) is null)
                            {
                                throw new BundleException($"\"{relative}/{fileName}\" is not named ITEM.json{(fileName.StartsWith('.') ? " (a temporary file left by an interrupted write? delete it and sign again)" : string.Empty)}; refusing the bundle");
                            }

                            Add(relative + "/" + fileName, fileEntry);
                        }

                        continue;
                    }

                    if (!BundleNames.IsSafeName(innerName))
                    {
                        throw new BundleException($"\"{relative}\" is not a name a bundle uses{(innerName.StartsWith('.') ? " (a temporary file left by an interrupted write? delete it and sign again)" : string.Empty)}; refusing the bundle");
                    }

                    Add(relative, innerEntry);
                }
            }
            else if (name is BundleNames.Manifest or BundleNames.Transcript)
            {
                Add(name, entry);
            }
            else
            {
                throw new BundleException($"\"{name}\" is not a name a bundle uses{(name.StartsWith('.') ? " (a temporary file left by an interrupted write? delete it and try again)" : string.Empty)}; refusing the bundle");
            }
        }

        if (!found.ContainsKey(BundleNames.Manifest))
        {
            throw new BundleException($"{dir} has no manifest.json: not a bundle, or its export did not finish (export again)");
        }

        var manifest = BundleManifest.Parse(ReadChecked(dir, BundleNames.Manifest, limits));
        var fileBytes = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var listed = manifest.Context.Select(c => c.File).Concat(manifest.Items.Select(i => i.File)).ToDictionary(f => f.Path, StringComparer.Ordinal);
        foreach (var (relative, _) in found)
        {
            if (relative is BundleNames.Manifest or BundleNames.Transcript || relative.StartsWith(BundleNames.Signatures + "/", StringComparison.Ordinal))
            {
                continue;
            }

            if (!listed.ContainsKey(relative))
            {
                throw new BundleException($"{relative} is not named in the manifest; refusing the bundle");
            }
        }

        // Read and checked on every core; the first file in the manifest's order that fails is the one reported.
        var listedFiles = listed.ToArray();
        var contents = Tuf.Parallelism.Map(listedFiles.Length, i =>
        {
            var (path, file) = listedFiles[i];
            if (!found.ContainsKey(path))
            {
                throw new BundleException($"{path} is named in the manifest but missing from the bundle");
            }

            var bytes = ReadChecked(dir, path, limits);
            if (bytes.LongLength != file.Length)
            {
                throw new BundleException($"{path} is {bytes.LongLength} bytes, but the manifest says {file.Length}: the bundle was changed after export (export it again)");
            }

            var sha = Convert.ToHexStringLower(SHA256.HashData(bytes));
            if (sha != file.Sha256)
            {
                throw new BundleException($"{path} has SHA-256 {sha}, but the manifest says {file.Sha256}: the bundle was changed after export (export it again)");
            }

            return bytes;
        });
        for (var i = 0; i < listedFiles.Length; i++)
        {
            fileBytes[listedFiles[i].Key] = contents[i];
        }

        var sigPathsInOrder = found.Keys.Where(k => k.StartsWith(BundleNames.Signatures + "/", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToArray();
        var sigs = new List<DetachedSignature>(Tuf.Parallelism.Map(sigPathsInOrder.Length, n =>
        {
            var relative = sigPathsInOrder[n];
            var parts = relative.Split('/');
            var parsed = (ItemId: BundleNames.ParseSignatureName(parts[2])!, KeyId: parts[1]);
            var item = manifest.FindItem(parsed.ItemId)
                ?? throw new BundleException($"{relative} is a signature for item {parsed.ItemId}, which the manifest does not list");
            var sig = DetachedSignature.Parse(ReadChecked(dir, relative, limits), relative, manifest.Dialect);
            if (sig.BundleId != manifest.BundleId)
            {
                throw new BundleException($"{relative} was made for bundle {sig.BundleId}, not this bundle ({manifest.BundleId})");
            }

            if (sig.ItemId != item.Id || sig.KeyId != parsed.KeyId || sig.Role != item.Role || sig.Version != item.Version)
            {
                throw new BundleException($"{relative} names item {sig.ItemId} ({sig.Role} version {sig.Version}) and key {sig.KeyId}, which is not what its file name and the manifest say");
            }

            if (sig.SignedSha256 != item.SignedSha256)
            {
                throw new BundleException($"{relative} is a signature over other bytes (SHA-256 {sig.SignedSha256}) than item {item.Id} ({item.SignedSha256})");
            }

            if (!item.AllKeyIds.Contains(sig.KeyId, StringComparer.Ordinal))
            {
                throw new BundleException($"{relative}: key {sig.KeyId} is not one of the keys that sign {item.Role}");
            }

            return sig;
        }));

        var transcript = found.ContainsKey(BundleNames.Transcript)
            ? Transcript.Parse(ReadChecked(dir, BundleNames.Transcript, limits), BundleNames.Transcript)
            : throw new BundleException("the bundle has no transcript.jsonl");
        return new Bundle(dir, manifest, fileBytes, sigs, transcript) { LeftoverTemporaryFiles = leftovers };
    }

    /// <summary>Temporary files of interrupted writes found (and skipped) when the bundle was opened.</summary>
    public IReadOnlyList<string> LeftoverTemporaryFiles { get; private init; } = [];

    /// <summary>Removes the temporary files of interrupted writes (they were never part of the bundle).</summary>
    public void RemoveLeftovers()
    {
        foreach (var relative in LeftoverTemporaryFiles)
        {
            File.Delete(Path.Combine(Dir, relative));
        }
    }

    /// <summary>
    /// Adds signature files (each atomically, the folder flushed once) and records them in the transcript as one
    /// event: who signed, with which key, how many items, and the SHA-256 of the list of (item, signed SHA-256) pairs.
    /// A key that has already signed an item is refused before anything is written.
    /// </summary>
    public void AddSignatures(IReadOnlyList<DetachedSignature> added, DateTimeOffset time, IProgress<int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(added);
        if (added.Count == 0)
        {
            return;
        }

        foreach (var s in added)
        {
            if (File.Exists(Path.Combine(Dir, s.FileName)) || SignaturesFor(s.ItemId).Any(o => o.KeyId == s.KeyId))
            {
                throw new BundleException($"{s.FileName} exists: key {s.KeyId} has already signed item {s.ItemId} ({s.Role})");
            }
        }

        RemoveLeftovers();
        AtomicFile.WriteMany([.. added.Select(s => (Path.Combine(Dir, s.FileName), s.ToBytes(Manifest.Dialect)))]);
        foreach (var s in added)
        {
            signatures.Add(s);
            Index(s);
        }

        progress?.Report(added.Count);
        AtomicFile.SyncDirectory(Path.Combine(Dir, BundleNames.Signatures));
        var list = string.Concat(added.Select(s => s.ItemId + " " + s.SignedSha256 + "\n"));
        var first = added[0];
        AtomicFile.Write(Path.Combine(Dir, BundleNames.Transcript), Transcript.Append(
            time,
            "sign",
            ("keyid", first.KeyId),
            ("key_uri", first.KeyUri),
            ("device_serial", first.DeviceSerial),
            ("signer", first.Signer),
            ("items", added.Count.ToString(CultureInfo.InvariantCulture)),
            ("roles", Describe(added.Select(s => s.Role))),
            ("signed_list_sha256", Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(list))))));
    }

    /// <summary>
    /// Gives a request for a new repository (a bundle with no items yet) its items: the first root and targets built
    /// on the air-gapped machine. The new files are written first, the manifest last, then the transcript; nothing
    /// that was in the bundle is rewritten except the manifest, which had no items.
    /// </summary>
    public void AddItems(BundleManifest manifest, IReadOnlyDictionary<string, byte[]> content, DateTimeOffset time, params (string Key, string Value)[] details)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(content);
        if (Manifest.Items.Count > 0)
        {
            throw new BundleException("the bundle already has items: only a request for a new repository (exported with --new) takes a first root");
        }

        if (manifest.BundleId != Manifest.BundleId || manifest.Context.Count < Manifest.Context.Count || Manifest.Context.Any(c => !manifest.Context.Contains(c)))
        {
            throw new BundleException("the new manifest must keep the bundle's id and context");
        }

        foreach (var (path, bytes) in content)
        {
            BundleNames.CheckRelativePath(path, "ceremony");
            if (files.ContainsKey(path) || File.Exists(Path.Combine(Dir, path)))
            {
                throw new BundleException($"{path} exists in the bundle; refusing to overwrite it");
            }

            files[path] = bytes;
        }

        AtomicFile.WriteMany([.. content.Select(c => (Path.Combine(Dir, c.Key), c.Value))]);
        foreach (var folder in BundleNames.Folders)
        {
            AtomicFile.SyncDirectory(Path.Combine(Dir, folder));
        }

        AtomicFile.Write(Path.Combine(Dir, BundleNames.Manifest), manifest.ToBytes());
        Manifest = manifest;
        AtomicFile.Write(Path.Combine(Dir, BundleNames.Transcript), Transcript.Append(time, "init-root", details));
    }

    /// <summary>
    /// Adds context files to the bundle (a ceremony's sealed transcript after the ceremony was sealed): the new files
    /// first, the manifest last, then the bundle transcript. Only context is added; items and earlier context stay.
    /// </summary>
    public void AddContext(IReadOnlyList<(ContextFile File, byte[] Bytes)> added, DateTimeOffset time, string @event, params (string Key, string Value)[] details)
    {
        ArgumentNullException.ThrowIfNull(added);
        foreach (var (c, bytes) in added)
        {
            BundleNames.CheckRelativePath(c.File.Path, "context");
            if (!c.File.Path.StartsWith(BundleNames.Context + "/", StringComparison.Ordinal))
            {
                throw new BundleException($"{c.File.Path} is not a context file");
            }

            if (files.ContainsKey(c.File.Path) || File.Exists(Path.Combine(Dir, c.File.Path)))
            {
                throw new BundleException($"{c.File.Path} exists in the bundle; refusing to overwrite it");
            }

            if (c.File.Length != bytes.LongLength || c.File.Sha256 != Convert.ToHexStringLower(SHA256.HashData(bytes)))
            {
                throw new BundleException($"{c.File.Path}: the length or SHA-256 given is not the file's");
            }
        }

        var manifest = Manifest with { Context = [.. Manifest.Context, .. added.Select(a => a.File)] };
        AtomicFile.WriteMany([.. added.Select(a => (Path.Combine(Dir, a.File.File.Path), a.Bytes))]);
        AtomicFile.SyncDirectory(Path.Combine(Dir, BundleNames.Context));
        foreach (var (c, bytes) in added)
        {
            files[c.File.Path] = bytes;
        }

        AtomicFile.Write(Path.Combine(Dir, BundleNames.Manifest), manifest.ToBytes());
        Manifest = manifest;
        AtomicFile.Write(Path.Combine(Dir, BundleNames.Transcript), Transcript.Append(time, @event, details));
    }

    /// <summary>Records an event (an import, a publication) in the transcript.</summary>
    public void Record(DateTimeOffset time, string @event, params (string Key, string Value)[] details)
    {
        RemoveLeftovers();
        AtomicFile.Write(Path.Combine(Dir, BundleNames.Transcript), Transcript.Append(time, @event, details));
    }

    private static string Describe(IEnumerable<string> roles)
    {
        var distinct = roles.Distinct(StringComparer.Ordinal).ToList();
        return distinct.Count <= 8 ? string.Join(",", distinct) : string.Join(",", distinct.Take(8)) + string.Create(CultureInfo.InvariantCulture, $",... ({distinct.Count} roles)");
    }

    private void Index(DetachedSignature s)
    {
        if (!byItem.TryGetValue(s.ItemId, out var list))
        {
            byItem[s.ItemId] = list = [];
        }

        list.Add(s);
    }

    /// <summary>
    /// A folder's entries with what lstat says of each, in the folder's order: looked up on every core a few thousand
    /// at a time (hash bins), and read lazily, so that the caller's limits stop a hostile folder early.
    /// </summary>
    private static IEnumerable<(string Path, FileEntry Entry)> Entries(string folder)
    {
        const int Chunk = 4096;
        var paths = new List<string>(Chunk);
        foreach (var path in Directory.EnumerateFileSystemEntries(folder))
        {
            paths.Add(path);
            if (paths.Count == Chunk)
            {
                foreach (var e in Lookup(paths))
                {
                    yield return e;
                }

                paths.Clear();
            }
        }

        foreach (var e in Lookup(paths))
        {
            yield return e;
        }

        static (string, FileEntry)[] Lookup(List<string> paths) => Tuf.Parallelism.Map(paths.Count, i => (paths[i], FileEntry.Of(paths[i])));
    }

    private static byte[] ReadChecked(string dir, string relative, BundleLimits limits) =>
        FileEntry.ReadPlainFile(Path.Combine(dir, relative), relative, limits.MaxFileBytes);
}
