namespace OfflineSigner;

/// <summary>The root of every error OfflineSigner raises on purpose.</summary>
public class OfflineSignerException : Exception
{
    public OfflineSignerException()
    {
    }

    public OfflineSignerException(string message)
        : base(message)
    {
    }

    public OfflineSignerException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
