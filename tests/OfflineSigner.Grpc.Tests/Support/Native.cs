using System.Runtime.InteropServices;

namespace OfflineSigner.Grpc.Tests.Support;

internal static partial class Native
{
    public static uint Uid => getuid();

    [LibraryImport("libc", EntryPoint = "getuid")]
    private static partial uint getuid();
}
