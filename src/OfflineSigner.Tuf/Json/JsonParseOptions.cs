namespace OfflineSigner.Tuf.Json;

/// <summary>Limits the strict parser enforces before it allocates.</summary>
public sealed record JsonParseOptions
{
    /// <summary>The defaults: 64 MiB documents, nesting 256 deep.</summary>
    public static JsonParseOptions Default { get; } = new();

    /// <summary>The largest document accepted, in bytes.</summary>
    public long MaxDocumentBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>The deepest nesting of arrays and objects accepted.</summary>
    public int MaxDepth { get; init; } = 256;

    /// <summary>The longest string accepted, in bytes of its JSON text.</summary>
    public int MaxStringBytes { get; init; } = 16 * 1024 * 1024;

    /// <summary>
    /// Accept raw control characters inside strings. RFC 8259 forbids them and strict readers refuse them, but
    /// canonical JSON writes them raw, so reading canonical bytes back needs this.
    /// </summary>
    public bool AllowControlCharactersInStrings { get; init; }

    /// <summary>The most digits an integer may have (Python accepts any size; absurd ones are refused here).</summary>
    public int MaxIntegerDigits { get; init; } = 4300;
}
