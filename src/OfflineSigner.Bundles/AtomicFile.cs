using System.Runtime.InteropServices;

namespace OfflineSigner.Bundles;

/// <summary>
/// Writes a file so that readers see either the old content or the new, never a part: a temporary file in the same
/// folder, flushed to disk, renamed over the target, then the folder itself flushed so the rename survives a crash.
/// </summary>
public static partial class AtomicFile
{
    public static void Write(string path, ReadOnlySpan<byte> content) => Write(path, content, syncDirectory: true);

    /// <summary>
    /// As <see cref="Write(string, ReadOnlySpan{byte})"/>; with <paramref name="syncDirectory"/> false the folder is not
    /// flushed, for a caller that writes many files into one folder and flushes it once (<see cref="SyncDirectory"/>).
    /// </summary>
    public static void Write(string path, ReadOnlySpan<byte> content, bool syncDirectory)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        var temp = TemporaryPath(dir, full);
        try
        {
            using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                fs.Write(content);
                fs.Flush(flushToDisk: true);
            }

            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }

        if (syncDirectory)
        {
            SyncDirectory(dir);
        }
    }

    /// <summary>
    /// Writes many files with the same guarantee as <see cref="Write(string, ReadOnlySpan{byte})"/> at a fraction of the
    /// cost: every file goes to a temporary name first, then the file systems are flushed once (syncfs) instead of
    /// once per file, then the files are renamed into place and each folder is flushed. A crash leaves either a
    /// temporary file (never a name a reader uses) or the complete new file.
    /// </summary>
    public static void WriteMany(IReadOnlyList<(string Path, byte[] Content)> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        var temps = new List<(string Temp, string Final)>(files.Count);
        var dirs = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            foreach (var (path, content) in files)
            {
                var full = Path.GetFullPath(path);
                var dir = Path.GetDirectoryName(full)!;
                if (dirs.Add(dir))
                {
                    Directory.CreateDirectory(dir);
                }

                var temp = TemporaryPath(dir, full);
                using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1))
                {
                    fs.Write(content);
                }

                temps.Add((temp, full));
            }

            SyncFileSystems(dirs);
            foreach (var (temp, final) in temps)
            {
                File.Move(temp, final, overwrite: true);
            }

            temps.Clear();
        }
        finally
        {
            foreach (var (temp, _) in temps)
            {
                File.Delete(temp);
            }
        }

        foreach (var dir in dirs)
        {
            SyncDirectory(dir);
        }
    }

    /// <summary>Whether <paramref name="name"/> is a temporary file these writes use (.NAME.HEX12.tmp), left by an interrupted one.</summary>
    public static bool IsTemporaryName(string name) => TemporaryName().IsMatch(name);

    // The temporary name for a file: hidden, beside it, never a name a reader uses.
    private static string TemporaryPath(string dir, string full) =>
        Path.Combine(dir, "." + Path.GetFileName(full) + "." + Guid.NewGuid().ToString("N")[..12] + ".tmp");

    [System.Text.RegularExpressions.GeneratedRegex("^\\..+\\.[0-9a-f]{12}\\.tmp$", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex TemporaryName();

    /// <summary>Flushes the file systems that hold <paramref name="dirs"/> (syncfs), each once.</summary>
    public static void SyncFileSystems(IEnumerable<string> dirs)
    {
        ArgumentNullException.ThrowIfNull(dirs);
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var seen = new HashSet<ulong>();
        Span<byte> stat = stackalloc byte[256];
        foreach (var dir in dirs)
        {
            var fd = Open(dir, 0 /* O_RDONLY */ | 0x10000 /* O_DIRECTORY */);
            if (fd < 0)
            {
                throw new IOException($"cannot open folder {dir} to flush it (errno {Marshal.GetLastPInvokeError()})");
            }

            try
            {
                // st_dev is the first field of struct stat on every Linux architecture.
                if (Fstat(fd, stat) == 0 && !seen.Add(System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(stat)))
                {
                    continue;
                }

                if (SyncFs(fd) != 0)
                {
                    throw new IOException($"cannot flush the file system of {dir} (errno {Marshal.GetLastPInvokeError()})");
                }
            }
            finally
            {
                _ = Close(fd);
            }
        }
    }

    /// <summary>Flushes a folder's entries (the rename) to disk.</summary>
    public static void SyncDirectory(string dir)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var fd = Open(dir, 0 /* O_RDONLY */ | 0x10000 /* O_DIRECTORY */);
        if (fd < 0)
        {
            throw new IOException($"cannot open folder {dir} to flush it (errno {Marshal.GetLastPInvokeError()})");
        }

        try
        {
            if (Fsync(fd) != 0)
            {
                throw new IOException($"cannot flush folder {dir} (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "syncfs", SetLastError = true)]
    private static partial int SyncFs(int fd);

    [LibraryImport("libc", EntryPoint = "fstat", SetLastError = true)]
    private static partial int Fstat(int fd, Span<byte> buffer);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
