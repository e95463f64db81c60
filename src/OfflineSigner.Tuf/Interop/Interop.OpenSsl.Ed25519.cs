// Ed25519 (RFC 8032) through the system OpenSSL 3 libcrypto, the library .NET itself uses on Linux:
// the .NET BCL has no Ed25519. Only the few EVP calls needed to build keys, sign and verify are bound.
using System.Runtime.InteropServices;

namespace OfflineSigner.Tuf.Interop;

/// <summary>One-to-one bindings of the libcrypto functions the Ed25519 support needs.</summary>
internal static partial class OpenSsl
{
    /// <summary>The OpenSSL 3 shared library name on Linux.</summary>
    internal const string LibCrypto = "libcrypto.so.3";

    /// <summary>EVP_PKEY_ED25519 (NID_ED25519).</summary>
    internal const int EvpPKeyEd25519 = 1087;

    [LibraryImport(LibCrypto)]
    internal static unsafe partial EvpPKeyHandle EVP_PKEY_new_raw_public_key(int type, IntPtr engine, byte* key, nuint keyLength);

    [LibraryImport(LibCrypto)]
    internal static unsafe partial EvpPKeyHandle EVP_PKEY_new_raw_private_key(int type, IntPtr engine, byte* key, nuint keyLength);

    [LibraryImport(LibCrypto)]
    internal static unsafe partial int EVP_PKEY_get_raw_public_key(EvpPKeyHandle key, byte* publicKey, ref nuint length);

    [LibraryImport(LibCrypto)]
    internal static unsafe partial int EVP_PKEY_get_raw_private_key(EvpPKeyHandle key, byte* privateKey, ref nuint length);

    [LibraryImport(LibCrypto)]
    internal static partial void EVP_PKEY_free(IntPtr key);

    [LibraryImport(LibCrypto)]
    internal static partial EvpMdCtxHandle EVP_MD_CTX_new();

    [LibraryImport(LibCrypto)]
    internal static partial void EVP_MD_CTX_free(IntPtr context);

    // EVP_DigestVerifyInit(ctx, EVP_PKEY_CTX **pctx, const EVP_MD *type, ENGINE *e, EVP_PKEY *pkey): Ed25519 takes no digest.
    [LibraryImport(LibCrypto)]
    internal static partial int EVP_DigestVerifyInit(EvpMdCtxHandle context, IntPtr keyContext, IntPtr digest, IntPtr engine, EvpPKeyHandle key);

    // Returns 1 for a valid signature, 0 for an invalid one, a negative value on other errors.
    [LibraryImport(LibCrypto)]
    internal static unsafe partial int EVP_DigestVerify(EvpMdCtxHandle context, byte* signature, nuint signatureLength, byte* message, nuint messageLength);

    [LibraryImport(LibCrypto)]
    internal static partial int EVP_DigestSignInit(EvpMdCtxHandle context, IntPtr keyContext, IntPtr digest, IntPtr engine, EvpPKeyHandle key);

    [LibraryImport(LibCrypto)]
    internal static unsafe partial int EVP_DigestSign(EvpMdCtxHandle context, byte* signature, ref nuint signatureLength, byte* message, nuint messageLength);

    [LibraryImport(LibCrypto)]
    internal static partial CULong ERR_get_error();

    [LibraryImport(LibCrypto)]
    internal static unsafe partial void ERR_error_string_n(CULong error, byte* buffer, nuint length);

    [LibraryImport(LibCrypto)]
    internal static partial void ERR_clear_error();

    /// <summary>
    /// Takes the oldest error off this thread's OpenSSL error queue as text, and clears the rest so that a later
    /// .NET cryptographic call on the same thread does not report our error as its own.
    /// </summary>
    internal static unsafe string TakeError(string function)
    {
        var code = ERR_get_error();
        ERR_clear_error();
        if (code.Value == 0)
        {
            return function + " failed";
        }

        Span<byte> buffer = stackalloc byte[256];
        fixed (byte* p = buffer)
        {
            ERR_error_string_n(code, p, (nuint)buffer.Length);
        }

        var end = buffer.IndexOf((byte)0);
        return function + " failed: " + System.Text.Encoding.ASCII.GetString(end < 0 ? buffer : buffer[..end]);
    }
}

/// <summary>An owned EVP_PKEY*, freed with EVP_PKEY_free.</summary>
internal sealed class EvpPKeyHandle : SafeHandle
{
    public EvpPKeyHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        OpenSsl.EVP_PKEY_free(handle);
        return true;
    }
}

/// <summary>An owned EVP_MD_CTX*, freed with EVP_MD_CTX_free.</summary>
internal sealed class EvpMdCtxHandle : SafeHandle
{
    public EvpMdCtxHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        OpenSsl.EVP_MD_CTX_free(handle);
        return true;
    }
}
