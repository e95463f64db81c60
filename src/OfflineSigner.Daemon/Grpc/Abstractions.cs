using Google.Protobuf;

namespace OfflineSigner.Daemon.Grpc;

/// <summary>
/// A call's outcome other than OK. Services throw it; the transport turns it into grpc-status and grpc-message
/// trailers. Any other exception becomes INTERNAL with a fixed message: no stack trace crosses the socket.
/// </summary>
public sealed class RpcException : OfflineSignerException
{
    public RpcException()
        : this(StatusCode.Unknown, "unknown error")
    {
    }

    public RpcException(string message)
        : this(StatusCode.Unknown, message)
    {
    }

    public RpcException(string message, Exception innerException)
        : base(message, innerException)
    {
        Status = StatusCode.Unknown;
    }

    public RpcException(StatusCode status, string message, Exception? innerException = null)
        : base(message, innerException!)
    {
        Status = status;
    }

    /// <summary>The status code sent to the client.</summary>
    public StatusCode Status { get; }
}

/// <summary>Who is calling and until when: what a service method may know about its call.</summary>
public sealed class CallContext
{
    /// <summary>The caller's user id, read from the socket (SO_PEERCRED).</summary>
    public required uint Uid { get; init; }

    /// <summary>The caller's group id, read from the socket.</summary>
    public required uint Gid { get; init; }

    /// <summary>The caller's process id, read from the socket.</summary>
    public required int Pid { get; init; }

    /// <summary>The full method name, for example <c>/offlinesigner.v1.SigningService/Sign</c>.</summary>
    public required string Method { get; init; }

    /// <summary>When the client's grpc-timeout runs out, or null.</summary>
    public DateTimeOffset? Deadline { get; init; }

    /// <summary>Cancelled when the client cancels, the deadline passes or the daemon stops.</summary>
    public CancellationToken CancellationToken { get; init; }
}

/// <summary>Writes the messages of a server-streaming call.</summary>
public interface IServerStreamWriter<in T>
    where T : IMessage<T>
{
    /// <summary>Sends one message.</summary>
    Task WriteAsync(T message);
}

/// <summary>A unary method implementation.</summary>
public delegate Task<TResponse> UnaryMethod<TRequest, TResponse>(TRequest request, CallContext context)
    where TRequest : IMessage<TRequest>, new()
    where TResponse : IMessage<TResponse>;

/// <summary>A server-streaming method implementation.</summary>
public delegate Task ServerStreamingMethod<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> writer, CallContext context)
    where TRequest : IMessage<TRequest>, new()
    where TResponse : IMessage<TResponse>;

/// <summary>
/// Where services register their methods. The transport checks every registration against the service descriptors
/// generated from protos/ (the method must exist, with these request and response types), and routes
/// <c>/package.Service/Method</c> paths to it; anything else is UNIMPLEMENTED.
/// </summary>
public interface IGrpcServiceRegistry
{
    /// <summary>Registers a unary method of a service.</summary>
    void AddUnary<TRequest, TResponse>(Google.Protobuf.Reflection.ServiceDescriptor service, string method, UnaryMethod<TRequest, TResponse> handler)
        where TRequest : IMessage<TRequest>, new()
        where TResponse : IMessage<TResponse>;

    /// <summary>Registers a server-streaming method of a service.</summary>
    void AddServerStreaming<TRequest, TResponse>(Google.Protobuf.Reflection.ServiceDescriptor service, string method, ServerStreamingMethod<TRequest, TResponse> handler)
        where TRequest : IMessage<TRequest>, new()
        where TResponse : IMessage<TResponse>;
}
