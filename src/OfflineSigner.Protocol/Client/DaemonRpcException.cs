using OfflineSigner.Protocol.Grpc;

namespace OfflineSigner.Protocol.Client;

/// <summary>
/// A call to the daemon ended with a status other than OK: the status the server sent, or the one this client
/// decided on (UNAVAILABLE when the socket cannot be reached, DEADLINE_EXCEEDED, CANCELLED, INTERNAL for a
/// malformed response, RESOURCE_EXHAUSTED for a message over the receive limit).
/// </summary>
public sealed class DaemonRpcException : Exception
{
    public DaemonRpcException()
        : this(StatusCode.Unknown, string.Empty)
    {
    }

    public DaemonRpcException(string message)
        : this(StatusCode.Unknown, message)
    {
    }

    public DaemonRpcException(string message, Exception innerException)
        : this(StatusCode.Unknown, message, innerException)
    {
    }

    public DaemonRpcException(StatusCode status, string detail, Exception? innerException = null)
        : base(Describe(status, detail), innerException)
    {
        Status = status;
        Detail = detail ?? string.Empty;
    }

    /// <summary>The call's gRPC status.</summary>
    public StatusCode Status { get; }

    /// <summary>The status message exactly as the server sent it (percent-decoded), or this client's own account.</summary>
    public string Detail { get; }

    private static string Describe(StatusCode status, string? detail) =>
        string.IsNullOrEmpty(detail) ? status.ToString() : $"{status}: {detail}";
}
