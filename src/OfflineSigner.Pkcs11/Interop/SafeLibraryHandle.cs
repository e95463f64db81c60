using System.Runtime.InteropServices;

namespace OfflineSigner.Pkcs11.Interop;

/// <summary>
/// A library loaded with <see cref="NativeLibrary"/>. Released on the failure paths of loading; a module that loaded
/// successfully keeps its handle for the life of the process (see <see cref="Pkcs11ModuleRegistry"/>).
/// </summary>
internal sealed class SafeLibraryHandle : SafeHandle
{
    private SafeLibraryHandle(nint handle)
        : base(0, ownsHandle: true)
    {
        SetHandle(handle);
    }

    public override bool IsInvalid => handle == 0;

    /// <summary>Loads <paramref name="path"/>; throws DllNotFoundException or BadImageFormatException as NativeLibrary does.</summary>
    public static SafeLibraryHandle Load(string path) => new(NativeLibrary.Load(path));

    public bool TryGetExport(string name, out nint address) => NativeLibrary.TryGetExport(handle, name, out address);

    protected override bool ReleaseHandle()
    {
        NativeLibrary.Free(handle);
        return true;
    }
}
