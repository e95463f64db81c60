using System.Numerics;
using System.Security.Cryptography;
using OfflineSigner.Tuf.Crypto;

namespace OfflineSigner.YubiKeySimulator;

public sealed partial class PivCard
{
    private const byte Rsa2048 = 0x07;
    private const byte Rsa3072 = 0x05;
    private const byte Rsa4096 = 0x16;
    private const byte EccP256 = 0x11;
    private const byte EccP384 = 0x14;
    private const byte Ed25519Algorithm = 0xE0;
    private static readonly TimeSpan TouchCache = TimeSpan.FromSeconds(15);

    private static bool IsKeySlot(byte slot) => slot is 0x9A or 0x9C or 0x9D or 0x9E or (>= 0x82 and <= 0x95);

    private bool Supports(byte algorithm) => algorithm switch
    {
        Rsa2048 or EccP256 or EccP384 => true,
        Rsa3072 or Rsa4096 or Ed25519Algorithm => Options.Is57,
        _ => false,
    };

    private static byte DefaultPinPolicy(byte slot) => slot switch
    {
        0x9C => 3,
        0x9E => 1,
        _ => 2,
    };

    private (byte[], ushort) AuthenticateManagement(Command c)
    {
        if (c.P1 != _state.ManagementAlgorithm)
        {
            return ([], IncorrectData);
        }

        var template = Tlvs(c.Data);
        if (template is null || !template.TryGetValue(0x7C, out var inner) || Tlvs(inner) is not { } fields)
        {
            return ([], IncorrectData);
        }

        var block = _state.ManagementAlgorithm == 0x03 ? 8 : 16;
        if (fields.TryGetValue(0x80, out var witness) && witness.Length == 0)
        {
            _witness = RandomNumberGenerator.GetBytes(block);
            _managementAuthenticated = false;
            return (Tlv(0x7C, Tlv(0x80, ManagementCipher(_witness, encrypt: true))), Ok);
        }

        if (witness is { Length: > 0 } && fields.TryGetValue(0x81, out var challenge))
        {
            var expected = _witness;
            _witness = null;
            if (expected is null || witness.Length != block || challenge.Length != block || !CryptographicOperations.FixedTimeEquals(witness, expected))
            {
                _managementAuthenticated = false;
                return ([], SecurityStatus);
            }

            if (_state.ManagementTouch == 2 && !TouchPasses())
            {
                return ([], SecurityStatus);
            }

            _managementAuthenticated = true;
            return (Tlv(0x7C, Tlv(0x82, ManagementCipher(challenge, encrypt: true))), Ok);
        }

        return ([], IncorrectData);
    }

    private byte[] ManagementCipher(byte[] block, bool encrypt)
    {
        using SymmetricAlgorithm cipher = _state.ManagementAlgorithm == 0x03 ? TripleDesCipher(_state.ManagementKey) : Aes.Create();
        if (_state.ManagementAlgorithm != 0x03)
        {
            cipher.Key = _state.ManagementKey;
        }

        return encrypt ? cipher.EncryptEcb(block, PaddingMode.None) : cipher.DecryptEcb(block, PaddingMode.None);
    }

    // 3DES-EDE with two equal halves is single DES, which .NET will not take as a 3DES key.
#pragma warning disable CA5350, CA5351
    private static SymmetricAlgorithm TripleDesCipher(byte[] key)
    {
        if (key.AsSpan(0, 8).SequenceEqual(key.AsSpan(8, 8)))
        {
            var des = DES.Create();
            des.Key = key[16..24];
            return des;
        }

        if (key.AsSpan(8, 8).SequenceEqual(key.AsSpan(16, 8)))
        {
            var des = DES.Create();
            des.Key = key[..8];
            return des;
        }

        var tdes = TripleDES.Create();
        tdes.Key = key;
        return tdes;
    }
#pragma warning restore CA5350, CA5351

    private (byte[], ushort) SetManagementKey(Command c)
    {
        if (c.P1 != 0xFF || c.P2 is not (0xFF or 0xFE))
        {
            return ([], WrongP1P2);
        }

        if (!_managementAuthenticated)
        {
            return ([], SecurityStatus);
        }

        // alg, 9B, length, key
        if (c.Data.Length < 3 || c.Data[1] != 0x9B || c.Data[2] != c.Data.Length - 3)
        {
            return ([], IncorrectData);
        }

        var algorithm = c.Data[0];
        var length = algorithm switch
        {
            0x03 => 24,
            0x08 when Options.Firmware.Major >= 5 && Options.Firmware.Minor >= 4 => 16,
            0x0A when Options.Firmware.Major >= 5 && Options.Firmware.Minor >= 4 => 24,
            0x0C when Options.Firmware.Major >= 5 && Options.Firmware.Minor >= 4 => 32,
            _ => -1,
        };
        if (length != c.Data.Length - 3)
        {
            return ([], IncorrectData);
        }

        _state.ManagementAlgorithm = algorithm;
        _state.ManagementKey = c.Data[3..];
        _state.ManagementTouch = c.P2 == 0xFE ? (byte)2 : (byte)1;
        Save();
        return ([], Ok);
    }

    private (byte[], ushort) Generate(Command c)
    {
        if (c.P1 != 0x00 || !IsKeySlot(c.P2))
        {
            return ([], WrongP1P2);
        }

        if (!_managementAuthenticated)
        {
            return ([], SecurityStatus);
        }

        if (Tlvs(c.Data) is not { } outer || !outer.TryGetValue(0xAC, out var control) || Tlvs(control) is not { } fields
            || !fields.TryGetValue(0x80, out var algorithmField) || algorithmField.Length != 1)
        {
            return ([], IncorrectData);
        }

        var algorithm = algorithmField[0];
        if (!Supports(algorithm) || !Policies(fields, c.P2, out var pinPolicy, out var touchPolicy))
        {
            return ([], IncorrectData);
        }

        byte[] privateKey;
        byte[] publicTemplate;
        switch (algorithm)
        {
            case EccP256 or EccP384:
            {
                using var key = ECDsa.Create(algorithm == EccP256 ? ECCurve.NamedCurves.nistP256 : ECCurve.NamedCurves.nistP384);
                privateKey = key.ExportPkcs8PrivateKey();
                publicTemplate = EcTemplate(key);
                break;
            }

            case Ed25519Algorithm:
            {
                privateKey = RandomNumberGenerator.GetBytes(32);
                using var key = Ed25519PrivateKey.FromSeed(privateKey);
                publicTemplate = Tlv(0x86, key.PublicKey.Ed25519RawKey);
                break;
            }

            default:
            {
                using var key = RSA.Create(algorithm switch { Rsa3072 => 3072, Rsa4096 => 4096, _ => 2048 });
                privateKey = key.ExportPkcs8PrivateKey();
                publicTemplate = RsaTemplate(key);
                break;
            }
        }

        Forget(c.P2);
        _state.Slots[c.P2] = new SlotKey { Algorithm = algorithm, PinPolicy = pinPolicy, TouchPolicy = touchPolicy, Origin = 1, PrivateKey = privateKey };

        // A new key makes the slot's old certificate meaningless; real keys keep it, and so does this card.
        Save();
        return (Tlv(0x7F49, publicTemplate), Ok);
    }

    private static bool Policies(Dictionary<int, byte[]> fields, byte slot, out byte pinPolicy, out byte touchPolicy)
    {
        pinPolicy = DefaultPinPolicy(slot);
        touchPolicy = 1;
        if (fields.TryGetValue(0xAA, out var pin))
        {
            if (pin.Length != 1 || pin[0] > 3)
            {
                return false;
            }

            pinPolicy = pin[0] == 0 ? pinPolicy : pin[0];
        }

        if (fields.TryGetValue(0xAB, out var touch))
        {
            if (touch.Length != 1 || touch[0] > 3)
            {
                return false;
            }

            touchPolicy = touch[0] == 0 ? touchPolicy : touch[0];
        }

        return true;
    }

    private static byte[] EcTemplate(ECDsa key)
    {
        var parameters = key.ExportParameters(false);
        return Tlv(0x86, [0x04, .. parameters.Q.X!, .. parameters.Q.Y!]);
    }

    private static byte[] RsaTemplate(RSA key)
    {
        var parameters = key.ExportParameters(false);
        return [.. Tlv(0x81, parameters.Modulus!), .. Tlv(0x82, parameters.Exponent!)];
    }

    private (byte[], ushort) Import(Command c)
    {
        if (!IsKeySlot(c.P2))
        {
            return ([], WrongP1P2);
        }

        if (!_managementAuthenticated)
        {
            return ([], SecurityStatus);
        }

        if (Tlvs(c.Data) is not { } fields || !Policies(fields, c.P2, out var pinPolicy, out var touchPolicy))
        {
            return ([], IncorrectData);
        }

        byte[] privateKey;
        try
        {
            switch (c.P1)
            {
                case EccP256 or EccP384 when fields.TryGetValue(0x06, out var d):
                {
                    using var key = ECDsa.Create(new ECParameters { Curve = c.P1 == EccP256 ? ECCurve.NamedCurves.nistP256 : ECCurve.NamedCurves.nistP384, D = d });
                    privateKey = key.ExportPkcs8PrivateKey();
                    break;
                }

                case Rsa2048 or Rsa3072 or Rsa4096 when Supports(c.P1) && fields.TryGetValue(0x01, out var p) && fields.TryGetValue(0x02, out var q)
                    && fields.TryGetValue(0x03, out var dp) && fields.TryGetValue(0x04, out var dq) && fields.TryGetValue(0x05, out var qinv):
                {
                    privateKey = RsaFromCrt(p, q, dp, dq, qinv);
                    break;
                }

                default:
                    return ([], IncorrectData);
            }
        }
        catch (CryptographicException)
        {
            return ([], IncorrectData);
        }

        Forget(c.P2);
        _state.Slots[c.P2] = new SlotKey { Algorithm = c.P1, PinPolicy = pinPolicy, TouchPolicy = touchPolicy, Origin = 2, PrivateKey = privateKey };
        Save();
        return ([], Ok);
    }

    private static byte[] RsaFromCrt(byte[] p, byte[] q, byte[] dp, byte[] dq, byte[] qinv)
    {
        var pi = new BigInteger(p, isUnsigned: true, isBigEndian: true);
        var qi = new BigInteger(q, isUnsigned: true, isBigEndian: true);
        var n = pi * qi;
        var e = new BigInteger(65537);
        var phi = (pi - 1) * (qi - 1);
        var d = ModInverse(e, phi);
        var size = n.GetByteCount(isUnsigned: true);
        var half = (size + 1) / 2;
        using var rsa = RSA.Create();
        rsa.ImportParameters(new RSAParameters
        {
            Modulus = n.ToByteArray(isUnsigned: true, isBigEndian: true),
            Exponent = e.ToByteArray(isUnsigned: true, isBigEndian: true),
            D = Fixed(d, size),
            P = Fixed(pi, half),
            Q = Fixed(qi, half),
            DP = Fixed(new BigInteger(dp, isUnsigned: true, isBigEndian: true), half),
            DQ = Fixed(new BigInteger(dq, isUnsigned: true, isBigEndian: true), half),
            InverseQ = Fixed(new BigInteger(qinv, isUnsigned: true, isBigEndian: true), half),
        });
        return rsa.ExportPkcs8PrivateKey();
    }

    private static BigInteger ModInverse(BigInteger a, BigInteger m)
    {
        BigInteger t = 0, newT = 1, r = m, newR = a;
        while (newR != 0)
        {
            var quotient = r / newR;
            (t, newT) = (newT, t - (quotient * newT));
            (r, newR) = (newR, r - (quotient * newR));
        }

        return t < 0 ? t + m : t;
    }

    private static byte[] Fixed(BigInteger value, int length)
    {
        var bytes = value.ToByteArray(isUnsigned: true, isBigEndian: true);
        if (bytes.Length == length)
        {
            return bytes;
        }

        var result = new byte[length];
        bytes.CopyTo(result, length - bytes.Length);
        return result;
    }

    /// <summary>GENERAL AUTHENTICATE with a slot key: sign (81) or ECDH (85), under the slot's PIN and touch policies.</summary>
    private (byte[], ushort) UsePrivateKey(Command c)
    {
        if (!IsKeySlot(c.P2) && c.P2 != 0xF9)
        {
            return ([], WrongP1P2);
        }

        if (!_state.Slots.TryGetValue(c.P2, out var slot) || slot.Algorithm != c.P1)
        {
            return ([], IncorrectData);
        }

        if (Tlvs(c.Data) is not { } outer || !outer.TryGetValue(0x7C, out var inner) || Tlvs(inner) is not { } fields
            || !fields.TryGetValue(0x82, out var wanted) || wanted.Length != 0)
        {
            return ([], IncorrectData);
        }

        if (!fields.TryGetValue(0x81, out var input))
        {
            return ([], IncorrectData);
        }

        if (slot.PinPolicy is 2 or 3 && !_pinVerified)
        {
            return ([], SecurityStatus);
        }

        if (slot.TouchPolicy == 2 || (slot.TouchPolicy == 3 && DateTimeOffset.UtcNow - _lastTouch > TouchCache))
        {
            if (!TouchPasses())
            {
                return ([], SecurityStatus);
            }
        }

        if (slot.PinPolicy == 3)
        {
            // PIN "always": one verification, one use.
            _pinVerified = false;
        }

        byte[] signature;
        switch (slot.Algorithm)
        {
            case EccP256 or EccP384:
            {
                var size = slot.Algorithm == EccP256 ? 32 : 48;
                if (input.Length > size)
                {
                    return ([], IncorrectData);
                }

                signature = EcKey(c.P2, slot).SignHash(input, DSASignatureFormat.Rfc3279DerSequence);
                break;
            }

            case Ed25519Algorithm:
                signature = Ed25519Key(c.P2, slot).Sign(input);
                break;
            default:
                if (RawRsa(c.P2, slot, input) is not { } raw)
                {
                    return ([], IncorrectData);
                }

                signature = raw;
                break;
        }

        return (Tlv(0x7C, Tlv(0x82, signature)), Ok);
    }

    private bool TouchPasses()
    {
        TouchRequests++;
        switch (Touch)
        {
            case TouchMode.Delay:
                Thread.Sleep(Options.TouchDelay);
                break;
            case TouchMode.Refuse:
                Thread.Sleep(Options.TouchDelay);
                return false;
            default:
                break;
        }

        _lastTouch = DateTimeOffset.UtcNow;
        return true;
    }

    private (byte[], ushort) Attest(Command c)
    {
        if (!IsKeySlot(c.P1) || c.P2 != 0)
        {
            return ([], WrongP1P2);
        }

        if (!_state.Slots.TryGetValue(c.P1, out var slot) || slot.Origin != 1 || _state.AttestationKey.Length == 0
            || !_state.Objects.TryGetValue(0x5FFF01, out var intermediateObject) || Tlvs(intermediateObject) is not { } objectFields
            || !objectFields.TryGetValue(0x70, out var intermediate))
        {
            return ([], IncorrectData);
        }

        using var attestationKey = RSA.Create();
        attestationKey.ImportPkcs8PrivateKey(_state.AttestationKey, out _);
        var certificate = AttestationCertificates.Issue(intermediate, attestationKey, c.P1, SubjectPublicKeyInfo(c.P1, slot), Options.Firmware, Options.Serial, slot.PinPolicy, slot.TouchPolicy, Options.FormFactor);
        return (certificate, Ok);
    }

    private (byte[], ushort) Metadata(Command c)
    {
        switch (c.P2)
        {
            case 0x80:
                return ([.. Tlv(0x01, [0xFF]), .. Tlv(0x05, [_state.PinIsDefault ? (byte)1 : (byte)0]), .. Tlv(0x06, [(byte)_state.PinTotal, (byte)_state.PinRemaining])], Ok);
            case 0x81:
                return ([.. Tlv(0x01, [0xFF]), .. Tlv(0x05, [_state.PukIsDefault ? (byte)1 : (byte)0]), .. Tlv(0x06, [(byte)_state.PukTotal, (byte)_state.PukRemaining])], Ok);
            case 0x9B:
                return ([.. Tlv(0x01, [_state.ManagementAlgorithm]), .. Tlv(0x02, [0x00, _state.ManagementTouch]), .. Tlv(0x05, [_state.ManagementKeyIsDefault ? (byte)1 : (byte)0])], Ok);
            default:
                if (!IsKeySlot(c.P2) && c.P2 != 0xF9)
                {
                    return ([], WrongP1P2);
                }

                if (c.P2 == 0xF9)
                {
                    if (_state.AttestationKey.Length == 0)
                    {
                        return ([], ReferenceNotFound);
                    }

                    using var attestation = RSA.Create();
                    attestation.ImportPkcs8PrivateKey(_state.AttestationKey, out _);
                    return ([.. Tlv(0x01, [Rsa2048]), .. Tlv(0x02, [0x01, 0x01]), .. Tlv(0x03, [0x02]), .. Tlv(0x04, RsaTemplate(attestation))], Ok);
                }

                if (!_state.Slots.TryGetValue(c.P2, out var slot))
                {
                    return ([], ReferenceNotFound);
                }

                return ([.. Tlv(0x01, [slot.Algorithm]), .. Tlv(0x02, [slot.PinPolicy, slot.TouchPolicy]), .. Tlv(0x03, [slot.Origin]), .. Tlv(0x04, PublicTemplate(c.P2, slot))], Ok);
        }
    }

    private readonly Dictionary<byte, IDisposable> _keys = [];

    private void Forget(byte slot)
    {
        if (_keys.Remove(slot, out var key))
        {
            key.Dispose();
        }
    }

    private ECDsa EcKey(byte slotNumber, SlotKey slot)
    {
        if (_keys.TryGetValue(slotNumber, out var cached) && cached is ECDsa ec)
        {
            return ec;
        }

        var key = ECDsa.Create();
        key.ImportPkcs8PrivateKey(slot.PrivateKey, out _);
        _keys[slotNumber] = key;
        return key;
    }

    private Ed25519PrivateKey Ed25519Key(byte slotNumber, SlotKey slot)
    {
        if (_keys.TryGetValue(slotNumber, out var cached) && cached is Ed25519PrivateKey ed)
        {
            return ed;
        }

        var key = Ed25519PrivateKey.FromSeed(slot.PrivateKey);
        _keys[slotNumber] = key;
        return key;
    }

    private RSA RsaKey(byte slotNumber, SlotKey slot)
    {
        if (_keys.TryGetValue(slotNumber, out var cached) && cached is RSA rsa)
        {
            return rsa;
        }

        var key = RSA.Create();
        key.ImportPkcs8PrivateKey(slot.PrivateKey, out _);
        _keys[slotNumber] = key;
        return key;
    }

    /// <summary>Textbook RSA, m^d mod n, by the Chinese remainder theorem: the card pads nothing; the host does.</summary>
    private byte[]? RawRsa(byte slotNumber, SlotKey slot, byte[] input)
    {
        var parameters = RsaKey(slotNumber, slot).ExportParameters(true);
        var size = parameters.Modulus!.Length;
        var n = new BigInteger(parameters.Modulus, isUnsigned: true, isBigEndian: true);
        var m = new BigInteger(input, isUnsigned: true, isBigEndian: true);
        if (input.Length != size || m >= n)
        {
            return null;
        }

        var p = new BigInteger(parameters.P, isUnsigned: true, isBigEndian: true);
        var q = new BigInteger(parameters.Q, isUnsigned: true, isBigEndian: true);
        var m1 = BigInteger.ModPow(m, new BigInteger(parameters.DP, isUnsigned: true, isBigEndian: true), p);
        var m2 = BigInteger.ModPow(m, new BigInteger(parameters.DQ, isUnsigned: true, isBigEndian: true), q);
        var h = new BigInteger(parameters.InverseQ, isUnsigned: true, isBigEndian: true) * (m1 - m2) % p;
        if (h < 0)
        {
            h += p;
        }

        var result = Fixed(m2 + (h * q), size);
        CryptographicOperations.ZeroMemory(parameters.D);
        CryptographicOperations.ZeroMemory(parameters.P);
        CryptographicOperations.ZeroMemory(parameters.Q);
        CryptographicOperations.ZeroMemory(parameters.DP);
        CryptographicOperations.ZeroMemory(parameters.DQ);
        CryptographicOperations.ZeroMemory(parameters.InverseQ);
        return result;
    }

    private byte[] PublicTemplate(byte slotNumber, SlotKey slot) => slot.Algorithm switch
    {
        EccP256 or EccP384 => EcTemplate(EcKey(slotNumber, slot)),
        Ed25519Algorithm => Tlv(0x86, Ed25519Key(slotNumber, slot).PublicKey.Ed25519RawKey),
        _ => RsaTemplate(RsaKey(slotNumber, slot)),
    };

    private byte[] SubjectPublicKeyInfo(byte slotNumber, SlotKey slot) => slot.Algorithm switch
    {
        EccP256 or EccP384 => EcKey(slotNumber, slot).ExportSubjectPublicKeyInfo(),
        Ed25519Algorithm => Ed25519Key(slotNumber, slot).PublicKey.SubjectPublicKeyInfo.ToArray(),
        _ => RsaKey(slotNumber, slot).ExportSubjectPublicKeyInfo(),
    };
}
