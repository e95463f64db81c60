namespace OfflineSigner.Tuf;

// The small hierarchy mirrors python-tuf's: callers catch MetadataException for "this metadata is not acceptable"
// and the subtypes when they need to say why.

/// <summary>Metadata is not acceptable; the message says why.</summary>
public class MetadataException : OfflineSignerException
{
    public MetadataException()
    {
    }

    public MetadataException(string message)
        : base(message)
    {
    }

    public MetadataException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>A document is not well-formed metadata: a field is missing, has the wrong type or an unsupported value.</summary>
public class MetadataFormatException : MetadataException
{
    public MetadataFormatException()
    {
    }

    public MetadataFormatException(string message)
        : base(message)
    {
    }

    public MetadataFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>A fault at a field: the message reads "PATH: REASON".</summary>
    public MetadataFormatException(string path, string reason, Exception? innerException = null)
        : base($"{path}: {reason}", innerException!)
    {
        FieldPath = path;
        Reason = reason;
    }

    /// <summary>Where the fault is, as a JSONPath-like string (for example <c>$.signed.roles.root.threshold</c>).</summary>
    public string? FieldPath { get; }

    /// <summary>What is wrong with the field.</summary>
    public string? Reason { get; }
}

/// <summary>Not enough valid signatures from distinct keys to meet a threshold.</summary>
public class UnsignedMetadataException : MetadataException
{
    public UnsignedMetadataException()
    {
    }

    public UnsignedMetadataException(string message)
        : base(message)
    {
    }

    public UnsignedMetadataException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>A version is wrong: a rollback, a skipped version, or a version that does not match what was expected.</summary>
public class BadVersionException : MetadataException
{
    public BadVersionException()
    {
    }

    public BadVersionException(string message)
        : base(message)
    {
    }

    public BadVersionException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>Metadata has expired at the time it was checked against.</summary>
public class ExpiredMetadataException : MetadataException
{
    public ExpiredMetadataException()
    {
    }

    public ExpiredMetadataException(string message)
        : base(message)
    {
    }

    public ExpiredMetadataException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>A file's length or hash does not match what metadata says about it.</summary>
public class LengthOrHashMismatchException : MetadataException
{
    public LengthOrHashMismatchException()
    {
    }

    public LengthOrHashMismatchException(string message)
        : base(message)
    {
    }

    public LengthOrHashMismatchException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
