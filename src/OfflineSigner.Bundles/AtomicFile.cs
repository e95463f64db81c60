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
        var temp = Path.Combine(dir, "." + Path.GetFileName(full) + "." + Guid.NewGuid().ToString("N")[..12] + ".tmp");
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

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
