// Ed25519 as RFC 8032 defines it (pure Ed25519, no pre-hash), keys in RFC 8410 form, through OpenSSL's libcrypto.
using System.Security.Cryptography;
using OfflineSigner.Tuf.Interop;

namespace OfflineSigner.Tuf.Crypto;

/// <summary>Ed25519 signature verification (RFC 8032) through the system OpenSSL libcrypto.</summary>
public static class Ed25519
{
    /// <summary>The size of a public key in bytes.</summary>
    public const int PublicKeySize = 32;

    /// <summary>The size of a private key seed in bytes.</summary>
    public const int SeedSize = 32;

    /// <summary>The size of a signature in bytes.</summary>
    public const int SignatureSize = 64;

    /// <summary>
    /// Whether <paramref name="signature"/> is a valid Ed25519 signature of <paramref name="message"/> by <paramref name="publicKey"/>.
    /// Returns false (never throws) for a signature or public key of the wrong length or content.
    /// </summary>
    public static bool Verify(ReadOnlySpan<byte> publicKey, ReadOnlySpan<byte> message, ReadOnlySpan<byte> signature)
    {
        if (publicKey.Length != PublicKeySize || signature.Length != SignatureSize)
        {
            return false;
        }

        using var key = ImportPublicKey(publicKey);
        return Verify(key, message, signature);
    }

    internal static unsafe EvpPKeyHandle ImportPublicKey(ReadOnlySpan<byte> publicKey)
    {
        EvpPKeyHandle key;
        fixed (byte* p = publicKey)
        {
            key = OpenSsl.EVP_PKEY_new_raw_public_key(OpenSsl.EvpPKeyEd25519, IntPtr.Zero, p, (nuint)publicKey.Length);
        }

        if (key.IsInvalid)
        {
            key.Dispose();
            throw new CryptographicException(OpenSsl.TakeError("EVP_PKEY_new_raw_public_key"));
        }

        return key;
    }

    internal static unsafe bool Verify(EvpPKeyHandle key, ReadOnlySpan<byte> message, ReadOnlySpan<byte> signature)
    {
        if (signature.Length != SignatureSize)
        {
            return false;
        }

        using var context = NewContext();
        if (OpenSsl.EVP_DigestVerifyInit(context, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero, key) != 1)
        {
            throw new CryptographicException(OpenSsl.TakeError("EVP_DigestVerifyInit"));
        }

        // A non-null pointer even for an empty message: OpenSSL is not asked to treat NULL as "no data".
        byte empty = 0;
        int result;
        fixed (byte* s = signature)
        fixed (byte* m = message)
        {
            result = OpenSsl.EVP_DigestVerify(context, s, (nuint)signature.Length, message.IsEmpty ? &empty : m, (nuint)message.Length);
        }

        if (result != 1)
        {
            // 0 is "bad signature"; a negative value is a malformed input. Either way the signature is not valid.
            OpenSsl.ERR_clear_error();
            return false;
        }

        return true;
    }

    internal static EvpMdCtxHandle NewContext()
    {
        var context = OpenSsl.EVP_MD_CTX_new();
        if (context.IsInvalid)
        {
            context.Dispose();
            throw new CryptographicException(OpenSsl.TakeError("EVP_MD_CTX_new"));
        }

        return context;
    }
}

/// <summary>
/// An Ed25519 private key held in OpenSSL memory, for software keys (tests, demos, online roles).
/// Keys that matter live in hardware; this type exists because .NET has no Ed25519 of its own.
/// </summary>
public sealed class Ed25519PrivateKey : IDisposable
{
    // RFC 8410 §7 OneAsymmetricKey v1 for Ed25519: SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING seed } }.
    private static readonly byte[] Pkcs8Prefix = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

    private readonly EvpPKeyHandle key;

    private Ed25519PrivateKey(EvpPKeyHandle key, PublicKey publicKey)
    {
        this.key = key;
        PublicKey = publicKey;
    }

    /// <summary>The public half.</summary>
    public PublicKey PublicKey { get; }

    /// <summary>A new random key.</summary>
    public static Ed25519PrivateKey Generate()
    {
        Span<byte> seed = stackalloc byte[Ed25519.SeedSize];
        try
        {
            RandomNumberGenerator.Fill(seed);
            return FromSeed(seed);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
        }
    }

    /// <summary>The key whose 32-byte seed (RFC 8032 private key) is <paramref name="seed"/>. The caller keeps and wipes its copy.</summary>
    public static unsafe Ed25519PrivateKey FromSeed(ReadOnlySpan<byte> seed)
    {
        if (seed.Length != Ed25519.SeedSize)
        {
            throw new ArgumentException($"an Ed25519 seed is {Ed25519.SeedSize} bytes, not {seed.Length}", nameof(seed));
        }

        EvpPKeyHandle handle;
        fixed (byte* p = seed)
        {
            handle = OpenSsl.EVP_PKEY_new_raw_private_key(OpenSsl.EvpPKeyEd25519, IntPtr.Zero, p, (nuint)seed.Length);
        }

        if (handle.IsInvalid)
        {
            handle.Dispose();
            throw new CryptographicException(OpenSsl.TakeError("EVP_PKEY_new_raw_private_key"));
        }

        try
        {
            Span<byte> raw = stackalloc byte[Ed25519.PublicKeySize];
            var length = (nuint)raw.Length;
            fixed (byte* p = raw)
            {
                if (OpenSsl.EVP_PKEY_get_raw_public_key(handle, p, ref length) != 1 || length != Ed25519.PublicKeySize)
                {
                    throw new CryptographicException(OpenSsl.TakeError("EVP_PKEY_get_raw_public_key"));
                }
            }

            return new Ed25519PrivateKey(handle, PublicKey.FromEd25519(raw));
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Reads an unencrypted RFC 8410 PKCS#8 private key (DER). The caller wipes <paramref name="pkcs8"/>.</summary>
    /// <exception cref="CryptographicException">the bytes are not an Ed25519 PKCS#8 private key.</exception>
    public static Ed25519PrivateKey ImportPkcs8PrivateKey(ReadOnlySpan<byte> pkcs8)
    {
        if (pkcs8.Length != Pkcs8Prefix.Length + Ed25519.SeedSize || !pkcs8[..Pkcs8Prefix.Length].SequenceEqual(Pkcs8Prefix))
        {
            throw new CryptographicException("not an unencrypted RFC 8410 Ed25519 PKCS#8 private key");
        }

        return FromSeed(pkcs8[Pkcs8Prefix.Length..]);
    }

    /// <summary>The private key as unencrypted RFC 8410 PKCS#8 DER. The caller must wipe the returned bytes.</summary>
    public unsafe byte[] ExportPkcs8PrivateKey()
    {
        ObjectDisposedException.ThrowIf(key.IsClosed, this);
        var result = new byte[Pkcs8Prefix.Length + Ed25519.SeedSize];
        Pkcs8Prefix.CopyTo(result, 0);
        var length = (nuint)Ed25519.SeedSize;
        fixed (byte* p = &result[Pkcs8Prefix.Length])
        {
            if (OpenSsl.EVP_PKEY_get_raw_private_key(key, p, ref length) != 1 || length != Ed25519.SeedSize)
            {
                CryptographicOperations.ZeroMemory(result);
                throw new CryptographicException(OpenSsl.TakeError("EVP_PKEY_get_raw_private_key"));
            }
        }

        return result;
    }

    /// <summary>Signs <paramref name="message"/> (pure Ed25519: the whole message, no pre-hash).</summary>
    public unsafe byte[] Sign(ReadOnlySpan<byte> message)
    {
        ObjectDisposedException.ThrowIf(key.IsClosed, this);
        using var context = Ed25519.NewContext();
        if (OpenSsl.EVP_DigestSignInit(context, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero, key) != 1)
        {
            throw new CryptographicException(OpenSsl.TakeError("EVP_DigestSignInit"));
        }

        var signature = new byte[Ed25519.SignatureSize];
        var length = (nuint)signature.Length;
        byte empty = 0;
        fixed (byte* s = signature)
        fixed (byte* m = message)
        {
            if (OpenSsl.EVP_DigestSign(context, s, ref length, message.IsEmpty ? &empty : m, (nuint)message.Length) != 1 || length != Ed25519.SignatureSize)
            {
                throw new CryptographicException(OpenSsl.TakeError("EVP_DigestSign"));
            }
        }

        return signature;
    }

    /// <summary>Frees the key; OpenSSL clears private key memory when it frees it.</summary>
    public void Dispose() => key.Dispose();
}
