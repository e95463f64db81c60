using OfflineSigner.Signing;

namespace OfflineSigner.Daemon.Services;

/// <summary>A key the daemon can use, as a backend reports it: public information and protection evidence only.</summary>
public sealed record BackendKey(
    string Uri,
    string Backend,
    KeyAlgorithm Algorithm,
    byte[] SubjectPublicKeyInfo,
    string? Label,
    string? DeviceSerial,
    KeyProtectionEvidence? Protection,
    IReadOnlyList<string> Violations);

/// <summary>A token or device inside a backend.</summary>
public sealed record BackendDevice(string Label, string Serial, string Manufacturer, string Model, bool UserPinInitialized, bool PinLocked, bool PinCountLow, bool PinFinalTry);

/// <summary>
/// One configured key store (a PKCS#11 token, later a PIV device). PINs are passed as spans the caller owns and
/// wipes; an empty PIN means "use the PIN source configured for unattended mode".
/// </summary>
public interface IKeyBackend : IDisposable
{
    /// <summary>The configuration name.</summary>
    string Name { get; }

    /// <summary>"pkcs11" or "yubikey".</summary>
    string Kind { get; }

    /// <summary>PKCS#11: the module path.</summary>
    string? ModulePath { get; }

    /// <summary>Whether <paramref name="keyUri"/> names a key of this backend.</summary>
    bool Owns(string keyUri);

    /// <summary>The devices present now.</summary>
    IReadOnlyList<BackendDevice> Devices();

    /// <summary>The keys the backend holds.</summary>
    IReadOnlyList<BackendKey> ListKeys(ReadOnlySpan<byte> pin);

    /// <summary>The key <paramref name="keyUri"/> names.</summary>
    BackendKey GetKey(string keyUri, ReadOnlySpan<byte> pin);

    /// <summary>Opens a signer for the key; the backend's key protection policy applies.</summary>
    IKeySigner OpenSigner(string keyUri, ReadOnlySpan<byte> pin);

    /// <summary>Generates a key on the device, self-tests it and returns it.</summary>
    BackendKey Generate(string? deviceLabel, KeyAlgorithm algorithm, string label, ReadOnlySpan<byte> id, ReadOnlySpan<byte> pin);
}

/// <summary>The backends of one daemon, found by name or by the key URIs they own.</summary>
public sealed class KeyBackends(IReadOnlyList<IKeyBackend> backends) : IDisposable
{
    /// <summary>Every backend, in configuration order.</summary>
    public IReadOnlyList<IKeyBackend> All { get; } = backends;

    /// <summary>The backend called <paramref name="name"/>.</summary>
    public IKeyBackend ByName(string name) =>
        All.FirstOrDefault(b => string.Equals(b.Name, name, StringComparison.Ordinal))
        ?? throw new UnknownKeyException($"no backend is called '{name}'");

    /// <summary>The backend that owns <paramref name="keyUri"/>.</summary>
    public IKeyBackend ForKey(string keyUri)
    {
        if (string.IsNullOrEmpty(keyUri))
        {
            throw new ArgumentException("the request names no key");
        }

        return All.FirstOrDefault(b => b.Owns(keyUri))
            ?? throw new UnknownKeyException($"no configured backend holds {keyUri}");
    }

    public void Dispose()
    {
        foreach (var backend in All)
        {
            backend.Dispose();
        }
    }
}

/// <summary>A key or backend the request names does not exist here.</summary>
public sealed class UnknownKeyException : OfflineSignerException
{
    public UnknownKeyException()
    {
    }

    public UnknownKeyException(string message)
        : base(message)
    {
    }

    public UnknownKeyException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The backend cannot do what was asked yet (for example PIV attestation before the PIV backend exists).</summary>
public sealed class NotSupportedByBackendException : OfflineSignerException
{
    public NotSupportedByBackendException()
    {
    }

    public NotSupportedByBackendException(string message)
        : base(message)
    {
    }

    public NotSupportedByBackendException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
