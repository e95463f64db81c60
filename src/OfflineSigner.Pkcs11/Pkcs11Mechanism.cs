using System.Runtime.InteropServices;
using OfflineSigner.Pkcs11.Interop;

namespace OfflineSigner.Pkcs11;

/// <summary>A CK_MECHANISM: type and parameter bytes (already in the module's native layout).</summary>
public sealed class Pkcs11Mechanism
{
    public Pkcs11Mechanism(ulong type, byte[]? parameter = null)
    {
        Type = type;
        Parameter = parameter;
    }

    public ulong Type { get; }

    public byte[]? Parameter { get; }

    /// <summary>CKM_ECDSA over a digest computed by the caller; the result is raw r || s.</summary>
    public static Pkcs11Mechanism Ecdsa { get; } = new(Ckm.Ecdsa);

    /// <summary>CKM_EDDSA, pure Ed25519 (no parameter).</summary>
    public static Pkcs11Mechanism Eddsa { get; } = new(Ckm.Eddsa);

    /// <summary>CKM_RSA_PKCS_PSS over a SHA-256 digest computed by the caller, MGF1-SHA-256, 32-byte salt.</summary>
    public static Pkcs11Mechanism RsaPssSha256 { get; } = new(Ckm.RsaPkcsPss, PssParameter(Ckm.Sha256, Ckm.MgfSha256, 32));

    /// <summary>CKM_RSA_PKCS_PSS over a SHA-384 digest computed by the caller, MGF1-SHA-384, 48-byte salt.</summary>
    public static Pkcs11Mechanism RsaPssSha384 { get; } = new(Ckm.RsaPkcsPss, PssParameter(Ckm.Sha384, Ckm.MgfSha384, 48));

    /// <summary>CKM_RSA_PKCS_PSS over a SHA-512 digest computed by the caller, MGF1-SHA-512, 64-byte salt.</summary>
    public static Pkcs11Mechanism RsaPssSha512 { get; } = new(Ckm.RsaPkcsPss, PssParameter(Ckm.Sha512, Ckm.MgfSha512, 64));

    internal static byte[] PssParameter(CkUlong hash, CkUlong mgf, CkUlong saltLength)
    {
        var p = new CkRsaPkcsPssParams { HashAlg = hash, Mgf = mgf, SaltLength = saltLength };
        return MemoryMarshal.AsBytes(new ReadOnlySpan<CkRsaPkcsPssParams>(ref p)).ToArray();
    }
}
