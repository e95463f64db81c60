using System.Collections.Concurrent;
using System.Security.Cryptography;
using OfflineSigner.Pkcs11;
using OfflineSigner.Signing;

namespace OfflineSigner.Daemon.Services;

/// <summary>How a PKCS#11 backend keeps its login (daemon configuration <c>pkcs11</c>).</summary>
/// <param name="IdleTimeout">Log out after this long without a call; zero: log in for every call and out after it.</param>
/// <param name="Sessions">Sessions lent to concurrent calls under the kept login.</param>
public sealed record Pkcs11LoginOptions(TimeSpan IdleTimeout, int Sessions)
{
    /// <summary>The default: keep the login for 300 s of idleness, one session per core (at least 2).</summary>
    public static Pkcs11LoginOptions Default { get; } = new(TimeSpan.FromSeconds(300), Math.Max(2, Environment.ProcessorCount));

    /// <summary>A login per call, as before the kept login existed.</summary>
    public static Pkcs11LoginOptions PerCall { get; } = new(TimeSpan.Zero, 1);

    /// <summary>Whether the login is kept between calls.</summary>
    public bool Keeps => IdleTimeout > TimeSpan.Zero;
}

/// <summary>
/// One PKCS#11 token.
/// <para>
/// Kept login (<see cref="Pkcs11LoginOptions.Keeps"/>, the default): one connection for the backend's lifetime, logged
/// in by the first call with its PIN (or the configured source), with a pool of sessions that concurrent calls use at
/// the same time. Every later call's PIN is checked against an HMAC of the PIN that logged in (see
/// <see cref="Pkcs11Token"/>); one that does not match is refused as a wrong PIN, without reaching the token. The
/// connection logs out after the idle timeout, and when the token reports the login or session gone the next call logs
/// in again with its own PIN. Signers (key handles, public key, protection evidence) are kept per key and dropped when
/// a key is generated.
/// </para>
/// <para>
/// Login per call (idle timeout 0): a PIN in the request opens a connection for that call only (the PIN is copied
/// into a source that is wiped when the call ends); without one the configured PIN source is used (unattended mode).
/// Calls on one token run one at a time: PKCS#11 login state is shared by every session of the process, so one
/// call's logout must never cut another call's signature short. The module stays initialized for the backend's
/// lifetime (its first use loads it), so a call costs a session and a login, not a C_Initialize.
/// </para>
/// </summary>
public sealed class Pkcs11Backend(string name, string modulePath, TokenSelector token, IPinSource? configuredPin, KeyProtectionPolicy protection, Pkcs11LoginOptions? login = null) : IKeyBackend
{
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _exclusive = new(1, 1);
    private readonly Pkcs11LoginOptions _login = login ?? Pkcs11LoginOptions.Default;
    private readonly ConcurrentDictionary<string, Pkcs11Signer> _signers = new(StringComparer.Ordinal);
    private Pkcs11Module? _resident;
    private Pkcs11Token? _kept;
    private bool _disposed;

    public string Name { get; } = name;

    public string Kind => "pkcs11";

    public string? ModulePath { get; } = modulePath;

    /// <summary>The token this backend serves.</summary>
    public TokenSelector Token { get; } = token;

    public bool Owns(string keyUri)
    {
        if (!keyUri.StartsWith("pkcs11:", StringComparison.Ordinal) || !Pkcs11Uri.TryParse(keyUri, out var uri, out _))
        {
            return false;
        }

        var selector = uri!.TokenSelector;
        return selector is not null
            && (selector.Label is null || string.Equals(selector.Label, Token.Label, StringComparison.Ordinal))
            && (selector.SerialNumber is null || Token.SerialNumber is null || string.Equals(selector.SerialNumber, Token.SerialNumber, StringComparison.Ordinal))
            && (selector.Label is not null || Token.SerialNumber is not null);
    }

    public IReadOnlyList<BackendDevice> Devices()
    {
        using var module = Pkcs11Module.Load(ModulePath!);
        var slot = module.FindToken(Token);
        if (slot is null)
        {
            return [];
        }

        var info = slot.GetTokenInfo();
        var status = info.UserPinStatus;
        return
        [
            new BackendDevice(info.Label, info.SerialNumber, info.ManufacturerId, info.Model, info.UserPinInitialized,
                status == PinRetryStatus.Locked, status == PinRetryStatus.CountLow, status == PinRetryStatus.FinalTry),
        ];
    }

    /// <summary>The kept connection, once a call made it (for tests and diagnostics); null with a login per call.</summary>
    public Pkcs11Token? KeptToken
    {
        get
        {
            lock (_gate)
            {
                return _kept;
            }
        }
    }

    public IReadOnlyList<BackendKey> ListKeys(ReadOnlySpan<byte> pin) =>
        WithToken(pin, (token, source) => token.Run(session => Pkcs11KeyInfo.List(session, token), retry: true, source).Select(k => Describe(k, token)).ToList());

    public BackendKey GetKey(string keyUri, ReadOnlySpan<byte> pin)
    {
        var uri = Pkcs11Uri.Parse(keyUri);
        return WithToken(pin, (token, source) => Describe(token.Run(session => Pkcs11KeyInfo.Read(session, token, uri.Id?.ToArray(), uri.Object), retry: true, source), token));
    }

    public IKeySigner OpenSigner(string keyUri, ReadOnlySpan<byte> pin)
    {
        var uri = Pkcs11Uri.Parse(keyUri);
        if (_login.Keeps)
        {
            return OpenKeptSigner(uri, pin);
        }

        Enter();
        var source = PinFor(pin);
        try
        {
            var signer = Pkcs11Signer.Open(new Pkcs11TokenOptions(ModulePath!, Token, source), uri, protection);
            return new OwningSigner(signer, source as BytesPinSource, _exclusive);
        }
        catch
        {
            (source as BytesPinSource)?.Dispose();
            _exclusive.Release();
            throw;
        }
    }

    public BackendKey Generate(string? deviceLabel, KeyAlgorithm algorithm, string label, ReadOnlySpan<byte> id, ReadOnlySpan<byte> pin)
    {
        if (deviceLabel is { Length: > 0 } && Token.Label is not null && !string.Equals(deviceLabel, Token.Label, StringComparison.Ordinal))
        {
            throw new UnknownKeyException($"backend '{Name}' serves {Token}, not token '{deviceLabel}'");
        }

        var idCopy = id.ToArray();
        return WithToken(pin, (token, source) =>
        {
            try
            {
                using var signer = Pkcs11KeyGenerator.Generate(token, algorithm, label, idCopy, source);
                signer.SelfTest(source);
                return Describe(signer.KeyInfo, token);
            }
            finally
            {
                // A new key may take an id or label a kept signer was found by: find every key again.
                DropSigners();
            }
        });
    }

    public void Dispose()
    {
        // With a login per call, sessions live for one call and only the module's initialization stays between calls.
        lock (_gate)
        {
            _disposed = true;
            DropSigners();
            _kept?.Dispose();
            _kept = null;
            _resident?.Dispose();
            _resident = null;
        }

        _exclusive.Dispose();
    }

    private KeptSigner OpenKeptSigner(Pkcs11Uri uri, ReadOnlySpan<byte> pin)
    {
        var source = PinFor(pin) as BytesPinSource;
        try
        {
            var token = Kept();

            // The request's PIN is checked (or logs in) before anything else happens on the token.
            token.Authorize(source);
            var reference = uri.ToString();
            if (!_signers.TryGetValue(reference, out var signer))
            {
                signer = Pkcs11Signer.Open(token, uri, protection, source);
                if (!_signers.TryAdd(reference, signer))
                {
                    signer.Dispose();
                    signer = _signers[reference];
                }
            }

            return new KeptSigner(signer, source, () => Forget(reference, signer));
        }
        catch
        {
            source?.Dispose();
            throw;
        }
    }

    private Pkcs11Token Kept()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _kept ??= Pkcs11Token.OpenDeferred(new Pkcs11TokenOptions(ModulePath!, Token, configuredPin, Math.Max(2, _login.Sessions), _login.IdleTimeout));
        }
    }

    private void Forget(string reference, Pkcs11Signer signer)
    {
        if (_signers.TryRemove(new KeyValuePair<string, Pkcs11Signer>(reference, signer)))
        {
            signer.Dispose();
        }
    }

    private void DropSigners()
    {
        foreach (var (reference, signer) in _signers)
        {
            Forget(reference, signer);
        }
    }

    /// <summary>Waits for the token to be free and keeps the module initialized.</summary>
    private void Enter()
    {
        _exclusive.Wait();
        try
        {
            lock (_gate)
            {
                _resident ??= Pkcs11Module.Load(ModulePath!);
            }
        }
        catch
        {
            _exclusive.Release();
            throw;
        }
    }

    private T WithToken<T>(ReadOnlySpan<byte> pin, Func<Pkcs11Token, IPinSource?, T> operation)
    {
        if (_login.Keeps)
        {
            var own = PinFor(pin) as BytesPinSource;
            try
            {
                return operation(Kept(), own);
            }
            finally
            {
                own?.Dispose();
            }
        }

        Enter();
        var source = PinFor(pin);
        try
        {
            using var token = Pkcs11Token.Open(new Pkcs11TokenOptions(ModulePath!, Token, source));
            return operation(token, null);
        }
        finally
        {
            (source as BytesPinSource)?.Dispose();
            _exclusive.Release();
        }
    }

    private IPinSource? PinFor(ReadOnlySpan<byte> pin) => pin.IsEmpty ? configuredPin : new BytesPinSource(pin);

    private BackendKey Describe(Pkcs11KeyInfo key, Pkcs11Token token) =>
        new(key.Uri.ToString(), Name, key.Algorithm, key.SubjectPublicKeyInfo, key.Label, token.Info?.SerialNumber, key.Protection, key.Protection.Violations(protection));

    /// <summary>
    /// A kept signer lent to one call with that call's PIN (checked again at each signature, and used to log in again
    /// if the login went away); disposing wipes the PIN, the signer stays for the next call. A key that is no longer
    /// what the signer was opened for is dropped, so the next call finds it again.
    /// </summary>
    private sealed class KeptSigner(Pkcs11Signer inner, BytesPinSource? pin, Action forget) : IKeySigner, IUncheckedSigner
    {
        public KeyAlgorithm Algorithm => inner.Algorithm;

        public ReadOnlyMemory<byte> SubjectPublicKeyInfo => inner.SubjectPublicKeyInfo;

        public string KeyReference => inner.KeyReference;

        public byte[] Sign(ReadOnlySpan<byte> message, HashAlgorithmName hash)
        {
            try
            {
                return inner.Sign(message, hash, pin);
            }
            catch (Pkcs11KeyException)
            {
                forget();
                throw;
            }
        }

        public byte[] SignUnchecked(ReadOnlySpan<byte> message, HashAlgorithmName hash)
        {
            try
            {
                return inner.SignUnchecked(message, hash, pin);
            }
            catch (Pkcs11KeyException)
            {
                forget();
                throw;
            }
        }

        public void Dispose() => pin?.Dispose();
    }

    /// <summary>A signer that wipes the PIN it was opened with and frees the token when it is disposed.</summary>
    private sealed class OwningSigner(Pkcs11Signer inner, BytesPinSource? pin, SemaphoreSlim exclusive) : IKeySigner, IUncheckedSigner
    {
        public KeyAlgorithm Algorithm => inner.Algorithm;

        public ReadOnlyMemory<byte> SubjectPublicKeyInfo => inner.SubjectPublicKeyInfo;

        public string KeyReference => inner.KeyReference;

        public byte[] Sign(ReadOnlySpan<byte> message, HashAlgorithmName hash) => inner.Sign(message, hash);

        public byte[] SignUnchecked(ReadOnlySpan<byte> message, HashAlgorithmName hash) => inner.SignUnchecked(message, hash, pin: null);

        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }

            try
            {
                inner.Dispose();
            }
            finally
            {
                pin?.Dispose();
                exclusive.Release();
            }
        }
    }
}
