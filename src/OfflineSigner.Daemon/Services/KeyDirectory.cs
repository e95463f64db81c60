using System.Collections.Concurrent;
using OfflineSigner.Pkcs11;

namespace OfflineSigner.Daemon.Services;

/// <summary>
/// The public keys the daemon has read from its backends (at generation, listing or signing). Preview and
/// GetPublicKey carry no PIN, and a token shows its private keys only after a login, so they read from here.
/// </summary>
public sealed class KeyDirectory
{
    private readonly ConcurrentDictionary<string, BackendKey> _keys = new(StringComparer.Ordinal);

    /// <summary>Records (or refreshes) a key under its URI.</summary>
    public void Remember(BackendKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        _keys[Normalize(key.Uri)] = key;
    }

    /// <summary>The key recorded under <paramref name="uri"/>, or null.</summary>
    public BackendKey? Find(string uri) => _keys.TryGetValue(Normalize(uri), out var key) ? key : null;

    /// <summary>Every key recorded for <paramref name="backend"/>.</summary>
    public IReadOnlyList<BackendKey> ForBackend(string backend) =>
        _keys.Values.Where(k => string.Equals(k.Backend, backend, StringComparison.Ordinal)).OrderBy(k => k.Uri, StringComparer.Ordinal).ToList();

    /// <summary>
    /// The key <paramref name="uri"/> names: from this directory, else from its backend (which works without a PIN
    /// when the backend has a configured PIN source or keeps its keys public).
    /// </summary>
    public BackendKey Resolve(KeyBackends backends, string uri)
    {
        ArgumentNullException.ThrowIfNull(backends);
        if (Find(uri) is { } known)
        {
            return known;
        }

        var key = backends.ForKey(uri).GetKey(uri, []);
        Remember(key);
        return key;
    }

    /// <summary>One spelling per key: PKCS#11 and YubiKey references in the form their parsers write them.</summary>
    public static string Normalize(string uri) =>
        uri.StartsWith("pkcs11:", StringComparison.Ordinal) && Pkcs11Uri.TryParse(uri, out var parsed, out _) ? parsed!.ToString()
        : uri.StartsWith(YubiKey.YubiKeyKeyReference.Scheme, StringComparison.Ordinal) && YubiKey.YubiKeyKeyReference.TryParse(uri, out var piv, out _) ? piv!.ToString()
        : uri;
}
