using System.Text.Json;
using System.Text.Json.Serialization;

namespace OfflineSigner.YubiKeySimulator;

/// <summary>A key in a slot, as the card stores it.</summary>
public sealed class SlotKey
{
    public byte Algorithm { get; set; }

    public byte PinPolicy { get; set; }

    public byte TouchPolicy { get; set; }

    /// <summary>1 generated on the card, 2 imported.</summary>
    public byte Origin { get; set; }

    /// <summary>PKCS #8 (RSA, EC) or the 32-byte seed (Ed25519). A simulator's keys: test material only.</summary>
    public byte[] PrivateKey { get; set; } = [];
}

/// <summary>Everything the card remembers across power cycles and runs. Test material only: it is stored in the clear.</summary>
public sealed class CardState
{
    public static readonly byte[] DefaultPin = "123456"u8.ToArray();
    public static readonly byte[] DefaultPuk = "12345678"u8.ToArray();
    public static readonly byte[] DefaultTripleDesKey = Convert.FromHexString("010203040506070801020304050607080102030405060708");

    public byte[] Pin { get; set; } = DefaultPin.ToArray();

    public byte[] Puk { get; set; } = DefaultPuk.ToArray();

    public int PinTotal { get; set; } = 3;

    public int PinRemaining { get; set; } = 3;

    public int PukTotal { get; set; } = 3;

    public int PukRemaining { get; set; } = 3;

    public byte ManagementAlgorithm { get; set; } = 0x03;

    public byte[] ManagementKey { get; set; } = DefaultTripleDesKey.ToArray();

    /// <summary>1 never, 2 always.</summary>
    public byte ManagementTouch { get; set; } = 1;

    public Dictionary<byte, SlotKey> Slots { get; set; } = [];

    /// <summary>Data objects by id (certificate objects, CHUID, ...), their content without the 53 wrapper.</summary>
    public Dictionary<int, byte[]> Objects { get; set; } = [];

    /// <summary>The device attestation key (slot f9), PKCS #8. Its certificate is object 5FFF01.</summary>
    public byte[] AttestationKey { get; set; } = [];

    public bool PinIsDefault => Pin.AsSpan().SequenceEqual(DefaultPin);

    public bool PukIsDefault => Puk.AsSpan().SequenceEqual(DefaultPuk);

    /// <summary>3DES (before 5.7) and AES-192 (5.7) share the default value 010203..08 three times.</summary>
    public bool ManagementKeyIsDefault => ManagementKey.AsSpan().SequenceEqual(DefaultTripleDesKey);

    /// <summary>Loads <paramref name="path"/>, or null when it does not exist.</summary>
    public static CardState? Load(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        using var stream = File.OpenRead(path);
        return JsonSerializer.Deserialize(stream, CardStateJson.Default.CardState) ?? throw new InvalidDataException($"{path} holds no card state");
    }

    /// <summary>Writes the state to <paramref name="path"/> atomically (temporary file, then rename).</summary>
    public void Save(string path)
    {
        var temporary = path + ".tmp";
        using (var stream = File.Create(temporary))
        {
            JsonSerializer.Serialize(stream, this, CardStateJson.Default.CardState);
        }

        File.Move(temporary, path, overwrite: true);
    }
}

[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(CardState))]
internal sealed partial class CardStateJson : JsonSerializerContext;
