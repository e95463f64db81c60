using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace OfflineSigner.Bundles;

/// <summary>What lstat says about a directory entry (no link is followed): its type and its number of hard links.</summary>
public readonly partial record struct FileEntry(int Type, long Links, long Size)
{
    public const int Missing = -1;
    public const int SymbolicLink = 0xA000;
    public const int Regular = 0x8000;
    public const int Directory = 0x4000;

    public bool IsRegular => Type == Regular;

    public bool IsDirectory => Type == Directory;

    /// <summary>A name for the entry's type in error messages.</summary>
    public string TypeName => Type switch
    {
        SymbolicLink => "a symbolic link",
        Regular => "a file",
        Directory => "a folder",
        0x2000 => "a character device",
        0x6000 => "a block device",
        0x1000 => "a FIFO",
        0xC000 => "a socket",
        Missing => "missing",
        _ => "an unknown kind of file",
    };

    public static FileEntry Of(string path)
    {
        Span<byte> stat = stackalloc byte[256];
        if (Lstat(path, stat) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            return errno == 2 ? new FileEntry(Missing, 0, 0) : throw new IOException($"{path}: cannot read its type (errno {errno})");
        }

        return Decode(stat);
    }

    /// <summary>
    /// Reads a plain file that must not be a link (the last component is opened with O_NOFOLLOW, so a link swapped in
    /// after <see cref="Of"/> is refused too) and must have one hard link and at most <paramref name="maxBytes"/>
    /// bytes, checked on the open descriptor before anything is read.
    /// </summary>
    public static byte[] ReadPlainFile(string path, string name, long maxBytes)
    {
        // O_RDONLY | O_NOFOLLOW | O_NONBLOCK (a FIFO does not block the open) | O_CLOEXEC; O_NOFOLLOW differs on arm64.
        var noFollow = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 0x8000 : 0x20000;
        var fd = Open(path, noFollow | 0x800 | 0x80000);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw errno switch
            {
                40 => new BundleException($"{name} in the bundle is a symbolic link; a bundle holds plain files only (refusing it)"),
                2 => new BundleException($"{name} is missing from the bundle"),
                _ => new IOException($"{name}: cannot open it (errno {errno})"),
            };
        }

        using var handle = new Microsoft.Win32.SafeHandles.SafeFileHandle((IntPtr)fd, ownsHandle: true);
        Span<byte> stat = stackalloc byte[256];
        if (Fstat(fd, stat) != 0)
        {
            throw new IOException($"{name}: cannot read its type (errno {Marshal.GetLastPInvokeError()})");
        }

        var entry = Decode(stat);
        if (!entry.IsRegular)
        {
            throw new BundleException($"{name} in the bundle is {entry.TypeName}; a bundle holds plain files only (refusing it)");
        }

        if (entry.Links > 1)
        {
            throw new BundleException($"{name} in the bundle has {entry.Links} hard links; a bundle's files must not be linked elsewhere (refusing it)");
        }

        if (entry.Size > maxBytes)
        {
            throw new BundleException($"{name} in the bundle is {entry.Size} bytes, more than the limit of {maxBytes} bytes (raise it with --max-file-bytes if the file is expected to be that large)");
        }

        var bytes = new byte[entry.Size];
        var read = 0;
        while (read < bytes.Length)
        {
            var n = RandomAccess.Read(handle, bytes.AsSpan(read), read);
            if (n == 0)
            {
                throw new BundleException($"{name} shrank while it was read (is the stick being written to?)");
            }

            read += n;
        }

        Span<byte> probe = stackalloc byte[1];
        return RandomAccess.Read(handle, probe, read) == 0
            ? bytes
            : throw new BundleException($"{name} grew while it was read (is the stick being written to?)");
    }

    private static FileEntry Decode(ReadOnlySpan<byte> stat)
    {
        // struct stat: x86-64 has st_nlink (8 bytes) at 16 and st_mode at 24; arm64 has st_mode at 16 and st_nlink (4 bytes) at 20.
        // st_size is at 48 on both.
        int mode;
        long links;
        if (RuntimeInformation.ProcessArchitecture == Architecture.X64)
        {
            links = BinaryPrimitives.ReadInt64LittleEndian(stat[16..]);
            mode = (int)BinaryPrimitives.ReadUInt32LittleEndian(stat[24..]);
        }
        else
        {
            mode = (int)BinaryPrimitives.ReadUInt32LittleEndian(stat[16..]);
            links = BinaryPrimitives.ReadUInt32LittleEndian(stat[20..]);
        }

        return new FileEntry(mode & 0xF000, links, BinaryPrimitives.ReadInt64LittleEndian(stat[48..]));
    }

    [LibraryImport("libc", EntryPoint = "lstat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Lstat(string path, Span<byte> buffer);

    [LibraryImport("libc", EntryPoint = "fstat", SetLastError = true)]
    private static partial int Fstat(int fd, Span<byte> buffer);

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);
}
