using System.Security.Cryptography;
using OfflineSigner.Pkcs11;
using OfflineSigner.Signing;

namespace OfflineSigner.Daemon.Services;

/// <summary>
/// One PKCS#11 token. A PIN in the request opens a connection for that call only (the PIN is copied into a source
/// that is wiped when the call ends); without one the configured PIN source is used (unattended mode).
/// Calls on one token run one at a time: PKCS#11 login state is shared by every session of the process, so one
/// call's logout must never cut another call's signature short. The module stays initialized for the backend's
/// lifetime (its first use loads it), so a call costs a session and a login, not a C_Initialize.
/// </summary>
public sealed class Pkcs11Backend(string name, string modulePath, TokenSelector token, IPinSource? configuredPin, KeyProtectionPolicy protection) : IKeyBackend
{
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _exclusive = new(1, 1);
    private Pkcs11Module? _resident;

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

    public IReadOnlyList<BackendKey> ListKeys(ReadOnlySpan<byte> pin) =>
        WithToken(pin, token => token.Run(session => Pkcs11KeyInfo.List(session, token)).Select(k => Describe(k, token)).ToList());

    public BackendKey GetKey(string keyUri, ReadOnlySpan<byte> pin)
    {
        var uri = Pkcs11Uri.Parse(keyUri);
        return WithToken(pin, token => Describe(token.Run(session => Pkcs11KeyInfo.Read(session, token, uri.Id?.ToArray(), uri.Object)), token));
    }

    public IKeySigner OpenSigner(string keyUri, ReadOnlySpan<byte> pin)
    {
        var uri = Pkcs11Uri.Parse(keyUri);
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
        return WithToken(pin, token =>
        {
            using var signer = Pkcs11KeyGenerator.Generate(token, algorithm, label, idCopy);
            signer.SelfTest();
            return Describe(signer.KeyInfo, token);
        });
    }

    public void Dispose()
    {
        // Sessions live for one call; only the module's initialization stays between calls.
        lock (_gate)
        {
            _resident?.Dispose();
            _resident = null;
        }

        _exclusive.Dispose();
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

    private T WithToken<T>(ReadOnlySpan<byte> pin, Func<Pkcs11Token, T> operation)
    {
        Enter();
        var source = PinFor(pin);
        try
        {
            using var token = Pkcs11Token.Open(new Pkcs11TokenOptions(ModulePath!, Token, source));
            return operation(token);
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

    /// <summary>A signer that wipes the PIN it was opened with and frees the token when it is disposed.</summary>
    private sealed class OwningSigner(Pkcs11Signer inner, BytesPinSource? pin, SemaphoreSlim exclusive) : IKeySigner
    {
        public KeyAlgorithm Algorithm => inner.Algorithm;

        public ReadOnlyMemory<byte> SubjectPublicKeyInfo => inner.SubjectPublicKeyInfo;

        public string KeyReference => inner.KeyReference;

        public byte[] Sign(ReadOnlySpan<byte> message, HashAlgorithmName hash) => inner.Sign(message, hash);

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
