using System.Security.Cryptography;
using OfflineSigner.Signing;

namespace OfflineSigner.Pkcs11;

/// <summary>
/// A private key on a PKCS#11 token behind <see cref="IKeySigner"/>. ECDSA and RSA-PSS hash on the host and sign the
/// digest (CKM_ECDSA, CKM_RSA_PKCS_PSS); Ed25519 signs the message (CKM_EDDSA). Every signature is verified against
/// the public key before it is returned (ECDSA and RSA by .NET, Ed25519 by C_Verify on the token's public key object,
/// since .NET has no Ed25519). Opening refuses keys whose protection the policy does not accept.
/// </summary>
public sealed class Pkcs11Signer : IKeySigner
{
    private const int MaxAttempts = 3;

    private readonly Pkcs11Token _token;
    private readonly bool _ownsToken;
    private readonly byte[]? _id;
    private readonly string? _label;
    private readonly byte[] _spki;
    private readonly ECDsa? _ecdsa;
    private readonly RSA? _rsa;
    private readonly Lock _verifyGate = new();
    private Handles? _handles;

    private Pkcs11Signer(Pkcs11Token token, bool ownsToken, Pkcs11KeyInfo key)
    {
        _token = token;
        _ownsToken = ownsToken;
        _id = key.Id;
        _label = key.Label;
        _spki = key.SubjectPublicKeyInfo;
        Algorithm = key.Algorithm;
        KeyInfo = key;
        KeyReference = key.Uri.ToString();
        switch (Algorithm)
        {
            case KeyAlgorithm.EcdsaP256 or KeyAlgorithm.EcdsaP384:
                _ecdsa = ECDsa.Create();
                _ecdsa.ImportSubjectPublicKeyInfo(_spki, out _);
                break;
            case KeyAlgorithm.Rsa2048 or KeyAlgorithm.Rsa3072 or KeyAlgorithm.Rsa4096:
                _rsa = RSA.Create();
                _rsa.ImportSubjectPublicKeyInfo(_spki, out _);
                break;
            default:
                break;
        }
    }

    public KeyAlgorithm Algorithm { get; }

    public ReadOnlyMemory<byte> SubjectPublicKeyInfo => _spki;

    public string KeyReference { get; }

    /// <summary>What the token said about the key when it was opened, protection evidence included.</summary>
    public Pkcs11KeyInfo KeyInfo { get; }

    /// <summary>The token this signer uses.</summary>
    public Pkcs11Token Token => _token;

    /// <summary>
    /// Opens the key <paramref name="key"/> names (by id and/or object label) on <paramref name="token"/>, checks its
    /// protection against <paramref name="policy"/>, and returns a signer. The token stays the caller's.
    /// </summary>
    public static Pkcs11Signer Open(Pkcs11Token token, Pkcs11Uri key, KeyProtectionPolicy policy) =>
        Open(token, ownsToken: false, key, policy);

    /// <summary>As <see cref="Open(Pkcs11Token, Pkcs11Uri, KeyProtectionPolicy)"/> for a request that brings its own PIN.</summary>
    public static Pkcs11Signer Open(Pkcs11Token token, Pkcs11Uri key, KeyProtectionPolicy policy, IPinSource? pin) =>
        Open(token, ownsToken: false, key, policy, pin);

    /// <summary>
    /// Opens the token in <paramref name="options"/> and the key <paramref name="key"/> names on it; the signer owns the
    /// token connection and closes it on dispose.
    /// </summary>
    public static Pkcs11Signer Open(Pkcs11TokenOptions options, Pkcs11Uri key, KeyProtectionPolicy policy)
    {
        var token = Pkcs11Token.Open(options);
        try
        {
            return Open(token, ownsToken: true, key, policy);
        }
        catch
        {
            token.Dispose();
            throw;
        }
    }

    internal static Pkcs11Signer Open(Pkcs11Token token, bool ownsToken, Pkcs11Uri key, KeyProtectionPolicy policy, IPinSource? pin = null)
    {
        ArgumentNullException.ThrowIfNull(token);
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(policy);
        if (key.Type is not (null or "private"))
        {
            throw new Pkcs11KeyException($"{key} names a {key.Type} object; a signing key reference names a private key");
        }

        CheckSelector(token, key);
        var keyInfo = token.Run(session => Pkcs11KeyInfo.Read(session, token, key.Id?.ToArray(), key.Object), retry: true, pin);

        // Again after the read, which connects a token opened without connecting.
        CheckSelector(token, key);

        if (keyInfo.CanSign == false)
        {
            throw new Pkcs11KeyException($"{keyInfo.Uri} is not allowed to sign (CKA_SIGN is false)");
        }

        var violations = keyInfo.Protection.Violations(policy);
        if (violations.Count > 0)
        {
            throw new KeyProtectionException(keyInfo.Protection, violations);
        }

        return new Pkcs11Signer(token, ownsToken, keyInfo);
    }

    public byte[] Sign(ReadOnlySpan<byte> message, HashAlgorithmName hash) => Sign(message, hash, pin: null);

    private static void CheckSelector(Pkcs11Token token, Pkcs11Uri key)
    {
        if (key.TokenSelector is { } selector && token.Info is { } info && !selector.Matches(info))
        {
            throw new Pkcs11KeyException($"{key} names {selector}, but the configured token is {token.Options.Token}");
        }
    }

    /// <summary>
    /// Signs for a request that brings its own PIN: the token checks it as
    /// <see cref="Pkcs11Token.Run{T}(Func{Pkcs11Session, T}, bool, IPinSource?)"/> says (and logs in with it if the
    /// login has gone). Safe to call from several threads at once on a pooled token.
    /// </summary>
    public byte[] Sign(ReadOnlySpan<byte> message, HashAlgorithmName hash, IPinSource? pin)
    {
        var digest = Algorithm == KeyAlgorithm.Ed25519 ? null : Digest(message, hash);
        var mechanism = Mechanism(hash);
        var data = digest ?? message.ToArray();
        for (var attempt = 1; ; attempt++)
        {
            var (signature, valid) = _token.Run(
                session =>
                {
                    var handles = ResolveHandles(session);
                    var sig = SignOnce(session, handles, mechanism, data, pin);
                    return (sig, Verify(session, handles, data, sig, hash));
                },
                retry: true,
                pin);
            if (valid)
            {
                return signature;
            }

            // SoftHSM has a known, rare CKM_ECDSA failure that yields an invalid signature; a retry fixes it.
            // A key that keeps producing invalid signatures is not the key we recorded: stop.
            if (attempt >= MaxAttempts)
            {
                throw new SigningException(
                    $"the token produced {MaxAttempts} signatures with {KeyReference} that do not verify against its public key; refusing to return them");
            }
        }
    }

    /// <summary>
    /// As <see cref="Sign(ReadOnlySpan{byte}, HashAlgorithmName, IPinSource?)"/> without the check of the signature and
    /// without the retry of an invalid one: for <see cref="IUncheckedSigner"/>, whose caller checks every signature
    /// (and signs again through the checked path when one is invalid).
    /// </summary>
    public byte[] SignUnchecked(ReadOnlySpan<byte> message, HashAlgorithmName hash, IPinSource? pin)
    {
        var digest = Algorithm == KeyAlgorithm.Ed25519 ? null : Digest(message, hash);
        var mechanism = Mechanism(hash);
        var data = digest ?? message.ToArray();
        return _token.Run(session => SignOnce(session, ResolveHandles(session), mechanism, data, pin), retry: true, pin);
    }

    private byte[] SignOnce(Pkcs11Session session, Handles handles, Pkcs11Mechanism mechanism, byte[] data, IPinSource? pin) =>
        KeyInfo.AlwaysAuthenticate
            ? _token.WithPin(session, pin, secret => session.SignWithContextLogin(mechanism, handles.PrivateKey, data, secret))
            : session.Sign(mechanism, handles.PrivateKey, data);

    /// <summary>
    /// Signs a random challenge and verifies it (the self-test the ceremony and the check command run).
    /// </summary>
    public void SelfTest() => SelfTest(pin: null);

    /// <summary>As <see cref="SelfTest()"/> for a request that brings its own PIN.</summary>
    public void SelfTest(IPinSource? pin)
    {
        var challenge = RandomNumberGenerator.GetBytes(32);
        _ = Sign(challenge, HashAlgorithmName.SHA256, pin);
    }

    public void Dispose()
    {
        _ecdsa?.Dispose();
        _rsa?.Dispose();
        if (_ownsToken)
        {
            _token.Dispose();
        }
    }

    /// <summary>Signs a prepared digest with C_Sign only: no hashing, no verification. For the benchmark's ceiling.</summary>
    internal byte[] SignRawForMeasurement(ReadOnlySpan<byte> digest)
    {
        var data = digest.ToArray();
        return _token.Run(session => session.Sign(Mechanism(HashAlgorithmName.SHA256), ResolveHandles(session).PrivateKey, data));
    }

    internal Pkcs11ObjectHandle PrivateKeyHandle(Pkcs11Session session) => ResolveHandles(session).PrivateKey;

    private Handles ResolveHandles(Pkcs11Session session)
    {
        // Object handles belong to the connection (every session of it sees them), so one set serves all its sessions.
        var epoch = _token.Epoch;
        var known = Volatile.Read(ref _handles);
        if (known is not null && known.Epoch == epoch)
        {
            return known;
        }

        // A new session (after recovery) may see a different token state: find the key again and make sure it is
        // still the key that was opened.
        var current = Pkcs11KeyInfo.Read(session, _token, _id, _label);
        if (!current.SubjectPublicKeyInfo.AsSpan().SequenceEqual(_spki))
        {
            throw new Pkcs11KeyException($"the key at {KeyReference} is not the key that was opened (its public key changed); refusing to sign");
        }

        var handles = new Handles(epoch, current.PrivateKeyHandle, current.PublicKeyHandle);
        Volatile.Write(ref _handles, handles);
        return handles;
    }

    private bool Verify(Pkcs11Session session, Handles handles, byte[] data, byte[] signature, HashAlgorithmName hash)
    {
        if (Algorithm == KeyAlgorithm.Ed25519)
        {
            return session.Verify(Pkcs11Mechanism.Eddsa, handles.PublicKey, data, signature);
        }

        // One imported public key serves every signature; the platform's key objects are not documented as thread-safe.
        lock (_verifyGate)
        {
            return Algorithm is KeyAlgorithm.EcdsaP256 or KeyAlgorithm.EcdsaP384
                ? _ecdsa!.VerifyHash(data, signature, DSASignatureFormat.IeeeP1363FixedFieldConcatenation)
                : _rsa!.VerifyHash(data, signature, hash, RSASignaturePadding.Pss);
        }
    }

    private sealed record Handles(long Epoch, Pkcs11ObjectHandle PrivateKey, Pkcs11ObjectHandle PublicKey);

    private Pkcs11Mechanism Mechanism(HashAlgorithmName hash) => Algorithm switch
    {
        KeyAlgorithm.Ed25519 => Pkcs11Mechanism.Eddsa,
        KeyAlgorithm.EcdsaP256 or KeyAlgorithm.EcdsaP384 => Pkcs11Mechanism.Ecdsa,
        _ when hash == HashAlgorithmName.SHA256 => Pkcs11Mechanism.RsaPssSha256,
        _ when hash == HashAlgorithmName.SHA384 => Pkcs11Mechanism.RsaPssSha384,
        _ when hash == HashAlgorithmName.SHA512 => Pkcs11Mechanism.RsaPssSha512,
        _ => throw new ArgumentException($"hash {hash.Name} is not supported for RSA-PSS", nameof(hash)),
    };

    private static byte[] Digest(ReadOnlySpan<byte> message, HashAlgorithmName hash)
    {
        if (hash == HashAlgorithmName.SHA256)
        {
            return SHA256.HashData(message);
        }

        if (hash == HashAlgorithmName.SHA384)
        {
            return SHA384.HashData(message);
        }

        if (hash == HashAlgorithmName.SHA512)
        {
            return SHA512.HashData(message);
        }

        throw new ArgumentException($"hash {hash.Name} is not supported; use SHA-256, SHA-384 or SHA-512", nameof(hash));
    }
}
