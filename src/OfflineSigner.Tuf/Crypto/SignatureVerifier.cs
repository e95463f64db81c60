// Signature schemes of the TUF specification (securesystemslib schemes) and of notary v1 (tuf/signed/verifiers.go methods).
using System.Formats.Asn1;
using System.Security.Cryptography;

namespace OfflineSigner.Tuf.Crypto;

/// <summary>Checks TUF signatures in either dialect, and converts ECDSA signatures between DER and r || s.</summary>
public static class SignatureVerifier
{
    /// <summary>
    /// Whether <paramref name="signature"/> is a valid signature of <paramref name="message"/> by <paramref name="key"/>.
    /// Specification dialect: the key type and scheme decide (ECDSA signatures are DER, hashed with SHA-256 on P-256 and SHA-384 on P-384;
    /// RSA-PSS with a salt as long as the digest; Ed25519 raw). Notary dialect: the method decides ("ecdsa" = raw r || s over
    /// SHA-256 whatever the curve, "rsapss" = RSA-PSS SHA-256 with a 32-byte salt, "rsapkcs1v15" = RSA PKCS #1 v1.5 SHA-256, "eddsa" = Ed25519).
    /// </summary>
    /// <returns>false for a wrong or malformed signature; this method does not throw for signature bytes.</returns>
    /// <exception cref="MetadataException">the scheme or method is unknown or missing, or does not fit the key type or the key.</exception>
    public static bool Verify(PublicKey key, Dialect dialect, string keyType, string? scheme, string? method, ReadOnlySpan<byte> message, ReadOnlySpan<byte> signature) =>
        Verify(key, dialect, keyType, scheme, method, new Message(message, null), signature);

    /// <summary>
    /// As <see cref="Verify(PublicKey, Dialect, string, string?, string?, ReadOnlySpan{byte}, ReadOnlySpan{byte})"/>, for a
    /// message that is not held in memory: schemes that hash first (ECDSA, RSA) ask <paramref name="message"/> only for
    /// its digest; Ed25519, which needs the whole message, asks for its bytes.
    /// </summary>
    internal static bool Verify(PublicKey key, Dialect dialect, string keyType, string? scheme, string? method, ISignedMessage message, ReadOnlySpan<byte> signature) =>
        Verify(key, dialect, keyType, scheme, method, new Message(default, message), signature);

    private static bool Verify(PublicKey key, Dialect dialect, string keyType, string? scheme, string? method, Message message, ReadOnlySpan<byte> signature)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(keyType);
        var typeFamily = KeyFormats.FamilyOfKeyType(keyType, dialect)
            ?? throw new MetadataException($"key type \"{keyType}\" is not supported in {DialectName(dialect)} metadata");
        if (typeFamily != key.Family)
        {
            throw new MetadataException($"key type \"{keyType}\" does not fit a {key.Family} key");
        }

        if (key.Family == KeyFamily.Rsa && key.KeySizeBits < KeyFormats.MinRsaKeySizeBits)
        {
            throw new MetadataException($"RSA key of {key.KeySizeBits} bits is too small (at least {KeyFormats.MinRsaKeySizeBits})");
        }

        var memo = VerifiedSignatures.Active;
        (UInt128, UInt128) id = default;
        if (memo is not null)
        {
            id = VerifiedSignatures.Id(key, dialect, keyType, scheme, method, message.Lazy is { } lazy ? lazy.Digest(HashAlgorithmName.SHA256) : SHA256.HashData(message.Bytes), signature);
            if (memo.Contains(id))
            {
                return true;
            }
        }

        var valid = dialect == Dialect.Notary
            ? VerifyNotary(key, method, message, signature)
            : VerifySpecification(key, scheme, message, signature);
        if (valid && memo is not null)
        {
            memo.Add(id);
        }

        return valid;
    }

    /// <summary>Converts an IEEE P1363 signature (r || s, two halves of equal length) to DER SEQUENCE { INTEGER r, INTEGER s }.</summary>
    /// <exception cref="ArgumentException">the input is empty or of odd length.</exception>
    public static byte[] P1363ToDer(ReadOnlySpan<byte> rs)
    {
        if (rs.IsEmpty || rs.Length % 2 != 0)
        {
            throw new ArgumentException($"an r || s signature has two halves of equal length; {rs.Length} bytes given", nameof(rs));
        }

        var half = rs.Length / 2;
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            writer.WriteIntegerUnsigned(TrimLeadingZeros(rs[..half]));
            writer.WriteIntegerUnsigned(TrimLeadingZeros(rs[half..]));
        }

        return writer.Encode();
    }

    /// <summary>
    /// Converts a DER ECDSA signature to IEEE P1363 (r || s, each <paramref name="fieldSizeBytes"/> long). Strict: minimal DER,
    /// positive integers that fit the field, nothing after the sequence.
    /// </summary>
    /// <exception cref="CryptographicException">the signature is not such a DER sequence.</exception>
    public static byte[] DerToP1363(ReadOnlySpan<byte> der, int fieldSizeBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(fieldSizeBytes);
        var result = new byte[2 * fieldSizeBytes];
        return TryDerToP1363(der, fieldSizeBytes, result)
            ? result
            : throw new CryptographicException("not a strict DER ECDSA signature for this field size");
    }

    internal static bool TryDerToP1363(ReadOnlySpan<byte> der, int fieldSizeBytes, Span<byte> destination)
    {
        try
        {
            var reader = new AsnReader(der.ToArray(), AsnEncodingRules.DER);
            var sequence = reader.ReadSequence();
            if (reader.HasData)
            {
                return false;
            }

            var ok = TryReadScalar(sequence, destination[..fieldSizeBytes]) && TryReadScalar(sequence, destination[fieldSizeBytes..]);
            return ok && !sequence.HasData;
        }
        catch (AsnContentException)
        {
            // Malformed DER is a bad signature, not an error of the caller.
            return false;
        }
    }

    private static bool TryReadScalar(AsnReader sequence, Span<byte> destination)
    {
        var value = sequence.ReadIntegerBytes().Span;
        if (value.IsEmpty || (value[0] & 0x80) != 0)
        {
            return false; // negative
        }

        value = TrimLeadingZeros(value);
        if (value.Length > destination.Length || (value.Length == 1 && value[0] == 0))
        {
            return false; // too large for the field, or zero
        }

        destination.Clear();
        value.CopyTo(destination[(destination.Length - value.Length)..]);
        return true;
    }

    private static ReadOnlySpan<byte> TrimLeadingZeros(ReadOnlySpan<byte> value)
    {
        var i = 0;
        while (i < value.Length - 1 && value[i] == 0)
        {
            i++;
        }

        return value[i..];
    }

    private static bool VerifySpecification(PublicKey key, string? scheme, Message message, ReadOnlySpan<byte> signature)
    {
        switch (scheme)
        {
            case "ed25519":
                RequireFamily(key, KeyFamily.Ed25519, "scheme", scheme);
                return Ed25519.Verify(key.Ed25519RawKey, message.Bytes, signature);
            case "ecdsa-sha2-nistp256":
            case "ecdsa-sha2-nistp384":
            {
                RequireFamily(key, KeyFamily.Ecdsa, "scheme", scheme);
                var (curve, hash) = scheme == "ecdsa-sha2-nistp256" ? ("P-256", HashAlgorithmName.SHA256) : ("P-384", HashAlgorithmName.SHA384);
                if (key.Curve != curve)
                {
                    throw new MetadataException($"scheme \"{scheme}\" requires a {curve} key, not {key.Curve}");
                }

                Span<byte> rs = stackalloc byte[2 * key.FieldSizeBytes];
                return TryDerToP1363(signature, key.FieldSizeBytes, rs) && VerifyEcdsa(key, hash, message, rs);
            }

            case "rsassa-pss-sha256":
            case "rsassa-pss-sha384":
            case "rsassa-pss-sha512":
                RequireFamily(key, KeyFamily.Rsa, "scheme", scheme);
                return VerifyRsa(key, HashOfRsaScheme(scheme), RSASignaturePadding.Pss, message, signature);
            case "rsa-pkcs1v15-sha256":
            case "rsa-pkcs1v15-sha384":
            case "rsa-pkcs1v15-sha512":
                RequireFamily(key, KeyFamily.Rsa, "scheme", scheme);
                return VerifyRsa(key, HashOfRsaScheme(scheme), RSASignaturePadding.Pkcs1, message, signature);
            case null:
                throw new MetadataException("the key has no scheme, which TUF specification metadata requires");
            default:
                throw new MetadataException($"signature scheme \"{scheme}\" is not supported");
        }
    }

    private static bool VerifyNotary(PublicKey key, string? method, Message message, ReadOnlySpan<byte> signature)
    {
        switch (method)
        {
            case "ecdsa":
                RequireFamily(key, KeyFamily.Ecdsa, "method", method);

                // notary hashes with SHA-256 whatever the curve and writes r || s padded to the curve's field size.
                return signature.Length == 2 * key.FieldSizeBytes && VerifyEcdsa(key, HashAlgorithmName.SHA256, message, signature);
            case "rsapss":
                RequireFamily(key, KeyFamily.Rsa, "method", method);
                return VerifyRsa(key, HashAlgorithmName.SHA256, RSASignaturePadding.Pss, message, signature);
            case "rsapkcs1v15":
                RequireFamily(key, KeyFamily.Rsa, "method", method);
                return VerifyRsa(key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1, message, signature);
            case "eddsa":
                RequireFamily(key, KeyFamily.Ed25519, "method", method);
                return Ed25519.Verify(key.Ed25519RawKey, message.Bytes, signature);
            case null:
                throw new MetadataException("the signature has no method, which notary metadata requires");
            default:
                throw new MetadataException($"signature method \"{method}\" is not supported");
        }
    }

    private static bool VerifyEcdsa(PublicKey key, HashAlgorithmName hash, Message message, ReadOnlySpan<byte> rs)
    {
        // Importing the key costs about twice the verification itself: a verifier made for this key before is reused.
        var ecdsa = key.RentECDsa();
        try
        {
            return message.Lazy is null
                ? ecdsa.VerifyData(message.Bytes, rs, hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation)
                : ecdsa.VerifyHash(message.Lazy.Digest(hash), rs, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        }
        finally
        {
            key.ReturnECDsa(ecdsa);
        }
    }

    private static bool VerifyRsa(PublicKey key, HashAlgorithmName hash, RSASignaturePadding padding, Message message, ReadOnlySpan<byte> signature)
    {
        // .NET's RSA-PSS uses a salt as long as the digest, which is what both dialects specify.
        using var rsa = key.CreateRsa();
        if (signature.Length != (key.KeySizeBits + 7) / 8)
        {
            return false;
        }

        return message.Lazy is null
            ? rsa.VerifyData(message.Bytes, signature, hash, padding)
            : rsa.VerifyHash(message.Lazy.Digest(hash), signature, hash, padding);
    }

    private static HashAlgorithmName HashOfRsaScheme(string scheme) =>
        scheme.EndsWith("sha512", StringComparison.Ordinal) ? HashAlgorithmName.SHA512
        : scheme.EndsWith("sha384", StringComparison.Ordinal) ? HashAlgorithmName.SHA384
        : HashAlgorithmName.SHA256;

    private static void RequireFamily(PublicKey key, KeyFamily family, string what, string name)
    {
        if (key.Family != family)
        {
            throw new MetadataException($"{what} \"{name}\" does not fit a {key.Family} key");
        }
    }

    /// <summary>The message given whole, or one that gives its digest (and its bytes only when a scheme needs them).</summary>
    private readonly ref struct Message(ReadOnlySpan<byte> bytes, ISignedMessage? lazy)
    {
        private readonly ReadOnlySpan<byte> bytes = bytes;

        public ISignedMessage? Lazy { get; } = lazy;

        public ReadOnlySpan<byte> Bytes => Lazy is null ? bytes : Lazy.Bytes();
    }

    private static string DialectName(Dialect dialect) => dialect == Dialect.Notary ? "notary" : "TUF specification";
}

/// <summary>A signed message that need not be held whole: what signature checks ask of it.</summary>
internal interface ISignedMessage
{
    /// <summary>The message's digest with a hash algorithm.</summary>
    byte[] Digest(HashAlgorithmName algorithm);

    /// <summary>The whole message (for schemes that do not hash first).</summary>
    ReadOnlySpan<byte> Bytes();
}
