// Key objects of the TUF specification (§4.2 "KEYS", securesystemslib's key formats) and of notary v1 (tuf/data/keys.go formats).
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using OfflineSigner.Tuf.Json;

namespace OfflineSigner.Tuf.Crypto;

/// <summary>Reads and writes key objects in both dialects, and computes their key ids.</summary>
public static class KeyFormats
{
    /// <summary>The smallest RSA modulus accepted, in bits (notary's MinRSABitSize; weaker keys are refused in both dialects).</summary>
    public const int MinRsaKeySizeBits = 2048;

    /// <summary>
    /// Decodes a key object of either dialect.
    /// Specification: keytype ed25519 (scheme ed25519, 64 hex characters); ecdsa, or the legacy keytypes ecdsa-sha2-nistp256 / ecdsa-sha2-nistp384
    /// (scheme ecdsa-sha2-nistp256 / -nistp384, public as PEM SubjectPublicKeyInfo; the legacy keytypes also as the hex uncompressed point of old go-tuf);
    /// rsa (rsassa-pss-sha256/384/512 or rsa-pkcs1v15-sha256/384/512, PEM).
    /// Notary: ecdsa and rsa (base64 DER SubjectPublicKeyInfo), ed25519 (base64 of the raw 32 bytes),
    /// ecdsa-x509 and rsa-x509 (base64 of a PEM certificate chain, leaf first). Unknown extra fields are ignored.
    /// </summary>
    /// <param name="keyObject">The key object.</param>
    /// <param name="dialect">The dialect of the document it came from.</param>
    /// <param name="path">Where the key object is in its document, for error messages (for example <c>$.signed.keys.ab12…</c>).</param>
    /// <exception cref="MetadataFormatException">a field is missing or has the wrong type, the key type or scheme is not supported, or the key does not decode.</exception>
    public static PublicKey Decode(JsonObject keyObject, Dialect dialect, string path)
    {
        ArgumentNullException.ThrowIfNull(keyObject);
        path ??= "$";
        var keyType = RequireString(keyObject, "keytype", path);
        var keyval = keyObject.TryGetValue("keyval", out var kv)
            ? kv as JsonObject ?? throw new MetadataFormatException(path + ".keyval", $"expected an object, found {kv.KindName}")
            : throw new MetadataFormatException(path + ".keyval", "missing");
        var publicPath = path + ".keyval.public";
        var publicValue = RequireString(keyval, "public", path + ".keyval");
        return dialect == Dialect.Notary
            ? DecodeNotary(keyType, publicValue, path, publicPath)
            : DecodeSpecification(keyObject, keyType, publicValue, path, publicPath);
    }

    /// <summary>
    /// The key object we write for <paramref name="key"/>.
    /// Specification: ed25519/ed25519 with hex; ecdsa/ecdsa-sha2-nistp256 or -nistp384 with PEM; rsa/rsassa-pss-sha256 with PEM.
    /// Notary: ecdsa, rsa (base64 DER SPKI) or ed25519 (base64 raw) with <c>"private": null</c>; a key that carries a
    /// certificate chain is written as ecdsa-x509 / rsa-x509 with the whole chain.
    /// </summary>
    public static JsonObject Encode(PublicKey key, Dialect dialect)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (dialect == Dialect.Notary)
        {
            if (key.CertificateChain.Count > 0)
            {
                return EncodeNotaryCertificateChain(key.CertificateChain);
            }

            var (keyType, publicBytes) = key.Family switch
            {
                KeyFamily.Ecdsa => ("ecdsa", key.SubjectPublicKeyInfo.ToArray()),
                KeyFamily.Rsa => ("rsa", key.SubjectPublicKeyInfo.ToArray()),
                _ => ("ed25519", key.Ed25519RawKey.ToArray()),
            };
            return NotaryKeyObject(keyType, Convert.ToBase64String(publicBytes));
        }

        var (type, scheme, value) = key.Family switch
        {
            KeyFamily.Ecdsa => ("ecdsa", key.Curve == "P-384" ? "ecdsa-sha2-nistp384" : "ecdsa-sha2-nistp256", key.ToPem()),
            KeyFamily.Rsa => ("rsa", "rsassa-pss-sha256", key.ToPem()),
            _ => ("ed25519", "ed25519", Convert.ToHexStringLower(key.Ed25519RawKey)),
        };
        return new JsonObject
        {
            { "keytype", type },
            { "scheme", scheme },
            { "keyval", new JsonObject { { "public", value } } },
        };
    }

    /// <summary>Notary's x509 key object (ecdsa-x509 or rsa-x509) for a certificate: base64 of its PEM.</summary>
    /// <exception cref="MetadataFormatException">the certificate's key is neither ECDSA nor RSA (notary has no other x509 key type).</exception>
    public static JsonObject EncodeNotaryCertificate(X509Certificate2 leaf)
    {
        ArgumentNullException.ThrowIfNull(leaf);
        return EncodeNotaryCertificateChain([leaf]);
    }

    /// <summary>The key id: lowercase hex SHA-256 of the canonical JSON of the whole key object (both dialects).</summary>
    public static string ComputeKeyId(JsonObject keyObject)
    {
        ArgumentNullException.ThrowIfNull(keyObject);
        return Convert.ToHexStringLower(SHA256.HashData(CanonicalJson.Serialize(keyObject)));
    }

    /// <summary>
    /// Notary's canonical key id: the key id of the key written as a plain notary ecdsa / rsa / ed25519 key object.
    /// For an x509 key it is the id of the certificate's public key, which stays the same when the certificate is re-issued.
    /// </summary>
    public static string NotaryCanonicalKeyId(PublicKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return ComputeKeyId(Encode(key.WithoutCertificates(), Dialect.Notary));
    }

    /// <summary>The spec-dialect scheme names for a key type, or null when the key type is unknown.</summary>
    internal static KeyFamily? FamilyOfKeyType(string keyType, Dialect dialect) => (dialect, keyType) switch
    {
        (_, "ed25519") => KeyFamily.Ed25519,
        (_, "ecdsa") => KeyFamily.Ecdsa,
        (_, "rsa") => KeyFamily.Rsa,
        (Dialect.TufSpecification, "ecdsa-sha2-nistp256" or "ecdsa-sha2-nistp384") => KeyFamily.Ecdsa,
        (Dialect.Notary, "ecdsa-x509") => KeyFamily.Ecdsa,
        (Dialect.Notary, "rsa-x509") => KeyFamily.Rsa,
        _ => null,
    };

    private static PublicKey DecodeSpecification(JsonObject keyObject, string keyType, string publicValue, string path, string publicPath)
    {
        var scheme = RequireString(keyObject, "scheme", path);
        var schemePath = path + ".scheme";
        switch (keyType)
        {
            case "ed25519":
            {
                if (scheme != "ed25519")
                {
                    throw new MetadataFormatException(schemePath, $"scheme \"{scheme}\" is not valid for an ed25519 key (expected \"ed25519\")");
                }

                if (publicValue.Length != 2 * Ed25519.PublicKeySize || !IsHex(publicValue))
                {
                    throw new MetadataFormatException(publicPath, $"an ed25519 public key is {2 * Ed25519.PublicKeySize} hex characters");
                }

                return PublicKey.FromEd25519(Convert.FromHexString(publicValue));
            }

            case "ecdsa":
            case "ecdsa-sha2-nistp256":
            case "ecdsa-sha2-nistp384":
            {
                var expectedCurve = scheme switch
                {
                    "ecdsa-sha2-nistp256" => "P-256",
                    "ecdsa-sha2-nistp384" => "P-384",
                    _ => throw new MetadataFormatException(schemePath, $"scheme \"{scheme}\" is not supported for an {keyType} key (expected ecdsa-sha2-nistp256 or ecdsa-sha2-nistp384)"),
                };
                if (keyType != "ecdsa" && keyType != scheme)
                {
                    throw new MetadataFormatException(schemePath, $"scheme \"{scheme}\" contradicts the legacy key type \"{keyType}\"");
                }

                // The hex point is old go-tuf's encoding and only ever came with the legacy key type names (sigstore roots 1-4).
                var key = LooksLikePem(publicValue) ? FromPem(publicValue, publicPath)
                    : keyType != "ecdsa" ? FromHexPoint(publicValue, publicPath)
                    : throw new MetadataFormatException(publicPath, "an ecdsa public key is a PEM \"PUBLIC KEY\" block (hex points only come with the legacy key types)");
                RequireFamily(key, KeyFamily.Ecdsa, keyType, publicPath);
                if (key.Curve != expectedCurve)
                {
                    throw new MetadataFormatException(publicPath, $"the key is on {key.Curve} but scheme \"{scheme}\" requires {expectedCurve}");
                }

                return key;
            }

            case "rsa":
            {
                if (scheme is not ("rsassa-pss-sha256" or "rsassa-pss-sha384" or "rsassa-pss-sha512" or "rsa-pkcs1v15-sha256" or "rsa-pkcs1v15-sha384" or "rsa-pkcs1v15-sha512"))
                {
                    throw new MetadataFormatException(schemePath, $"scheme \"{scheme}\" is not supported for an rsa key (expected rsassa-pss-sha256)");
                }

                if (!LooksLikePem(publicValue))
                {
                    throw new MetadataFormatException(publicPath, "an rsa public key is a PEM \"PUBLIC KEY\" block");
                }

                var key = FromPem(publicValue, publicPath);
                RequireFamily(key, KeyFamily.Rsa, keyType, publicPath);
                RequireRsaSize(key, publicPath);
                return key;
            }

            default:
                throw new MetadataFormatException(path + ".keytype", $"key type \"{keyType}\" is not supported (ed25519, ecdsa, rsa are)");
        }
    }

    private static PublicKey DecodeNotary(string keyType, string publicValue, string path, string publicPath)
    {
        var family = FamilyOfKeyType(keyType, Dialect.Notary)
            ?? throw new MetadataFormatException(path + ".keytype", $"key type \"{keyType}\" is not supported in notary metadata (ecdsa, ecdsa-x509, rsa, rsa-x509, ed25519 are)");
        var bytes = FromBase64(publicValue, publicPath);
        PublicKey key;
        switch (keyType)
        {
            case "ed25519":
                if (bytes.Length != Ed25519.PublicKeySize)
                {
                    throw new MetadataFormatException(publicPath, $"an ed25519 public key is {Ed25519.PublicKeySize} bytes, not {bytes.Length}");
                }

                return PublicKey.FromEd25519(bytes);
            case "ecdsa":
            case "rsa":
                try
                {
                    key = PublicKey.FromSubjectPublicKeyInfo(bytes);
                }
                catch (CryptographicException e)
                {
                    throw new MetadataFormatException(publicPath, "not a usable DER SubjectPublicKeyInfo: " + e.Message, e);
                }

                break;
            default:
                key = FromCertificatePem(bytes, publicPath);
                break;
        }

        RequireFamily(key, family, keyType, publicPath);
        if (family == KeyFamily.Rsa)
        {
            RequireRsaSize(key, publicPath);
        }

        return key;
    }

    private static PublicKey FromCertificatePem(byte[] pemBytes, string publicPath)
    {
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(pemBytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new MetadataFormatException(publicPath, "the certificate chain is not PEM text", e);
        }

        var certificates = new List<X509Certificate2>();
        try
        {
            var rest = text.AsSpan();
            while (!rest.Trim().IsEmpty)
            {
                if (!PemEncoding.TryFind(rest, out var fields))
                {
                    throw new MetadataFormatException(publicPath, "the certificate chain holds something that is not a PEM block");
                }

                if (!rest[..fields.Location.Start].Trim().IsEmpty)
                {
                    throw new MetadataFormatException(publicPath, "the certificate chain holds text outside its PEM blocks");
                }

                var label = rest[fields.Label];
                if (!label.SequenceEqual("CERTIFICATE"))
                {
                    throw new MetadataFormatException(publicPath, $"the certificate chain holds a \"{label}\" PEM block (only CERTIFICATE blocks are allowed)");
                }

                var der = new byte[fields.DecodedDataLength];
                if (!Convert.TryFromBase64Chars(rest[fields.Base64Data], der, out var written) || written != der.Length)
                {
                    throw new MetadataFormatException(publicPath, "a certificate's PEM body is not valid base64");
                }

                try
                {
                    certificates.Add(X509CertificateLoader.LoadCertificate(der));
                }
                catch (CryptographicException e)
                {
                    throw new MetadataFormatException(publicPath, $"certificate {certificates.Count + 1} of the chain does not parse: {e.Message}", e);
                }

                rest = rest[fields.Location.End..];
            }

            if (certificates.Count == 0)
            {
                throw new MetadataFormatException(publicPath, "no certificate in the PEM chain");
            }

            try
            {
                return PublicKey.FromCertificate(certificates[0], certificates.Skip(1));
            }
            catch (CryptographicException e)
            {
                throw new MetadataFormatException(publicPath, "the leaf certificate's public key is not usable: " + e.Message, e);
            }
        }
        catch
        {
            foreach (var c in certificates)
            {
                c.Dispose();
            }

            throw;
        }
    }

    private static JsonObject EncodeNotaryCertificateChain(IReadOnlyList<X509Certificate2> chain)
    {
        var keyType = chain[0].GetKeyAlgorithm() switch
        {
            PublicKey.OidEcPublicKey => "ecdsa-x509",
            PublicKey.OidRsaEncryption => "rsa-x509",
            var other => throw new MetadataFormatException("$.keyval.public", $"notary has no x509 key type for public key algorithm {other} (ECDSA and RSA only)"),
        };
        var pem = new StringBuilder();
        foreach (var certificate in chain)
        {
            // Go's pem.Encode: 64-character lines, LF, a final LF after each block.
            pem.Append(PemEncoding.Write("CERTIFICATE", certificate.RawData)).Append('\n');
        }

        return NotaryKeyObject(keyType, Convert.ToBase64String(Encoding.ASCII.GetBytes(pem.ToString())));
    }

    private static JsonObject NotaryKeyObject(string keyType, string publicBase64) => new()
    {
        { "keytype", keyType },
        { "keyval", new JsonObject { { "private", JsonNull.Instance }, { "public", publicBase64 } } },
    };

    private static string RequireString(JsonObject obj, string name, string path) =>
        obj.TryGetValue(name, out var value)
            ? (value as JsonString)?.Value ?? throw new MetadataFormatException(path + "." + name, $"expected a string, found {value.KindName}")
            : throw new MetadataFormatException(path + "." + name, "missing");

    private static bool LooksLikePem(string value) => value.AsSpan().TrimStart().StartsWith("-----BEGIN", StringComparison.Ordinal);

    private static bool IsHex(string value)
    {
        foreach (var c in value)
        {
            if (!char.IsAsciiHexDigit(c))
            {
                return false;
            }
        }

        return true;
    }

    private static PublicKey FromPem(string pem, string publicPath)
    {
        if (!PemEncoding.TryFind(pem, out var fields))
        {
            throw new MetadataFormatException(publicPath, "not a well-formed PEM block");
        }

        var span = pem.AsSpan();
        if (!span[..fields.Location.Start].Trim().IsEmpty || !span[fields.Location.End..].Trim().IsEmpty)
        {
            throw new MetadataFormatException(publicPath, "text outside the PEM block");
        }

        if (!span[fields.Label].SequenceEqual("PUBLIC KEY"))
        {
            throw new MetadataFormatException(publicPath, $"PEM label \"{span[fields.Label]}\" is not \"PUBLIC KEY\" (a SubjectPublicKeyInfo)");
        }

        var der = new byte[fields.DecodedDataLength];
        if (!Convert.TryFromBase64Chars(span[fields.Base64Data], der, out var written) || written != der.Length)
        {
            throw new MetadataFormatException(publicPath, "the PEM body is not valid base64");
        }

        try
        {
            return PublicKey.FromSubjectPublicKeyInfo(der);
        }
        catch (CryptographicException e)
        {
            throw new MetadataFormatException(publicPath, "not a usable SubjectPublicKeyInfo: " + e.Message, e);
        }
    }

    private static PublicKey FromHexPoint(string hex, string publicPath)
    {
        if (hex.Length % 2 != 0 || !IsHex(hex))
        {
            throw new MetadataFormatException(publicPath, "neither a PEM public key nor a hex-encoded EC point");
        }

        try
        {
            return PublicKey.FromUncompressedEcPoint(Convert.FromHexString(hex));
        }
        catch (CryptographicException e)
        {
            throw new MetadataFormatException(publicPath, "not a usable hex EC point: " + e.Message, e);
        }
    }

    private static byte[] FromBase64(string value, string publicPath)
    {
        var buffer = new byte[(value.Length * 3 / 4) + 3];
        return Convert.TryFromBase64String(value, buffer, out var written) && written > 0
            ? buffer[..written]
            : throw new MetadataFormatException(publicPath, "not valid base64");
    }

    private static void RequireFamily(PublicKey key, KeyFamily family, string keyType, string publicPath)
    {
        if (key.Family != family)
        {
            throw new MetadataFormatException(publicPath, $"the key is {key.Family} but the key type is \"{keyType}\"");
        }
    }

    private static void RequireRsaSize(PublicKey key, string publicPath)
    {
        if (key.KeySizeBits < MinRsaKeySizeBits)
        {
            throw new MetadataFormatException(publicPath, $"RSA key of {key.KeySizeBits} bits is too small (at least {MinRsaKeySizeBits})");
        }
    }
}
