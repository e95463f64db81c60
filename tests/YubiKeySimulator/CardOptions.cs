namespace OfflineSigner.YubiKeySimulator;

/// <summary>How the simulated card answers a touch request.</summary>
public enum TouchMode
{
    /// <summary>The touch comes at once.</summary>
    Auto,

    /// <summary>The touch comes after <see cref="CardOptions.TouchDelay"/>.</summary>
    Delay,

    /// <summary>No touch comes: after <see cref="CardOptions.TouchDelay"/> the operation fails with 69 82, as a real key's 15 s timeout does.</summary>
    Refuse,
}

/// <summary>What kind of YubiKey 5 the simulator is.</summary>
public sealed record CardOptions
{
    /// <summary>The device serial (GET SERIAL, attestation extension .3.7).</summary>
    public uint Serial { get; init; } = 12345678;

    /// <summary>
    /// The firmware. 5.4.3 by default (3DES management key, no Ed25519), which Debian's yubico-piv-tool 2.2.0 and ykman
    /// 4.0.9 know; 5.7.x adds the AES-192 default management key, Ed25519 and RSA-3072/4096.
    /// </summary>
    public (byte Major, byte Minor, byte Patch) Firmware { get; init; } = (5, 4, 3);

    /// <summary>Form factor (attestation extension .3.9): 01 USB-A keychain; the 0x80 bit marks FIPS.</summary>
    public byte FormFactor { get; init; } = 0x01;

    public TouchMode Touch { get; init; } = TouchMode.Auto;

    public TimeSpan TouchDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Where the card keeps its state between runs (JSON); null keeps it in memory only.</summary>
    public string? StatePath { get; init; }

    /// <summary>Whether the firmware has the 5.7 features.</summary>
    public bool Is57 => Firmware.Major > 5 || (Firmware.Major == 5 && Firmware.Minor >= 7);

    /// <summary>Whether the firmware answers GET METADATA (5.3 and later).</summary>
    public bool HasMetadata => Firmware.Major > 5 || (Firmware.Major == 5 && Firmware.Minor >= 3);
}
