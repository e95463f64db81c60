// Public keys as X.509 SubjectPublicKeyInfo (RFC 5280 §4.1.2.7): EC (RFC 5480), RSA (RFC 3279), Ed25519 (RFC 8410).
using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace OfflineSigner.Tuf.Crypto;

/// <summary>The families of public key the signer reads, writes and verifies with.</summary>
public enum KeyFamily
{
    /// <summary>Ed25519 (RFC 8032).</summary>
    Ed25519,

    /// <summary>ECDSA over NIST P-256 or P-384.</summary>
    Ecdsa,

    /// <summary>RSA.</summary>
    Rsa,
}

/// <summary>
/// A public key, whatever encoding it came in (PEM, hex point, base64 DER, raw Ed25519, X.509 certificate).
/// Two keys are equal when their SubjectPublicKeyInfo bytes are: the SPKI is normalized when the key is read
/// (named curve, uncompressed point, minimal DER), so one physical key always has one identity, <see cref="Fingerprint"/>.
/// </summary>
public sealed class PublicKey : IEquatable<PublicKey>
{
    internal const string OidEd25519 = "1.3.101.112";
    internal const string OidEcPublicKey = "1.2.840.10045.2.1";
    internal const string OidRsaEncryption = "1.2.840.113549.1.1.1";
    internal const string OidP256 = "1.2.840.10045.3.1.7";
    internal const string OidP384 = "1.3.132.0.34";

    // SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING (0 unused bits) } around the 32 raw bytes (RFC 8410 §4).
    private static readonly byte[] Ed25519SpkiPrefix = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

    private readonly byte[] spki;

    private PublicKey(KeyFamily family, string? curve, int keySizeBits, byte[] spki, IReadOnlyList<X509Certificate2> chain)
    {
        Family = family;
        Curve = curve;
        KeySizeBits = keySizeBits;
        this.spki = spki;
        CertificateChain = chain;
        Fingerprint = Convert.ToHexStringLower(SHA256.HashData(spki));
    }

    /// <summary>The key's family.</summary>
    public KeyFamily Family { get; }

    /// <summary>"P-256" or "P-384" for ECDSA keys, null otherwise.</summary>
    public string? Curve { get; }

    /// <summary>256 or 384 for EC keys, the modulus size for RSA keys, 256 for Ed25519.</summary>
    public int KeySizeBits { get; }

    /// <summary>The normalized DER SubjectPublicKeyInfo (Ed25519 in RFC 8410 form).</summary>
    public ReadOnlyMemory<byte> SubjectPublicKeyInfo => spki;

    /// <summary>The certificate chain the key came with, leaf first; empty unless the key came as an X.509 certificate.</summary>
    public IReadOnlyList<X509Certificate2> CertificateChain { get; }

    /// <summary>Lowercase hex SHA-256 of <see cref="SubjectPublicKeyInfo"/>: the identity used to count distinct keys.</summary>
    public string Fingerprint { get; }

    /// <summary>The field size of an EC key in bytes (32 for P-256, 48 for P-384); 0 for other families.</summary>
    public int FieldSizeBytes => Family == KeyFamily.Ecdsa ? (KeySizeBits + 7) / 8 : 0;

    /// <summary>The 32 raw bytes of an Ed25519 key.</summary>
    /// <exception cref="InvalidOperationException">the key is not Ed25519.</exception>
    public ReadOnlySpan<byte> Ed25519RawKey => Family == KeyFamily.Ed25519
        ? spki.AsSpan(Ed25519SpkiPrefix.Length)
        : throw new InvalidOperationException("not an Ed25519 key");

    /// <summary>Reads a DER SubjectPublicKeyInfo of an Ed25519, EC (P-256, P-384) or RSA key.</summary>
    /// <exception cref="CryptographicException">the bytes are not a SubjectPublicKeyInfo, or the algorithm or curve is not supported.</exception>
    public static PublicKey FromSubjectPublicKeyInfo(ReadOnlySpan<byte> spki)
    {
        // Decoding an EC key validates its point (about the cost of a signature verification); the same few keys are
        // read again and again (every request lists its root's keys), and a PublicKey is immutable, so a key decoded
        // once from exactly these bytes is reused. Bytes that fail to decode are never cached and fail every time.
        var cacheKey = Convert.ToBase64String(spki);
        if (DecodedKeys.TryGetValue(cacheKey, out var cached))
        {
            return cached;
        }

        var key = Decode(spki, []);
        if (DecodedKeys.Count >= MaxDecodedKeys)
        {
            DecodedKeys.Clear();
        }

        DecodedKeys.TryAdd(cacheKey, key);
        return key;
    }

    private const int MaxDecodedKeys = 4096;

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, PublicKey> DecodedKeys = new(StringComparer.Ordinal);

    /// <summary>An Ed25519 key from its 32 raw bytes.</summary>
    /// <exception cref="CryptographicException">the key is not 32 bytes.</exception>
    public static PublicKey FromEd25519(ReadOnlySpan<byte> raw32)
    {
        if (raw32.Length != Ed25519.PublicKeySize)
        {
            throw new CryptographicException($"an Ed25519 public key is {Ed25519.PublicKeySize} bytes, not {raw32.Length}");
        }

        return new PublicKey(KeyFamily.Ed25519, null, 256, [.. Ed25519SpkiPrefix, .. raw32], []);
    }

    /// <summary>
    /// The public key of <paramref name="leaf"/>, carrying the chain <paramref name="leaf"/> + <paramref name="rest"/>.
    /// Equality and <see cref="Fingerprint"/> depend on the public key only, not on the certificates.
    /// </summary>
    /// <exception cref="CryptographicException">the certificate's key is not supported.</exception>
    public static PublicKey FromCertificate(X509Certificate2 leaf, IEnumerable<X509Certificate2>? rest = null)
    {
        ArgumentNullException.ThrowIfNull(leaf);
        List<X509Certificate2> chain = [leaf, .. rest ?? []];
        return Decode(leaf.PublicKey.ExportSubjectPublicKeyInfo(), chain.AsReadOnly());
    }

    /// <summary>An ECDSA key from an uncompressed SEC 1 point (0x04 || X || Y) on P-256 or P-384.</summary>
    /// <exception cref="CryptographicException">the point is not an uncompressed point on either curve.</exception>
    public static PublicKey FromUncompressedEcPoint(ReadOnlySpan<byte> point)
    {
        var curve = point.Length switch
        {
            65 => ECCurve.NamedCurves.nistP256,
            97 => ECCurve.NamedCurves.nistP384,
            _ => throw new CryptographicException($"an uncompressed P-256 or P-384 point is 65 or 97 bytes, not {point.Length}"),
        };
        if (point[0] != 0x04)
        {
            throw new CryptographicException("the EC point is not in uncompressed form (it does not start with 0x04)");
        }

        var half = (point.Length - 1) / 2;
        using var ecdsa = ECDsa.Create();
        ecdsa.ImportParameters(new ECParameters
        {
            Curve = curve,
            Q = new ECPoint { X = point.Slice(1, half).ToArray(), Y = point.Slice(1 + half, half).ToArray() },
        });
        return Decode(ecdsa.ExportSubjectPublicKeyInfo(), []);
    }

    /// <summary>The same key without its certificate chain.</summary>
    public PublicKey WithoutCertificates() =>
        CertificateChain.Count == 0 ? this : new PublicKey(Family, Curve, KeySizeBits, spki, []);

    /// <summary>A new .NET ECDsa object for this key (the caller disposes it).</summary>
    /// <exception cref="InvalidOperationException">the key is not an ECDSA key.</exception>
    public ECDsa CreateECDsa()
    {
        if (Family != KeyFamily.Ecdsa)
        {
            throw new InvalidOperationException("not an ECDSA key");
        }

        var ecdsa = ECDsa.Create();
        ecdsa.ImportSubjectPublicKeyInfo(spki, out _);
        return ecdsa;
    }

    /// <summary>
    /// An ECDSA object for this key to verify with, from the key's own small pool (or imported now), for one caller at
    /// a time; give it back with <see cref="ReturnECDsa"/>. The key is immutable, so a verifier imported once serves
    /// every verification with it.
    /// </summary>
    internal ECDsa RentECDsa() => verifiers.TryPop(out var ecdsa) ? ecdsa : CreateECDsa();

    /// <summary>Gives back a verifier from <see cref="RentECDsa"/> (the pool keeps a few; the rest are disposed).</summary>
    internal void ReturnECDsa(ECDsa ecdsa)
    {
        if (verifiers.Count < MaxPooledVerifiers)
        {
            verifiers.Push(ecdsa);
        }
        else
        {
            ecdsa.Dispose();
        }
    }

    private const int MaxPooledVerifiers = 8;

    private readonly System.Collections.Concurrent.ConcurrentStack<ECDsa> verifiers = new();

    /// <summary>A new .NET RSA object for this key (the caller disposes it).</summary>
    /// <exception cref="InvalidOperationException">the key is not an RSA key.</exception>
    public RSA CreateRsa()
    {
        if (Family != KeyFamily.Rsa)
        {
            throw new InvalidOperationException("not an RSA key");
        }

        var rsa = RSA.Create();
        rsa.ImportSubjectPublicKeyInfo(spki, out _);
        return rsa;
    }

    /// <summary>The SubjectPublicKeyInfo as a PEM "PUBLIC KEY" block with LF line ends and a final LF (as securesystemslib writes it).</summary>
    public string ToPem() => PemEncoding.WriteString("PUBLIC KEY", spki) + "\n";

    /// <inheritdoc/>
    public bool Equals(PublicKey? other) => other is not null && spki.AsSpan().SequenceEqual(other.spki);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as PublicKey);

    /// <inheritdoc/>
    public override int GetHashCode() => BitConverter.ToInt32(Convert.FromHexString(Fingerprint.AsSpan(0, 8)));

    /// <summary>A short description: family, curve or size, and the start of the fingerprint.</summary>
    public override string ToString() => Family switch
    {
        KeyFamily.Ecdsa => $"ecdsa {Curve} {Fingerprint[..16]}",
        KeyFamily.Rsa => $"rsa {KeySizeBits} {Fingerprint[..16]}",
        _ => $"ed25519 {Fingerprint[..16]}",
    };

    private static PublicKey Decode(ReadOnlySpan<byte> spki, IReadOnlyList<X509Certificate2> chain)
    {
        string algorithm;
        bool hasParameters;
        string? namedCurve = null;
        try
        {
            var reader = new AsnReader(spki.ToArray(), AsnEncodingRules.DER);
            var sequence = reader.ReadSequence();
            reader.ThrowIfNotEmpty();
            var algorithmIdentifier = sequence.ReadSequence();
            algorithm = algorithmIdentifier.ReadObjectIdentifier();
            hasParameters = algorithmIdentifier.HasData;
            if (algorithm == OidEcPublicKey && hasParameters && algorithmIdentifier.PeekTag().HasSameClassAndValue(Asn1Tag.ObjectIdentifier))
            {
                namedCurve = algorithmIdentifier.ReadObjectIdentifier();
            }
        }
        catch (AsnContentException e)
        {
            throw new CryptographicException("not a DER SubjectPublicKeyInfo: " + e.Message, e);
        }

        switch (algorithm)
        {
            case OidEd25519:
                if (hasParameters || spki.Length != Ed25519SpkiPrefix.Length + Ed25519.PublicKeySize || !spki[..Ed25519SpkiPrefix.Length].SequenceEqual(Ed25519SpkiPrefix))
                {
                    throw new CryptographicException("malformed Ed25519 SubjectPublicKeyInfo (RFC 8410 §4 form expected)");
                }

                return new PublicKey(KeyFamily.Ed25519, null, 256, spki.ToArray(), chain);

            case OidEcPublicKey:
            {
                // Decide on the curve before handing the key to the platform, which throws PlatformNotSupportedException for curves it lacks.
                var curve = namedCurve switch
                {
                    OidP256 => "P-256",
                    OidP384 => "P-384",
                    _ => throw new CryptographicException($"EC curve {namedCurve ?? "(explicit parameters)"} is not supported (P-256 and P-384 are)"),
                };
                using var ecdsa = ECDsa.Create();
                ImportWhole(ecdsa, spki);
                if (ecdsa.ExportParameters(false).Curve.Oid?.Value != namedCurve)
                {
                    throw new CryptographicException("the imported EC key is not on the curve its SubjectPublicKeyInfo names");
                }

                return new PublicKey(KeyFamily.Ecdsa, curve, ecdsa.KeySize, ecdsa.ExportSubjectPublicKeyInfo(), chain);
            }

            case OidRsaEncryption:
            {
                using var rsa = RSA.Create();
                ImportWhole(rsa, spki);
                return new PublicKey(KeyFamily.Rsa, null, rsa.KeySize, rsa.ExportSubjectPublicKeyInfo(), chain);
            }

            default:
                throw new CryptographicException($"public key algorithm {algorithm} is not supported (Ed25519, EC P-256/P-384 and RSA are)");
        }
    }

    private static void ImportWhole(AsymmetricAlgorithm key, ReadOnlySpan<byte> spki)
    {
        int read;
        try
        {
            key.ImportSubjectPublicKeyInfo(spki, out read);
        }
        catch (PlatformNotSupportedException e)
        {
            throw new CryptographicException("the key's parameters are not supported: " + e.Message, e);
        }

        if (read != spki.Length)
        {
            throw new CryptographicException("trailing bytes after the SubjectPublicKeyInfo");
        }
    }
}
