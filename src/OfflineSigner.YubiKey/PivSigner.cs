using System.Security.Cryptography;
using OfflineSigner.Signing;
using OfflineSigner.Tuf.Crypto;
using OfflineSigner.YubiKey.Piv;

namespace OfflineSigner.YubiKey;

/// <summary>How a <see cref="PivSigner"/> talks to the people around the device.</summary>
public sealed record PivSignerOptions
{
    /// <summary>Told, before each operation that waits for a touch, what to ask the key holder.</summary>
    public Action<string>? TouchPrompt { get; init; }

    /// <summary>The public key the slot must hold (as recorded at enrollment); any other key is refused before signing.</summary>
    public ReadOnlyMemory<byte>? ExpectedPublicKey { get; init; }
}

/// <summary>
/// A key in a YubiKey PIV slot behind <see cref="IKeySigner"/>. ECDSA hashes on the host and the device returns DER,
/// turned into r || s; RSA is padded (PSS) on the host and the device computes m^d; Ed25519 (firmware 5.7) signs the
/// message itself. Every signature is verified against the public key before it is returned.
/// <para>
/// Card commands per signature once the signer is open: GENERAL AUTHENTICATE, plus VERIFY before it when the key's PIN
/// policy is "always". A PIN policy "once" key is verified when the signer opens. If the device is removed, the
/// signature in progress fails with <see cref="YubiKeyRemovedException"/> and the next one finds the same serial
/// again, checks that its slot still holds the same key, and verifies the PIN again.
/// </para>
/// </summary>
public sealed class PivSigner : IKeySigner
{
    private readonly uint _serial;
    private readonly string? _holder;
    private readonly PivSlot _slot;
    private readonly PivAlgorithm _algorithm;
    private readonly byte[] _pin;
    private readonly byte[] _spki;
    private readonly PivSignerOptions _options;
    private readonly ECDsa? _ecdsa;
    private readonly RSA? _rsa;
    private readonly byte[]? _ed25519;
    private YubiKeyDevice? _device;
    private long _apdusBefore;

    private PivSigner(YubiKeyDevice device, YubiKeyKeyInfo key, ReadOnlySpan<byte> pin, PivSignerOptions options)
    {
        _device = device;
        _serial = device.Serial;
        _holder = device.Holder;
        _slot = key.Reference.Slot;
        Key = key;
        Algorithm = key.Algorithm;
        _algorithm = PivAlgorithms.FromKeyAlgorithm(key.Algorithm);
        _pin = pin.ToArray();
        _spki = key.SubjectPublicKeyInfo;
        _options = options;
        KeyReference = key.Reference.ToString();
        switch (Algorithm)
        {
            case KeyAlgorithm.EcdsaP256 or KeyAlgorithm.EcdsaP384:
                _ecdsa = ECDsa.Create();
                _ecdsa.ImportSubjectPublicKeyInfo(_spki, out _);
                break;
            case KeyAlgorithm.Ed25519:
                _ed25519 = PublicKey.FromSubjectPublicKeyInfo(_spki).Ed25519RawKey.ToArray();
                break;
            default:
                _rsa = RSA.Create();
                _rsa.ImportSubjectPublicKeyInfo(_spki, out _);
                break;
        }
    }

    public KeyAlgorithm Algorithm { get; }

    public ReadOnlyMemory<byte> SubjectPublicKeyInfo => _spki;

    public string KeyReference { get; }

    /// <summary>The key as the device described it when the signer opened.</summary>
    public YubiKeyKeyInfo Key { get; }

    /// <summary>APDUs sent since the signer opened, across reconnections.</summary>
    public long ApdusSent => _apdusBefore + (_device?.ApdusSent ?? 0);

    /// <summary>Time the current session spent waiting in SCardTransmit (card, reader, pcscd), for the benchmark.</summary>
    internal TimeSpan TransmitTime => _device?.Session.TransmitTime ?? TimeSpan.Zero;

    /// <summary>Whether the key needs the PIN before every signature.</summary>
    private bool PinEverySignature => Key.PinPolicy is null or PivPinPolicy.Always or PivPinPolicy.MatchAlways;

    private bool PinNever => Key.PinPolicy == PivPinPolicy.Never;

    private bool NeedsTouch => Key.TouchPolicy is PivTouchPolicy.Always or PivTouchPolicy.Cached;

    internal static PivSigner Open(YubiKeyDevice device, PivSlot slot, ReadOnlySpan<byte> pin, PivSignerOptions options) =>
        Open(device, device.GetKey(slot) ?? throw new PivNotFoundException($"slot {slot} of YubiKey serial {device.Serial} holds no key"), pin, options);

    internal static PivSigner Open(YubiKeyDevice device, YubiKeyKeyInfo key, ReadOnlySpan<byte> pin, PivSignerOptions options)
    {
        var slot = key.Reference.Slot;
        if (options.ExpectedPublicKey is { } expected && !expected.Span.SequenceEqual(key.SubjectPublicKeyInfo))
        {
            throw new YubiKeyException($"slot {slot} of YubiKey serial {device.Serial} holds the key {key.Fingerprint}, not the enrolled one; refusing to sign");
        }

        var signer = new PivSigner(device, key, pin, options);
        try
        {
            if (!signer.PinNever && signer._pin.Length == 0)
            {
                throw new ArgumentException($"the key in slot {slot} has PIN policy {key.PinPolicy?.ToString().ToLowerInvariant() ?? "unknown"} and no PIN was given");
            }

            if (!signer.PinNever && !signer.PinEverySignature)
            {
                device.VerifyPin(signer._pin);
            }

            return signer;
        }
        catch
        {
            // The device stays the caller's when opening fails.
            signer._device = null;
            signer.Dispose();
            throw;
        }
    }

    public byte[] Sign(ReadOnlySpan<byte> message, HashAlgorithmName hash)
    {
        var device = Device();
        var input = Input(message, hash);
        byte[] output;
        try
        {
            using (device.Session.BeginTransaction())
            {
                if (PinEverySignature)
                {
                    device.VerifyPin(_pin);
                }

                if (NeedsTouch)
                {
                    _options.TouchPrompt?.Invoke($"touch {(_holder is { Length: > 0 } ? _holder + "'s " : string.Empty)}YubiKey serial {_serial} now (slot {_slot})");
                }

                output = device.Session.Sign(_slot, _algorithm, input);
            }
        }
        catch (YubiKeyRemovedException e)
        {
            Drop();
            throw new YubiKeyRemovedException(
                $"YubiKey serial {_serial} was removed during the signature with slot {_slot}: nothing was signed; reinsert it and sign again", e);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(input);
        }

        return Finish(message, hash, output);
    }

    /// <summary>Signs a random challenge and verifies it.</summary>
    public void SelfTest() => _ = Sign(RandomNumberGenerator.GetBytes(32), HashAlgorithmName.SHA256);

    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_pin);
        _ecdsa?.Dispose();
        _rsa?.Dispose();
        Drop();
    }

    private YubiKeyDevice Device()
    {
        if (_device is { } device)
        {
            return device;
        }

        // After a removal: the same serial, the same key in the slot, the PIN again for a "once" key.
        var reopened = YubiKeyDevices.Open(_serial, _holder);
        try
        {
            var key = reopened.GetKey(_slot);
            if (key is null || !key.SubjectPublicKeyInfo.AsSpan().SequenceEqual(_spki))
            {
                throw new YubiKeyException($"slot {_slot} of YubiKey serial {_serial} no longer holds the key {Key.Fingerprint}; refusing to sign");
            }

            if (!PinNever && !PinEverySignature)
            {
                reopened.VerifyPin(_pin);
            }
        }
        catch
        {
            reopened.Dispose();
            throw;
        }

        _device = reopened;
        return reopened;
    }

    private void Drop()
    {
        if (_device is { } device)
        {
            _apdusBefore += device.ApdusSent;
            device.Dispose();
            _device = null;
        }
    }

    private byte[] Input(ReadOnlySpan<byte> message, HashAlgorithmName hash)
    {
        switch (Algorithm)
        {
            case KeyAlgorithm.Ed25519:
                return message.ToArray();
            case KeyAlgorithm.EcdsaP256 or KeyAlgorithm.EcdsaP384:
            {
                // A hash longer than the field keeps its leftmost bytes (FIPS 186-4 §6.4); a shorter one is left-padded, the same integer.
                var digest = RsaPss.Hash(hash, message);
                var size = PivAlgorithms.InputSize(_algorithm);
                var input = new byte[size];
                if (digest.Length >= size)
                {
                    digest.AsSpan(0, size).CopyTo(input);
                }
                else
                {
                    digest.CopyTo(input, size - digest.Length);
                }

                return input;
            }

            default:
                return RsaPss.Encode(message, hash, PivAlgorithms.InputSize(_algorithm) * 8);
        }
    }

    private byte[] Finish(ReadOnlySpan<byte> message, HashAlgorithmName hash, byte[] output)
    {
        bool valid;
        byte[] signature;
        switch (Algorithm)
        {
            case KeyAlgorithm.Ed25519:
                signature = output;
                valid = Ed25519.Verify(_ed25519, message, signature);
                break;
            case KeyAlgorithm.EcdsaP256 or KeyAlgorithm.EcdsaP384:
                try
                {
                    signature = SignatureVerifier.DerToP1363(output, PivAlgorithms.InputSize(_algorithm));
                }
                catch (Exception e) when (e is CryptographicException or FormatException or Tuf.MetadataException)
                {
                    throw new YubiKeyException($"YubiKey serial {_serial} returned an ECDSA signature that is not DER: {e.Message}", e);
                }

                valid = _ecdsa!.VerifyData(message, signature, hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
                break;
            default:
                signature = output;
                valid = _rsa!.VerifyData(message, signature, hash, RSASignaturePadding.Pss);
                break;
        }

        return valid
            ? signature
            : throw new SigningException($"the signature made by {KeyReference} does not verify against its public key; refusing to return it");
    }
}
