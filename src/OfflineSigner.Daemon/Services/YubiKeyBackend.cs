using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using OfflineSigner.Pkcs11;
using OfflineSigner.Signing;
using OfflineSigner.YubiKey;
using OfflineSigner.YubiKey.Attestation;
using OfflineSigner.YubiKey.Piv;

namespace OfflineSigner.Daemon.Services;

/// <summary>A YubiKey the daemon may use, and whose it is (for the operator's prompts).</summary>
public sealed record YubiKeyHolder(uint Serial, string? Holder);

/// <summary>How a YubiKey backend is set up (hsm-config/README.md, "YubiKey PIV").</summary>
/// <param name="Devices">The devices this backend may use, with their holders' names.</param>
/// <param name="Pin">Where the PIN comes from when a request carries none (unattended use), or null.</param>
/// <param name="ManagementKey">Reads the management key (the caller wipes the bytes); null when key generation is not configured.</param>
/// <param name="Roots">The attestation roots; null when none are configured (then on-device generation is not shown).</param>
/// <param name="Requirements">What every key's attestation must show (PIN and touch policies, firmware).</param>
/// <param name="GeneratePinPolicy">The PIN policy of keys this backend generates.</param>
/// <param name="GenerateTouchPolicy">The touch policy of keys this backend generates.</param>
/// <param name="InsertTimeout">How long a signature waits for the operator to insert the right device.</param>
/// <param name="Protection">Which weaker keys the operator allows (imported, or unattested).</param>
public sealed record YubiKeyBackendOptions(
    IReadOnlyList<YubiKeyHolder> Devices,
    IPinSource? Pin,
    Func<byte[]>? ManagementKey,
    PivAttestationRoots? Roots,
    PivAttestationRequirements Requirements,
    PivPinPolicy GeneratePinPolicy,
    PivTouchPolicy GenerateTouchPolicy,
    TimeSpan InsertTimeout,
    KeyProtectionPolicy Protection);

/// <summary>The attestation of a key as a backend reports it, in the contract's terms.</summary>
public sealed record BackendAttestation(
    BackendKey Key,
    IReadOnlyList<byte[]> CertificateChain,
    uint Serial,
    string Firmware,
    uint PinPolicy,
    uint TouchPolicy,
    uint FormFactor,
    string? TrustedRootFingerprint,
    IReadOnlyList<string> Violations,
    string Summary);

/// <summary>A backend whose keys come with device attestation.</summary>
public interface IAttestingBackend
{
    /// <summary>Reads and verifies the attestation of <paramref name="keyUri"/>.</summary>
    BackendAttestation Attest(string keyUri);
}

/// <summary>
/// YubiKey PIV slots as keys (<c>yubikey:serial=N;slot=9c</c>). Every call finds its device by serial, so a wrong
/// device is never used: when the right one is missing, the operator is asked for it by serial and holder's name
/// (through <paramref name="notice"/>, for up to the insert timeout when signing). The protection evidence of a key is
/// its attestation, verified against the configured roots and requirements; verified attestations are remembered by
/// device, slot and public key, so signing again does not attest again. Calls run one at a time.
/// </summary>
public sealed class YubiKeyBackend(string name, YubiKeyBackendOptions options, Action<string>? notice = null) : IKeyBackend, IAttestingBackend
{
    private readonly SemaphoreSlim _exclusive = new(1, 1);
    private readonly ConcurrentDictionary<string, PivAttestation> _attestations = new(StringComparer.Ordinal);

    public string Name { get; } = name;

    public string Kind => "yubikey";

    public string? ModulePath => null;

    public YubiKeyBackendOptions Options { get; } = options;

    public bool Owns(string keyUri) =>
        YubiKeyKeyReference.TryParse(keyUri, out var reference, out _) && Options.Devices.Any(d => d.Serial == reference!.Serial);

    public IReadOnlyList<BackendDevice> Devices() => Exclusive(() =>
    {
        var present = YubiKeyDevices.List();
        var result = new List<BackendDevice>();
        foreach (var configured in Options.Devices)
        {
            if (!present.Any(p => p.Serial == configured.Serial))
            {
                continue;
            }

            using var device = YubiKeyDevices.Open(configured.Serial, configured.Holder);
            var retries = device.PinRetries();
            result.Add(new BackendDevice(
                configured.Holder ?? $"YubiKey {configured.Serial}",
                configured.Serial.ToString(CultureInfo.InvariantCulture),
                "Yubico",
                $"YubiKey PIV, firmware {device.Firmware}",
                UserPinInitialized: true,
                PinLocked: retries == 0,
                PinCountLow: retries is { } r && r < 3,
                PinFinalTry: retries == 1));
        }

        return result;
    });

    /// <summary>The keys on the configured devices that are inserted (no PIN needed: PIV public keys are public).</summary>
    public IReadOnlyList<BackendKey> ListKeys(ReadOnlySpan<byte> pin) => Exclusive(() =>
    {
        var present = YubiKeyDevices.List();
        var keys = new List<BackendKey>();
        foreach (var configured in Options.Devices.Where(d => present.Any(p => p.Serial == d.Serial)))
        {
            using var device = YubiKeyDevices.Open(configured.Serial, configured.Holder);
            keys.AddRange(device.ListKeys().Select(k => Describe(device, k)));
        }

        return keys;
    });

    public BackendKey GetKey(string keyUri, ReadOnlySpan<byte> pin)
    {
        var (reference, holder) = Resolve(keyUri);
        return Exclusive(() =>
        {
            using var device = YubiKeyDevices.Open(reference.Serial, holder.Holder);
            var key = device.GetKey(reference.Slot) ?? throw new UnknownKeyException($"slot {reference.Slot} of YubiKey serial {reference.Serial} holds no key");
            return Describe(device, key);
        });
    }

    /// <summary>
    /// Finds the device (waiting for the operator to insert it), checks the slot's key and its attestation against the
    /// policy, and opens a signer with the request's PIN or the configured PIN source.
    /// </summary>
    public IKeySigner OpenSigner(string keyUri, ReadOnlySpan<byte> pin)
    {
        var (reference, holder) = Resolve(keyUri);
        _exclusive.Wait();
        YubiKeyDevice? device = null;
        byte[]? pinBytes = null;
        try
        {
            device = YubiKeyDevices.WaitAndOpen(reference.Serial, holder.Holder, Options.InsertTimeout, notice);
            var key = device.GetKey(reference.Slot) ?? throw new UnknownKeyException($"slot {reference.Slot} of YubiKey serial {reference.Serial} holds no key");
            var described = Describe(device, key);
            if (described.Violations.Count > 0)
            {
                throw new KeyProtectionException(described.Protection!, described.Violations);
            }

            pinBytes = pin.IsEmpty ? Options.Pin?.ReadPin() ?? [] : pin.ToArray();
            var signer = device.OpenSigner(key, pinBytes, new PivSignerOptions { TouchPrompt = notice });
            device = null;
            return new OwningSigner(signer, _exclusive);
        }
        catch
        {
            device?.Dispose();
            _exclusive.Release();
            throw;
        }
        finally
        {
            if (pinBytes is not null)
            {
                CryptographicOperations.ZeroMemory(pinBytes);
            }
        }
    }

    /// <summary>
    /// Generates a key in the slot <paramref name="id"/> names (one byte: 0x9c) on the device <paramref name="deviceLabel"/>
    /// names (its serial, or its holder; empty when the backend has one device), with the configured policies; then
    /// self-tests it and verifies its attestation. <paramref name="label"/> is not stored: PIV slots have no labels.
    /// </summary>
    public BackendKey Generate(string? deviceLabel, KeyAlgorithm algorithm, string label, ReadOnlySpan<byte> id, ReadOnlySpan<byte> pin)
    {
        if (id.Length != 1 || !PivSlot.IsKnown(id[0]) || id[0] == PivSlot.Attestation.Value)
        {
            throw new ArgumentException("a YubiKey key id is its PIV slot, one byte: 9a, 9c, 9d, 9e or 82..95");
        }

        var slot = new PivSlot(id[0]);
        var holder = SelectDevice(deviceLabel);
        var readKey = Options.ManagementKey
            ?? throw new NotSupportedByBackendException($"backend '{Name}' has no management key configured ('managementKey'), which key generation needs");
        var pinCopy = pin.IsEmpty ? Options.Pin?.ReadPin() ?? [] : pin.ToArray();
        try
        {
            return Exclusive(() =>
            {
                using var device = YubiKeyDevices.WaitAndOpen(holder.Serial, holder.Holder, Options.InsertTimeout, notice);
                var managementKey = readKey();
                YubiKeyKeyInfo key;
                try
                {
                    key = device.GenerateKey(slot, algorithm, Options.GeneratePinPolicy, Options.GenerateTouchPolicy, managementKey);
                }
                finally
                {
                    CryptographicOperations.ZeroMemory(managementKey);
                }

                var described = Describe(device, key);
                using (var signer = device.OpenSigner(key, pinCopy, new PivSignerOptions { TouchPrompt = notice }))
                {
                    signer.SelfTest();
                }

                return described;
            });
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pinCopy);
        }
    }

    public BackendAttestation Attest(string keyUri)
    {
        var (reference, holder) = Resolve(keyUri);
        return Exclusive(() =>
        {
            using var device = YubiKeyDevices.Open(reference.Serial, holder.Holder);
            var key = device.GetKey(reference.Slot) ?? throw new UnknownKeyException($"slot {reference.Slot} of YubiKey serial {reference.Serial} holds no key");
            var described = Describe(device, key, fresh: true);
            var attestation = _attestations.GetValueOrDefault(CacheKey(device.Serial, key))
                ?? throw new NotSupportedByBackendException($"{keyUri} has no attestation: {string.Join("; ", described.Violations)}");
            var statement = attestation.Statement;
            return new BackendAttestation(
                described,
                [statement.SlotCertificate, statement.IntermediateCertificate],
                statement.Serial,
                statement.Firmware.ToString(),
                (uint)statement.PinPolicy,
                (uint)statement.TouchPolicy,
                statement.FormFactor ?? 0,
                attestation.TrustedRootFingerprint,
                described.Violations,
                statement.Summary() + (attestation.TrustedRootFingerprint is { } root ? $"; chains to root {root}" : "; does not chain to a configured root"));
        });
    }

    public void Dispose() => _exclusive.Dispose();

    /// <summary>
    /// The key with its protection evidence, from its attestation (cached by device, slot and public key). A chain that
    /// verifies to a configured root shows the key was generated on the device, and then every requirement (PIN and touch
    /// policy, firmware, serial, slot, public key) applies; an attestation that does not verify shows nothing, which the
    /// policy refuses unless it allows keys not shown to be generated on the device.
    /// </summary>
    private BackendKey Describe(YubiKeyDevice device, YubiKeyKeyInfo key, bool fresh = false)
    {
        var reference = key.Reference.ToString();
        var unverified = new List<string>();
        PivAttestation? attestation = null;
        if (key.Origin != PivKeyOrigin.Imported)
        {
            var cacheKey = CacheKey(device.Serial, key);
            if (fresh || !_attestations.TryGetValue(cacheKey, out attestation))
            {
                attestation = null;
                try
                {
                    var statement = device.Attest(key.Reference.Slot);
                    attestation = Options.Roots is { } roots
                        ? PivAttestationVerifier.Verify(statement, roots, Options.Requirements with { PublicKey = key.SubjectPublicKeyInfo, Serial = device.Serial, Slot = key.Reference.Slot }, DateTimeOffset.UtcNow)
                        : new PivAttestation(statement, null, ["no attestation roots are configured ('attestation.roots'), so the attestation cannot be verified"]);
                    _attestations[cacheKey] = attestation;
                }
                catch (PivNotFoundException e)
                {
                    unverified.Add("the device gives no attestation for the key: " + e.Message);
                }
                catch (PivAttestationException e)
                {
                    unverified.AddRange(e.Problems);
                }
            }
        }

        var verified = attestation?.TrustedRootFingerprint is not null;
        if (attestation is not null && !verified)
        {
            unverified.AddRange(attestation.Violations);
        }

        var evidence = new KeyProtectionEvidence(
            "yubikey",
            reference,
            GeneratedOnDevice: key.Origin == PivKeyOrigin.Imported ? false : verified ? true : null,
            Sensitive: true,
            AlwaysSensitive: key.Origin != PivKeyOrigin.Imported,
            Extractable: false,
            NeverExtractable: key.Origin != PivKeyOrigin.Imported,
            GenerationMechanism: key.Origin switch
            {
                PivKeyOrigin.Generated => "PIV GENERATE ASYMMETRIC KEY PAIR" + (verified ? " (attested)" : string.Empty),
                PivKeyOrigin.Imported => "imported",
                _ => null,
            });
        var violations = evidence.Violations(Options.Protection).ToList();
        if (verified)
        {
            violations.AddRange(attestation!.Violations);
        }
        else if (!Options.Protection.AllowNotGeneratedOnDevice)
        {
            violations.AddRange(unverified);
        }

        return new BackendKey(reference, Name, key.Algorithm, key.SubjectPublicKeyInfo, $"PIV slot {key.Reference.Slot}",
            device.Serial.ToString(CultureInfo.InvariantCulture), evidence, [.. violations.Distinct(StringComparer.Ordinal)]);
    }

    private static string CacheKey(uint serial, YubiKeyKeyInfo key) => $"{serial}/{key.Reference.Slot}/{key.Fingerprint}";

    private (YubiKeyKeyReference Reference, YubiKeyHolder Holder) Resolve(string keyUri)
    {
        var reference = YubiKeyKeyReference.Parse(keyUri);
        var holder = Options.Devices.FirstOrDefault(d => d.Serial == reference.Serial)
            ?? throw new UnknownKeyException($"backend '{Name}' is not configured for YubiKey serial {reference.Serial}");
        return (reference, holder);
    }

    private YubiKeyHolder SelectDevice(string? label)
    {
        if (string.IsNullOrEmpty(label))
        {
            return Options.Devices.Count == 1
                ? Options.Devices[0]
                : throw new ArgumentException($"backend '{Name}' has {Options.Devices.Count} YubiKeys: name one by serial or holder (token_label)");
        }

        return Options.Devices.FirstOrDefault(d => d.Serial.ToString(CultureInfo.InvariantCulture) == label || string.Equals(d.Holder, label, StringComparison.Ordinal))
            ?? throw new UnknownKeyException($"backend '{Name}' has no YubiKey with serial or holder '{label}'");
    }

    private T Exclusive<T>(Func<T> operation)
    {
        _exclusive.Wait();
        try
        {
            return operation();
        }
        finally
        {
            _exclusive.Release();
        }
    }

    /// <summary>A signer that frees the backend when disposed.</summary>
    private sealed class OwningSigner(PivSigner inner, SemaphoreSlim exclusive) : IKeySigner
    {
        private int _disposed;

        public KeyAlgorithm Algorithm => inner.Algorithm;

        public ReadOnlyMemory<byte> SubjectPublicKeyInfo => inner.SubjectPublicKeyInfo;

        public string KeyReference => inner.KeyReference;

        public byte[] Sign(ReadOnlySpan<byte> message, HashAlgorithmName hash) => inner.Sign(message, hash);

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
                exclusive.Release();
            }
        }
    }
}
