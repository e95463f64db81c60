using System.Security.Cryptography;

namespace OfflineSigner.Pkcs11;

/// <summary>
/// Where a token's user PIN comes from. The PIN is read when a login needs it, as bytes, and the caller wipes
/// the returned array; nothing here keeps the PIN in a string or logs it.
/// </summary>
public interface IPinSource
{
    /// <summary>Words that name the source for an operator (a path or credential name, never the PIN).</summary>
    string Description { get; }

    /// <summary>Reads the PIN. The caller owns the array and wipes it with <see cref="CryptographicOperations.ZeroMemory"/>.</summary>
    byte[] ReadPin();
}

/// <summary>A PIN in a file (one line; a final newline is not part of the PIN). Refuses files others can read.</summary>
public sealed class FilePinSource : IPinSource
{
    public FilePinSource(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = System.IO.Path.GetFullPath(path);
    }

    public string Path { get; }

    public string Description => "PIN file " + Path;

    public byte[] ReadPin()
    {
        if (!File.Exists(Path))
        {
            throw new Pkcs11TokenException($"PIN file {Path} does not exist");
        }

        if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(Path) & (UnixFileMode.OtherRead | UnixFileMode.OtherWrite)) != 0)
        {
            throw new Pkcs11TokenException($"PIN file {Path} is readable or writable by other users; restrict it (chmod 0600 or 0640)");
        }

        var bytes = File.ReadAllBytes(Path);
        return PinBytes.TrimLineEnd(bytes, Description);
    }
}

/// <summary>
/// A PIN handed over as a systemd credential (LoadCredential=/LoadCredentialEncrypted=): the file
/// <c>$CREDENTIALS_DIRECTORY/name</c>.
/// </summary>
public sealed class SystemdCredentialPinSource : IPinSource
{
    public SystemdCredentialPinSource(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Contains('/', StringComparison.Ordinal) || name is "." or "..")
        {
            throw new ArgumentException("a credential name is a file name, without '/'", nameof(name));
        }

        Name = name;
    }

    public string Name { get; }

    public string Description => $"systemd credential '{Name}'";

    public byte[] ReadPin()
    {
        var dir = Environment.GetEnvironmentVariable("CREDENTIALS_DIRECTORY");
        if (string.IsNullOrEmpty(dir))
        {
            throw new Pkcs11TokenException($"{Description} is configured but CREDENTIALS_DIRECTORY is not set (run under systemd with LoadCredential=)");
        }

        var path = Path.Combine(dir, Name);
        if (!File.Exists(path))
        {
            throw new Pkcs11TokenException($"{Description} does not exist in {dir}");
        }

        return PinBytes.TrimLineEnd(File.ReadAllBytes(path), Description);
    }
}

/// <summary>A PIN held in memory (entered at a prompt, or a test PIN). Keeps its own copy and wipes it on dispose.</summary>
public sealed class BytesPinSource : IPinSource, IDisposable
{
    private readonly byte[] _pin;

    public BytesPinSource(ReadOnlySpan<byte> pin, string description = "PIN entered by the operator")
    {
        _pin = pin.ToArray();
        Description = description;
    }

    public string Description { get; }

    public byte[] ReadPin() => (byte[])_pin.Clone();

    public void Dispose() => CryptographicOperations.ZeroMemory(_pin);
}

internal static class PinBytes
{
    /// <summary>Removes one trailing "\n" or "\r\n"; wipes the input when it returns a copy.</summary>
    public static byte[] TrimLineEnd(byte[] bytes, string description)
    {
        var length = bytes.Length;
        if (length > 0 && bytes[length - 1] == (byte)'\n')
        {
            length--;
            if (length > 0 && bytes[length - 1] == (byte)'\r')
            {
                length--;
            }
        }

        if (length == 0)
        {
            CryptographicOperations.ZeroMemory(bytes);
            throw new Pkcs11TokenException($"{description} is empty");
        }

        if (length == bytes.Length)
        {
            return bytes;
        }

        var trimmed = bytes.AsSpan(0, length).ToArray();
        CryptographicOperations.ZeroMemory(bytes);
        return trimmed;
    }
}
