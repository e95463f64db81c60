namespace OfflineSigner.Signing;

/// <summary>The root of every error the signing backends raise.</summary>
public class SigningException : OfflineSignerException
{
    public SigningException()
    {
    }

    public SigningException(string message)
        : base(message)
    {
    }

    public SigningException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
