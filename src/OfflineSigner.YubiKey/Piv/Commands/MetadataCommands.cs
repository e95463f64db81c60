// Yubico's GET METADATA (F7, firmware 5.3 and later): algorithm, policies, origin, public key, default flag, retries.
using OfflineSigner.YubiKey.Apdu;

namespace OfflineSigner.YubiKey.Piv.Commands;

/// <summary>What GET METADATA says about a slot, the PIN, the PUK or the management key.</summary>
internal sealed record PivMetadata(
    PivAlgorithm? Algorithm,
    PivPinPolicy? PinPolicy,
    PivTouchPolicy? TouchPolicy,
    PivKeyOrigin Origin,
    byte[]? PublicKeySpki,
    bool? IsDefault,
    int? TotalRetries,
    int? RetriesRemaining);

/// <summary>GET METADATA for slot, PIN (80), PUK (81) or management key (9B); 6A 88 when the slot is empty.</summary>
internal sealed class GetMetadataCommand(byte reference)
{
    public CommandApdu CreateCommandApdu() => new(0x00, 0xF7, 0x00, reference, ne: 65536);

    /// <summary>The metadata, or null when the slot holds no key.</summary>
    public PivMetadata? Parse(ResponseApdu response)
    {
        if (response.StatusWord == StatusWords.ReferenceNotFound)
        {
            return null;
        }

        StatusWords.ThrowIfError(response, "GET METADATA", what: $"reference {reference:x2}");
        PivAlgorithm? algorithm = null;
        PivPinPolicy? pin = null;
        PivTouchPolicy? touch = null;
        var origin = PivKeyOrigin.Unknown;
        ReadOnlyMemory<byte>? publicKey = null;
        bool? isDefault = null;
        int? total = null;
        int? remaining = null;
        try
        {
            foreach (var (tag, value) in BerTlv.ReadAll(response.Data))
            {
                var v = value.Span;
                switch (tag)
                {
                    case 0x01 when v.Length == 1:
                        algorithm = (PivAlgorithm)v[0];
                        break;
                    case 0x02 when v.Length == 2:
                        pin = (PivPinPolicy)v[0];
                        touch = (PivTouchPolicy)v[1];
                        break;
                    case 0x03 when v.Length == 1:
                        origin = (PivKeyOrigin)v[0];
                        break;
                    case 0x04:
                        publicKey = value;
                        break;
                    case 0x05 when v.Length == 1:
                        isDefault = v[0] != 0;
                        break;
                    case 0x06 when v.Length == 2:
                        total = v[0];
                        remaining = v[1];
                        break;
                    default:
                        // Later firmware adds tags; those not needed here are skipped.
                        break;
                }
            }
        }
        catch (FormatException e)
        {
            throw new YubiKeyException($"GET METADATA returned malformed data: {e.Message}", e);
        }

        var spki = publicKey is { } pk && algorithm is { } alg && pk.Length > 0 ? PivPublicKey.ToSubjectPublicKeyInfo(alg, pk) : null;
        return new PivMetadata(algorithm, pin, touch, origin, spki, isDefault, total, remaining);
    }
}
