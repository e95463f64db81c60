using OfflineSigner.Pkcs11.Interop;
using OfflineSigner.Pkcs11.Keys;
using OfflineSigner.Signing;

namespace OfflineSigner.Pkcs11;

/// <summary>A key pair found on a token: names, algorithm, public key and the protection evidence of its private half.</summary>
public sealed record Pkcs11KeyInfo(
    Pkcs11Uri Uri,
    byte[] Id,
    string? Label,
    KeyAlgorithm Algorithm,
    byte[] SubjectPublicKeyInfo,
    KeyProtectionEvidence Protection,
    bool AlwaysAuthenticate,
    bool? CanSign)
{
    internal Pkcs11ObjectHandle PrivateKeyHandle { get; init; }

    internal Pkcs11ObjectHandle PublicKeyHandle { get; init; }

    private static readonly ulong[] PrivateAttributes =
    [
        Cka.KeyType, Cka.Id, Cka.Label, Cka.Sensitive, Cka.AlwaysSensitive, Cka.Extractable, Cka.NeverExtractable,
        Cka.Local, Cka.KeyGenMechanism, Cka.Sign, Cka.AlwaysAuthenticate,
    ];

    private static readonly ulong[] PublicAttributes = [Cka.KeyType, Cka.EcParams, Cka.EcPoint, Cka.Modulus, Cka.PublicExponent];

    /// <summary>Every private key on the token whose public key is present, in the order the token lists them.</summary>
    public static IReadOnlyList<Pkcs11KeyInfo> List(Pkcs11Session session, Pkcs11Token token)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(token);
        var keys = new List<Pkcs11KeyInfo>();
        foreach (var handle in session.FindAllObjects([ObjectAttribute.FromUlong(Cka.Class, Cko.PrivateKey)]))
        {
            var attrs = session.GetAttributeValue(handle, [Cka.Id, Cka.Label]);
            keys.Add(Read(session, token, attrs[0].Value ?? [], attrs[1].GetString()));
        }

        return keys;
    }

    /// <summary>Finds exactly one private key by id and/or label, its public key, and reads both.</summary>
    public static Pkcs11KeyInfo Read(Pkcs11Session session, Pkcs11Token token, byte[]? id, string? label)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(token);
        if ((id is null || id.Length == 0) && string.IsNullOrEmpty(label))
        {
            throw new Pkcs11KeyException("a key reference needs an id or an object label");
        }

        var tokenInfo = token.Info;
        var reference = Pkcs11Uri.ForKey(tokenInfo?.Label, tokenInfo?.SerialNumber, label, id ?? [], "private");
        var privateKey = FindOne(session, Cko.PrivateKey, id, label, reference, "private key");
        var priv = session.GetAttributeValue(privateKey, PrivateAttributes);
        var actualId = priv[1].Value ?? id ?? [];
        var actualLabel = priv[2].GetString() ?? label;
        reference = Pkcs11Uri.ForKey(tokenInfo?.Label, tokenInfo?.SerialNumber, actualLabel, actualId, "private");

        // The public half is found by the private key's own id (and label when that is all we have).
        var publicKey = FindOne(session, Cko.PublicKey, actualId.Length > 0 ? actualId : null, actualId.Length > 0 ? null : actualLabel, reference, "public key");
        var pub = session.GetAttributeValue(publicKey, PublicAttributes);

        var keyType = priv[0].GetUlong() ?? throw new Pkcs11KeyException($"{reference} has no readable CKA_KEY_TYPE");
        var modulusBits = pub[3].Value is { } modulus ? ModulusBits(modulus) : 0;
        var algorithm = KeyTemplates.Identify(keyType, pub[1].Value ?? [], modulusBits)
            ?? throw new Pkcs11KeyException($"{reference} has a key type or curve this signer does not support (CKK 0x{keyType:X})");
        byte[] spki = algorithm switch
        {
            KeyAlgorithm.EcdsaP256 or KeyAlgorithm.EcdsaP384 or KeyAlgorithm.Ed25519 =>
                PublicKeyEncoding.EcSubjectPublicKeyInfo(algorithm, pub[2].Value ?? throw new Pkcs11KeyException($"{reference}: public key has no CKA_EC_POINT")),
            _ => PublicKeyEncoding.RsaSubjectPublicKeyInfo(pub[3].Value!, pub[4].Value ?? throw new Pkcs11KeyException($"{reference}: public key has no CKA_PUBLIC_EXPONENT")),
        };

        var evidence = new KeyProtectionEvidence(
            "pkcs11",
            reference.ToString(),
            GeneratedOnDevice: priv[7].GetBool(),
            Sensitive: priv[3].GetBool(),
            AlwaysSensitive: priv[4].GetBool(),
            Extractable: priv[5].GetBool(),
            NeverExtractable: priv[6].GetBool(),
            GenerationMechanism: priv[8].IsAvailable ? KeyTemplates.MechanismName(priv[8].GetUlong()) : null);

        return new Pkcs11KeyInfo(reference, actualId, actualLabel, algorithm, spki, evidence, priv[10].GetBool() == true, priv[9].GetBool())
        {
            PrivateKeyHandle = privateKey,
            PublicKeyHandle = publicKey,
        };
    }

    /// <summary>Whether any object (of any class) has this id or this label: generation refuses to reuse either.</summary>
    internal static IReadOnlyList<string> Occupants(Pkcs11Session session, ReadOnlySpan<byte> id, string label)
    {
        var found = new List<string>();
        if (!id.IsEmpty && session.FindAllObjects([ObjectAttribute.FromBytes(Cka.Id, id)]).Count > 0)
        {
            found.Add("id " + Convert.ToHexString(id));
        }

        if (session.FindAllObjects([ObjectAttribute.FromString(Cka.Label, label)]).Count > 0)
        {
            found.Add($"label '{label}'");
        }

        return found;
    }

    private static Pkcs11ObjectHandle FindOne(Pkcs11Session session, CkUlong objectClass, byte[]? id, string? label, Pkcs11Uri reference, string what)
    {
        var template = new List<ObjectAttribute> { ObjectAttribute.FromUlong(Cka.Class, objectClass) };
        if (id is { Length: > 0 })
        {
            template.Add(ObjectAttribute.FromBytes(Cka.Id, id));
        }

        if (!string.IsNullOrEmpty(label))
        {
            template.Add(ObjectAttribute.FromString(Cka.Label, label));
        }

        var found = session.FindAllObjects(template);
        return found.Count switch
        {
            1 => found[0],
            0 => throw new Pkcs11KeyException($"no {what} matches {reference} on the token"),
            _ => throw new Pkcs11KeyException($"{found.Count} {what}s match {reference}; a key reference must name one key (add the id)"),
        };
    }

    private static int ModulusBits(byte[] modulus)
    {
        var span = modulus.AsSpan();
        while (span.Length > 0 && span[0] == 0)
        {
            span = span[1..];
        }

        return span.IsEmpty ? 0 : ((span.Length - 1) * 8) + (32 - System.Numerics.BitOperations.LeadingZeroCount((uint)span[0]));
    }
}
