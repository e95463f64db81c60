using System.Formats.Asn1;
using System.Security.Cryptography;
using OfflineSigner.Tuf.Crypto;

namespace OfflineSigner.Signing;

/// <summary>
/// A key held in process memory: for demos, tests and online roles (timestamp, snapshot) only.
/// Offline keys belong in hardware. The private key can be written to and read from an <b>unencrypted</b>
/// PKCS #8 PEM file ("PRIVATE KEY"; Ed25519 in RFC 8410 form): protect such files by file permissions, or do not keep them.
/// </summary>
public sealed class SoftwareKeySigner : IKeySigner
{
    private const string Pkcs8Label = "PRIVATE KEY";

    private readonly ECDsa? ecdsa;
    private readonly RSA? rsa;
    private readonly Ed25519PrivateKey? ed25519;
    private readonly byte[] spki;
    private bool disposed;

    private SoftwareKeySigner(KeyAlgorithm algorithm, ECDsa? ecdsa, RSA? rsa, Ed25519PrivateKey? ed25519)
    {
        Algorithm = algorithm;
        this.ecdsa = ecdsa;
        this.rsa = rsa;
        this.ed25519 = ed25519;
        PublicKey = ed25519?.PublicKey
            ?? PublicKey.FromSubjectPublicKeyInfo(ecdsa?.ExportSubjectPublicKeyInfo() ?? rsa!.ExportSubjectPublicKeyInfo());
        spki = PublicKey.SubjectPublicKeyInfo.ToArray();
        KeyReference = "software:" + PublicKey.Fingerprint;
    }

    /// <inheritdoc/>
    public KeyAlgorithm Algorithm { get; }

    /// <inheritdoc/>
    public ReadOnlyMemory<byte> SubjectPublicKeyInfo => spki;

    /// <summary>The public key.</summary>
    public PublicKey PublicKey { get; }

    /// <summary><c>software:</c> followed by the public key's fingerprint.</summary>
    public string KeyReference { get; }

    /// <summary>A new random key of <paramref name="algorithm"/>.</summary>
    public static SoftwareKeySigner Generate(KeyAlgorithm algorithm) => algorithm switch
    {
        KeyAlgorithm.EcdsaP256 => new(algorithm, ECDsa.Create(ECCurve.NamedCurves.nistP256), null, null),
        KeyAlgorithm.EcdsaP384 => new(algorithm, ECDsa.Create(ECCurve.NamedCurves.nistP384), null, null),
        KeyAlgorithm.Rsa2048 => new(algorithm, null, RSA.Create(2048), null),
        KeyAlgorithm.Rsa3072 => new(algorithm, null, RSA.Create(3072), null),
        KeyAlgorithm.Rsa4096 => new(algorithm, null, RSA.Create(4096), null),
        KeyAlgorithm.Ed25519 => new(algorithm, null, null, Ed25519PrivateKey.Generate()),
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "unknown key algorithm"),
    };

    /// <summary>Reads an unencrypted PKCS #8 private key (DER). The caller wipes <paramref name="pkcs8"/>.</summary>
    /// <exception cref="SigningException">the bytes are not a PKCS #8 key of a supported algorithm and size.</exception>
    public static SoftwareKeySigner ImportPkcs8(ReadOnlySpan<byte> pkcs8)
    {
        string algorithmOid;
        try
        {
            // PrivateKeyInfo ::= SEQUENCE { version INTEGER, privateKeyAlgorithm AlgorithmIdentifier, privateKey OCTET STRING, ... }
            unsafe
            {
                fixed (byte* p = pkcs8)
                {
                    using var memory = new UnmanagedView(p, pkcs8.Length);
                    var reader = new AsnReader(memory.Memory, AsnEncodingRules.DER);
                    var info = reader.ReadSequence();
                    _ = info.ReadIntegerBytes();
                    algorithmOid = info.ReadSequence().ReadObjectIdentifier();
                }
            }
        }
        catch (AsnContentException e)
        {
            throw new SigningException("not a DER PKCS #8 private key: " + e.Message, e);
        }

        try
        {
            switch (algorithmOid)
            {
                case "1.2.840.10045.2.1":
                {
                    var key = ECDsa.Create();
                    try
                    {
                        key.ImportPkcs8PrivateKey(pkcs8, out var read);
                        RequireWhole(read, pkcs8.Length);
                        var algorithm = key.KeySize switch
                        {
                            256 => KeyAlgorithm.EcdsaP256,
                            384 => KeyAlgorithm.EcdsaP384,
                            var size => throw new SigningException($"EC keys of {size} bits are not supported (P-256 and P-384 are)"),
                        };
                        return new SoftwareKeySigner(algorithm, key, null, null);
                    }
                    catch
                    {
                        key.Dispose();
                        throw;
                    }
                }

                case "1.2.840.113549.1.1.1":
                {
                    var key = RSA.Create();
                    try
                    {
                        key.ImportPkcs8PrivateKey(pkcs8, out var read);
                        RequireWhole(read, pkcs8.Length);
                        var algorithm = key.KeySize switch
                        {
                            2048 => KeyAlgorithm.Rsa2048,
                            3072 => KeyAlgorithm.Rsa3072,
                            4096 => KeyAlgorithm.Rsa4096,
                            var size => throw new SigningException($"RSA keys of {size} bits are not supported (2048, 3072, 4096 are)"),
                        };
                        return new SoftwareKeySigner(algorithm, null, key, null);
                    }
                    catch
                    {
                        key.Dispose();
                        throw;
                    }
                }

                case "1.3.101.112":
                    return new SoftwareKeySigner(KeyAlgorithm.Ed25519, null, null, Ed25519PrivateKey.ImportPkcs8PrivateKey(pkcs8));
                default:
                    throw new SigningException($"private key algorithm {algorithmOid} is not supported");
            }
        }
        catch (CryptographicException e)
        {
            throw new SigningException("cannot read the PKCS #8 private key: " + e.Message, e);
        }
    }

    /// <summary>Reads an unencrypted PKCS #8 PEM ("PRIVATE KEY") given as ASCII bytes. The caller wipes <paramref name="pem"/>.</summary>
    /// <exception cref="SigningException">there is no single PRIVATE KEY block, or the key is not supported.</exception>
    public static SoftwareKeySigner ImportPkcs8Pem(ReadOnlySpan<byte> pem)
    {
        var chars = new char[pem.Length];
        byte[]? der = null;
        try
        {
            for (var i = 0; i < pem.Length; i++)
            {
                chars[i] = (char)pem[i];
            }

            if (!PemEncoding.TryFind(chars, out var fields) || !chars.AsSpan(fields.Label).SequenceEqual(Pkcs8Label))
            {
                throw new SigningException("no unencrypted PKCS #8 \"PRIVATE KEY\" PEM block found");
            }

            der = new byte[fields.DecodedDataLength];
            if (!Convert.TryFromBase64Chars(chars.AsSpan(fields.Base64Data), der, out var written) || written != der.Length)
            {
                throw new SigningException("the PRIVATE KEY PEM block is not valid base64");
            }

            return ImportPkcs8(der);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(chars.AsSpan()));
            if (der is not null)
            {
                CryptographicOperations.ZeroMemory(der);
            }
        }
    }

    /// <summary>Reads an unencrypted PKCS #8 PEM file written by <see cref="SavePkcs8Pem"/> (or by OpenSSL).</summary>
    public static SoftwareKeySigner LoadPkcs8Pem(string path)
    {
        var bytes = File.ReadAllBytes(path);
        try
        {
            return ImportPkcs8Pem(bytes);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
        }
    }

    /// <summary>The private key as unencrypted PKCS #8 DER. The caller must wipe the returned bytes.</summary>
    public byte[] ExportPkcs8()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        return ed25519?.ExportPkcs8PrivateKey() ?? ecdsa?.ExportPkcs8PrivateKey() ?? rsa!.ExportPkcs8PrivateKey();
    }

    /// <summary>The private key as an unencrypted PKCS #8 PEM block (ASCII, LF line ends). The caller must wipe the returned bytes.</summary>
    public byte[] ExportPkcs8Pem()
    {
        var der = ExportPkcs8();
        char[]? chars = null;
        try
        {
            chars = PemEncoding.Write(Pkcs8Label, der);
            var result = new byte[chars.Length + 1];
            for (var i = 0; i < chars.Length; i++)
            {
                result[i] = (byte)chars[i];
            }

            result[^1] = (byte)'\n';
            return result;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(der);
            if (chars is not null)
            {
                CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(chars.AsSpan()));
            }
        }
    }

    /// <summary>Writes the private key to a new file, readable by its owner only (mode 0600 on Unix). Refuses to overwrite a file.</summary>
    public void SavePkcs8Pem(string path)
    {
        var pem = ExportPkcs8Pem();
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using var stream = new FileStream(path, options);
            stream.Write(pem);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pem);
        }
    }

    /// <inheritdoc/>
    public byte[] Sign(ReadOnlySpan<byte> message, HashAlgorithmName hash)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        byte[] signature;
        bool valid;
        if (ed25519 is not null)
        {
            signature = ed25519.Sign(message);
            valid = Ed25519.Verify(PublicKey.Ed25519RawKey, message, signature);
        }
        else
        {
            RequireSha2(hash);
            if (ecdsa is not null)
            {
                signature = ecdsa.SignData(message, hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
                using var verifier = PublicKey.CreateECDsa();
                valid = verifier.VerifyData(message, signature, hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
            }
            else
            {
                signature = rsa!.SignData(message, hash, RSASignaturePadding.Pss);
                using var verifier = PublicKey.CreateRsa();
                valid = verifier.VerifyData(message, signature, hash, RSASignaturePadding.Pss);
            }
        }

        return valid ? signature : throw new SigningException($"the signature made by {KeyReference} does not verify against its public key");
    }

    /// <summary>Frees the key.</summary>
    public void Dispose()
    {
        if (!disposed)
        {
            disposed = true;
            ecdsa?.Dispose();
            rsa?.Dispose();
            ed25519?.Dispose();
        }
    }

    private static void RequireSha2(HashAlgorithmName hash)
    {
        if (hash != HashAlgorithmName.SHA256 && hash != HashAlgorithmName.SHA384 && hash != HashAlgorithmName.SHA512)
        {
            throw new SigningException($"hash {hash.Name ?? "(none)"} is not supported (SHA-256, SHA-384, SHA-512 are)");
        }
    }

    private static void RequireWhole(int read, int length)
    {
        if (read != length)
        {
            throw new SigningException("trailing bytes after the PKCS #8 private key");
        }
    }

    /// <summary>A ReadOnlyMemory over pinned caller memory, so the key bytes are parsed without a copy that would need wiping.</summary>
    private sealed unsafe class UnmanagedView(byte* pointer, int length) : System.Buffers.MemoryManager<byte>
    {
        public override Span<byte> GetSpan() => new(pointer, length);

        public override System.Buffers.MemoryHandle Pin(int elementIndex = 0) => new(pointer + elementIndex);

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
        }
    }
}
