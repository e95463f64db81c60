using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace OfflineSigner.Daemon.Grpc;

/// <summary>The type of a directory entry without following symbolic links (lstat), which .NET does not expose.</summary>
internal static partial class FileTypes
{
    public const int Missing = -1;
    public const int Socket = 0xC000;
    public const int SymbolicLink = 0xA000;
    public const int Regular = 0x8000;
    public const int Directory = 0x4000;

    /// <summary>The S_IFMT bits of the entry, or <see cref="Missing"/>.</summary>
    public static int Of(string path)
    {
        // struct stat on Linux x86-64 / arm64 is at most 144 bytes; st_mode is at offset 24 (x86-64) or 16 (arm64).
        Span<byte> stat = stackalloc byte[256];
        if (lstat(path, stat) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            return errno == 2 ? Missing : throw new IOException($"lstat {path} failed (errno {errno})");
        }

        var offset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 24 : 16;
        return (int)(BinaryPrimitives.ReadUInt32LittleEndian(stat[offset..]) & 0xF000);
    }

    [LibraryImport("libc", EntryPoint = "lstat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int lstat(string path, Span<byte> buffer);
}
