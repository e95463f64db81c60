namespace OfflineSigner.Tuf.Json;

/// <summary>A document is not JSON that canonical JSON accepts; the message names the place.</summary>
public sealed class JsonFormatException : OfflineSignerException
{
    public JsonFormatException()
    {
    }

    public JsonFormatException(string message)
        : base(message)
    {
    }

    public JsonFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    internal JsonFormatException(string reason, string path, long offset)
        : base($"invalid JSON at {path} (byte {offset}): {reason}")
    {
        Reason = reason;
        Path = path;
        Offset = offset;
    }

    /// <summary>What is wrong, without the location.</summary>
    public string? Reason { get; }

    /// <summary>A JSONPath-like location of the fault, for example <c>$.signed.keys["ab12"]</c>.</summary>
    public string? Path { get; }

    /// <summary>The byte offset of the fault in the input.</summary>
    public long Offset { get; }
}
