using System.Runtime.InteropServices;

namespace OfflineSigner.Daemon;

/// <summary>The few libc calls .NET does not expose.</summary>
internal static partial class Native
{
    /// <summary>The daemon's real user id.</summary>
    public static uint Uid => getuid();

    [LibraryImport("libc", EntryPoint = "getuid")]
    private static partial uint getuid();
}
