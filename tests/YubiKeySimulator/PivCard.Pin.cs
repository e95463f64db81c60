using System.Security.Cryptography;

namespace OfflineSigner.YubiKeySimulator;

public sealed partial class PivCard
{
    private static byte[] Padded(ReadOnlySpan<byte> value)
    {
        var padded = new byte[8];
        padded.AsSpan().Fill(0xFF);
        value.CopyTo(padded);
        return padded;
    }

    /// <summary>The value without its FF padding, or null when it is not a 6..8 byte value padded to 8.</summary>
    private static byte[]? Unpadded(ReadOnlySpan<byte> padded)
    {
        if (padded.Length != 8)
        {
            return null;
        }

        var end = padded.IndexOf((byte)0xFF);
        var length = end < 0 ? 8 : end;
        if (length < 6 || padded[length..].ContainsAnyExcept((byte)0xFF))
        {
            return null;
        }

        return padded[..length].ToArray();
    }

    private static ushort Retries(int remaining) => remaining == 0 ? Blocked : (ushort)(0x63C0 | remaining);

    private (byte[], ushort) Verify(Command c)
    {
        if (c.P2 != 0x80)
        {
            return ([], ReferenceNotFound);
        }

        if (c.P1 == 0xFF)
        {
            // SP 800-73-4: P1 FF resets the PIN's security status.
            _pinVerified = false;
            return ([], Ok);
        }

        if (c.P1 != 0x00)
        {
            return ([], WrongP1P2);
        }

        if (c.Data.Length == 0)
        {
            return ([], _state.PinRemaining == 0 ? Blocked : _pinVerified ? Ok : Retries(_state.PinRemaining));
        }

        if (c.Data.Length != 8)
        {
            return ([], IncorrectData);
        }

        if (_state.PinRemaining == 0)
        {
            return ([], Blocked);
        }

        if (CryptographicOperations.FixedTimeEquals(c.Data, Padded(_state.Pin)))
        {
            _state.PinRemaining = _state.PinTotal;
            _pinVerified = true;
            Save();
            return ([], Ok);
        }

        _pinVerified = false;
        _state.PinRemaining--;
        Save();
        return ([], (ushort)(0x63C0 | _state.PinRemaining));
    }

    private (byte[], ushort) ChangeReference(Command c)
    {
        if (c.P1 != 0x00 || c.P2 is not (0x80 or 0x81))
        {
            return ([], WrongP1P2);
        }

        if (c.Data.Length != 16)
        {
            return ([], IncorrectData);
        }

        var isPin = c.P2 == 0x80;
        var remaining = isPin ? _state.PinRemaining : _state.PukRemaining;
        if (remaining == 0)
        {
            return ([], Blocked);
        }

        var current = isPin ? _state.Pin : _state.Puk;
        if (!CryptographicOperations.FixedTimeEquals(c.Data.AsSpan(0, 8), Padded(current)))
        {
            remaining--;
            if (isPin)
            {
                _state.PinRemaining = remaining;
                _pinVerified = false;
            }
            else
            {
                _state.PukRemaining = remaining;
            }

            Save();
            return ([], (ushort)(0x63C0 | remaining));
        }

        var replacement = Unpadded(c.Data.AsSpan(8, 8));
        if (replacement is null)
        {
            return ([], IncorrectData);
        }

        if (isPin)
        {
            _state.Pin = replacement;
            _state.PinRemaining = _state.PinTotal;
        }
        else
        {
            _state.Puk = replacement;
            _state.PukRemaining = _state.PukTotal;
        }

        Save();
        return ([], Ok);
    }

    private (byte[], ushort) ResetRetry(Command c)
    {
        if (c.P1 != 0x00 || c.P2 != 0x80)
        {
            return ([], WrongP1P2);
        }

        if (c.Data.Length != 16)
        {
            return ([], IncorrectData);
        }

        if (_state.PukRemaining == 0)
        {
            return ([], Blocked);
        }

        if (!CryptographicOperations.FixedTimeEquals(c.Data.AsSpan(0, 8), Padded(_state.Puk)))
        {
            _state.PukRemaining--;
            Save();
            return ([], (ushort)(0x63C0 | _state.PukRemaining));
        }

        var pin = Unpadded(c.Data.AsSpan(8, 8));
        if (pin is null)
        {
            return ([], IncorrectData);
        }

        _state.Pin = pin;
        _state.PinRemaining = _state.PinTotal;
        _state.PukRemaining = _state.PukTotal;
        Save();
        return ([], Ok);
    }

    private (byte[], ushort) SetPinRetries(Command c)
    {
        if (!_managementAuthenticated || !_pinVerified)
        {
            return ([], SecurityStatus);
        }

        if (c.P1 is 0 or > 15 || c.P2 is 0 or > 15)
        {
            return ([], WrongP1P2);
        }

        // As on a real key, new retry counts put the PIN and PUK back to their defaults.
        _state.PinTotal = _state.PinRemaining = c.P1;
        _state.PukTotal = _state.PukRemaining = c.P2;
        _state.Pin = CardState.DefaultPin.ToArray();
        _state.Puk = CardState.DefaultPuk.ToArray();
        _pinVerified = false;
        Save();
        return ([], Ok);
    }

    private (byte[], ushort) Reset()
    {
        if (_state.PinRemaining != 0 || _state.PukRemaining != 0)
        {
            return ([], ConditionsNotSatisfied);
        }

        _state.Pin = CardState.DefaultPin.ToArray();
        _state.Puk = CardState.DefaultPuk.ToArray();
        _state.PinTotal = _state.PinRemaining = 3;
        _state.PukTotal = _state.PukRemaining = 3;
        _state.ManagementAlgorithm = Options.Is57 ? (byte)0x0A : (byte)0x03;
        _state.ManagementKey = CardState.DefaultTripleDesKey.ToArray();
        _state.ManagementTouch = 1;
        _state.Slots.Clear();
        var attestation = _state.Objects.GetValueOrDefault(0x5FFF01);
        _state.Objects.Clear();
        if (attestation is not null)
        {
            _state.Objects[0x5FFF01] = attestation;
        }

        ClearSecurityState();
        Save();
        return ([], Ok);
    }
}
