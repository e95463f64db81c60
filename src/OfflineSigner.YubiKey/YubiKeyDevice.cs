using System.Security.Cryptography;
using OfflineSigner.Signing;
using OfflineSigner.YubiKey.Attestation;
using OfflineSigner.YubiKey.Pcsc;
using OfflineSigner.YubiKey.Piv;

namespace OfflineSigner.YubiKey;

/// <summary>A key in a PIV slot, as the device describes it: public information only.</summary>
/// <param name="Reference">The key's reference.</param>
/// <param name="Algorithm">The key's algorithm.</param>
/// <param name="SubjectPublicKeyInfo">The public key, DER.</param>
/// <param name="PinPolicy">The PIN policy (null when the device does not say: firmware before 5.3 without attestation).</param>
/// <param name="TouchPolicy">The touch policy (null when the device does not say).</param>
/// <param name="Origin">Generated on the device or imported.</param>
public sealed record YubiKeyKeyInfo(
    YubiKeyKeyReference Reference,
    KeyAlgorithm Algorithm,
    byte[] SubjectPublicKeyInfo,
    PivPinPolicy? PinPolicy,
    PivTouchPolicy? TouchPolicy,
    PivKeyOrigin Origin)
{
    /// <summary>Lowercase hex SHA-256 of the public key.</summary>
    public string Fingerprint => Convert.ToHexStringLower(SHA256.HashData(SubjectPublicKeyInfo));
}

/// <summary>
/// A session with one YubiKey's PIV application, found by serial and held exclusively until disposed (when the card
/// is reset, so that no verified PIN or management key outlives the session). One caller at a time.
/// </summary>
public sealed class YubiKeyDevice : IDisposable
{
    private readonly PcscContext _context;
    private readonly PcscConnection _connection;
    private readonly PivSession _session;
    private bool _pinVerified;

    internal YubiKeyDevice(PcscContext context, PcscConnection connection, PivSession session, string? holder)
    {
        _context = context;
        _connection = connection;
        _session = session;
        Holder = holder;
        Serial = session.Serial ?? throw new YubiKeyException("the device does not give its serial");
    }

    public uint Serial { get; }

    /// <summary>Whose device this is, as configured (for prompts), or null.</summary>
    public string? Holder { get; }

    public FirmwareVersion Firmware => _session.Version;

    public string ReaderName => _session.ReaderName;

    /// <summary>APDUs sent in this session.</summary>
    public long ApdusSent => _session.ApdusSent;

    internal PivSession Session => _session;

    /// <summary>Whether a PIN was verified in this session (a PIN policy "once" key can then sign without it).</summary>
    internal bool PinVerified
    {
        get => _pinVerified;
        set => _pinVerified = value;
    }

    /// <summary>The PIN tries left (GET METADATA on 5.3+, else VERIFY without data; null when verified in this session).</summary>
    public int? PinRetries() => _session.HasMetadata ? _session.GetPinMetadata().RetriesRemaining : _session.PinRetries();

    /// <summary>Verifies the PIN. Never retried: a rejected PIN throws with the tries left.</summary>
    /// <exception cref="PivPinException">rejected or blocked.</exception>
    public void VerifyPin(ReadOnlySpan<byte> pin)
    {
        _pinVerified = false;
        _session.VerifyPin(pin);
        _pinVerified = true;
    }

    /// <summary>Authenticates with the management key (its algorithm read from the device on 5.3+, else 3DES).</summary>
    public void AuthenticateManagementKey(ReadOnlySpan<byte> managementKey) =>
        _session.AuthenticateManagementKey(_session.ManagementKeyAlgorithm(), managementKey);

    /// <summary>The key in <paramref name="slot"/>, or null when the slot is empty.</summary>
    public YubiKeyKeyInfo? GetKey(PivSlot slot)
    {
        var reference = new YubiKeyKeyReference(Serial, slot);
        if (_session.HasMetadata)
        {
            var metadata = _session.GetMetadata(slot);
            if (metadata?.Algorithm is not { } algorithm || metadata.PublicKeySpki is null)
            {
                return null;
            }

            return new YubiKeyKeyInfo(reference, PivAlgorithms.ToKeyAlgorithm(algorithm), metadata.PublicKeySpki, metadata.PinPolicy, metadata.TouchPolicy, metadata.Origin);
        }

        // Before 5.3 a generated key shows through its attestation, an imported one only through a stored certificate.
        try
        {
            var statement = Attest(slot);
            return new YubiKeyKeyInfo(reference, AlgorithmOf(statement.SubjectPublicKeyInfo), statement.SubjectPublicKeyInfo, statement.PinPolicy, statement.TouchPolicy, PivKeyOrigin.Generated);
        }
        catch (PivNotFoundException)
        {
            if (_session.GetCertificate(slot) is not { } certificate)
            {
                return null;
            }

            using var parsed = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(certificate);
            var spki = parsed.PublicKey.ExportSubjectPublicKeyInfo();
            return new YubiKeyKeyInfo(reference, AlgorithmOf(spki), spki, null, null, PivKeyOrigin.Unknown);
        }
    }

    /// <summary>Every key on the device (slots 9a, 9c, 9d, 9e, 82..95).</summary>
    public IReadOnlyList<YubiKeyKeyInfo> ListKeys()
    {
        using var transaction = _session.BeginTransaction();
        return [.. PivSlot.KeySlots.Select(GetKey).OfType<YubiKeyKeyInfo>()];
    }

    /// <summary>
    /// Generates a key in <paramref name="slot"/> with the given policies, refusing a slot that already holds a key
    /// (a ceremony never overwrites). Authenticates with <paramref name="managementKey"/> first (the caller wipes it).
    /// </summary>
    public YubiKeyKeyInfo GenerateKey(PivSlot slot, KeyAlgorithm algorithm, PivPinPolicy pinPolicy, PivTouchPolicy touchPolicy, ReadOnlySpan<byte> managementKey)
    {
        var pivAlgorithm = PivAlgorithms.FromKeyAlgorithm(algorithm);
        using var transaction = _session.BeginTransaction();
        if (GetKey(slot) is { } existing)
        {
            throw new PivSlotOccupiedException($"slot {slot} of YubiKey serial {Serial} already holds a {existing.Algorithm} key (SHA-256 {existing.Fingerprint}); refusing to overwrite it");
        }

        AuthenticateManagementKey(managementKey);
        var spki = _session.GenerateKeyPair(slot, pivAlgorithm, pinPolicy, touchPolicy);
        var effectivePin = pinPolicy == PivPinPolicy.Default ? slot.DefaultPinPolicy : pinPolicy;
        var effectiveTouch = touchPolicy == PivTouchPolicy.Default ? PivTouchPolicy.Never : touchPolicy;
        return new YubiKeyKeyInfo(new YubiKeyKeyReference(Serial, slot), algorithm, spki, effectivePin, effectiveTouch, PivKeyOrigin.Generated);
    }

    /// <summary>The slot's attestation statement (the slot certificate and the device's f9 certificate), not yet verified.</summary>
    /// <exception cref="PivNotFoundException">the slot is empty, or its key was imported.</exception>
    public PivAttestationStatement Attest(PivSlot slot)
    {
        var (certificate, intermediate) = _session.Attest(slot);
        return PivAttestationStatement.Parse(certificate, intermediate);
    }

    /// <summary>The certificate stored for <paramref name="slot"/> (DER), or null.</summary>
    public byte[]? ReadCertificate(PivSlot slot) => _session.GetCertificate(slot);

    /// <summary>Stores a certificate for <paramref name="slot"/>; authenticates with <paramref name="managementKey"/> first.</summary>
    public void WriteCertificate(PivSlot slot, ReadOnlySpan<byte> certificateDer, ReadOnlySpan<byte> managementKey)
    {
        using var transaction = _session.BeginTransaction();
        AuthenticateManagementKey(managementKey);
        _session.PutCertificate(slot, certificateDer);
    }

    /// <summary>Opens a signer for the key in <paramref name="slot"/>; the signer takes over this device session.</summary>
    /// <param name="slot">The key's slot.</param>
    /// <param name="pin">The PIN (copied; the copy is wiped when the signer is disposed). Empty for a PIN policy "never" key.</param>
    /// <param name="options">Touch prompts and the expected public key.</param>
    public PivSigner OpenSigner(PivSlot slot, ReadOnlySpan<byte> pin, PivSignerOptions? options = null) => PivSigner.Open(this, slot, pin, options ?? new PivSignerOptions());

    /// <summary>
    /// As <see cref="OpenSigner(PivSlot, ReadOnlySpan{byte}, PivSignerOptions?)"/>, for a key this session has just read
    /// with <see cref="GetKey"/> (saves reading it again).
    /// </summary>
    public PivSigner OpenSigner(YubiKeyKeyInfo key, ReadOnlySpan<byte> pin, PivSignerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Reference.Serial != Serial)
        {
            throw new ArgumentException($"{key.Reference} is not a key of YubiKey serial {Serial}");
        }

        return PivSigner.Open(this, key, pin, options ?? new PivSignerOptions());
    }

    public void Dispose()
    {
        _session.Dispose();
        _connection.Dispose();
        _context.Dispose();
    }

    internal static KeyAlgorithm AlgorithmOf(ReadOnlySpan<byte> spki)
    {
        var key = Tuf.Crypto.PublicKey.FromSubjectPublicKeyInfo(spki);
        return key.Family switch
        {
            Tuf.Crypto.KeyFamily.Ed25519 => KeyAlgorithm.Ed25519,
            Tuf.Crypto.KeyFamily.Ecdsa => key.KeySizeBits == 384 ? KeyAlgorithm.EcdsaP384 : KeyAlgorithm.EcdsaP256,
            _ => key.KeySizeBits switch
            {
                3072 => KeyAlgorithm.Rsa3072,
                4096 => KeyAlgorithm.Rsa4096,
                _ => KeyAlgorithm.Rsa2048,
            },
        };
    }
}
