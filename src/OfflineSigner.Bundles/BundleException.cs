namespace OfflineSigner.Bundles;

/// <summary>A bundle that cannot be used as it is: the message names the file and the rule, and what to do.</summary>
public sealed class BundleException : OfflineSignerException
{
    public BundleException()
    {
    }

    public BundleException(string message)
        : base(message)
    {
    }

    public BundleException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
