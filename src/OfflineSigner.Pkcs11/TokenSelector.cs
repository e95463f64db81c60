namespace OfflineSigner.Pkcs11;

/// <summary>Names one token by label, serial number, or both (never by slot number: slot ids change).</summary>
public sealed record TokenSelector
{
    public TokenSelector(string? label, string? serialNumber)
    {
        if (string.IsNullOrEmpty(label) && string.IsNullOrEmpty(serialNumber))
        {
            throw new ArgumentException("a token is selected by label, serial number, or both");
        }

        Label = string.IsNullOrEmpty(label) ? null : label;
        SerialNumber = string.IsNullOrEmpty(serialNumber) ? null : serialNumber;
    }

    public string? Label { get; }

    public string? SerialNumber { get; }

    public static TokenSelector ByLabel(string label) => new(label, null);

    public static TokenSelector BySerial(string serialNumber) => new(null, serialNumber);

    public bool Matches(Pkcs11TokenInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        return (Label is null || string.Equals(Label, info.Label, StringComparison.Ordinal))
            && (SerialNumber is null || string.Equals(SerialNumber, info.SerialNumber, StringComparison.OrdinalIgnoreCase));
    }

    public override string ToString() => (Label, SerialNumber) switch
    {
        (not null, not null) => $"token label '{Label}' serial {SerialNumber}",
        (not null, null) => $"token label '{Label}'",
        _ => $"token serial {SerialNumber}",
    };
}
