using System.Diagnostics.CodeAnalysis;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace OfflineSigner.Daemon.Grpc;

/// <summary>Sends one response message of a call.</summary>
internal delegate Task MessageSink(IMessage message);

/// <summary>One routed method: its descriptor and how to run it on a request's bytes.</summary>
internal sealed record GrpcMethod(string Path, MethodDescriptor Descriptor, Func<byte[], MessageSink, CallContext, Task> Invoke)
{
    public bool ServerStreaming => Descriptor.IsServerStreaming;
}

/// <summary>
/// The routing table. Every registration is checked against the service descriptors generated from protos/: the
/// method must exist with exactly these request and response types and streaming shape, so the routes cannot drift
/// from the contract. Paths are <c>/package.Service/Method</c>.
/// </summary>
internal sealed class GrpcServiceRegistry : IGrpcServiceRegistry
{
    private readonly Dictionary<string, GrpcMethod> _methods = new(StringComparer.Ordinal);
    private readonly HashSet<string> _services = new(StringComparer.Ordinal);

    /// <summary>Full names of the services with at least one registered method.</summary>
    public IReadOnlyCollection<string> Services => _services;

    /// <summary>Registered paths, sorted.</summary>
    public IReadOnlyList<string> Paths => _methods.Keys.Order(StringComparer.Ordinal).ToList();

    public bool TryGet(string path, [NotNullWhen(true)] out GrpcMethod? method) => _methods.TryGetValue(path, out method);

    public void AddUnary<TRequest, TResponse>(ServiceDescriptor service, string method, UnaryMethod<TRequest, TResponse> handler)
        where TRequest : IMessage<TRequest>, new()
        where TResponse : IMessage<TResponse>
    {
        ArgumentNullException.ThrowIfNull(handler);
        var descriptor = Find<TRequest, TResponse>(service, method, serverStreaming: false);
        Add(new GrpcMethod(PathOf(descriptor), descriptor, async (payload, sink, context) =>
        {
            var response = await handler(Parse<TRequest>(payload, descriptor), context).ConfigureAwait(false);
            await sink(response).ConfigureAwait(false);
        }));
    }

    public void AddServerStreaming<TRequest, TResponse>(ServiceDescriptor service, string method, ServerStreamingMethod<TRequest, TResponse> handler)
        where TRequest : IMessage<TRequest>, new()
        where TResponse : IMessage<TResponse>
    {
        ArgumentNullException.ThrowIfNull(handler);
        var descriptor = Find<TRequest, TResponse>(service, method, serverStreaming: true);
        Add(new GrpcMethod(PathOf(descriptor), descriptor, (payload, sink, context) =>
            handler(Parse<TRequest>(payload, descriptor), new SinkWriter<TResponse>(sink), context)));
    }

    private static string PathOf(MethodDescriptor method) => $"/{method.Service.FullName}/{method.Name}";

    private void Add(GrpcMethod method)
    {
        if (!_methods.TryAdd(method.Path, method))
        {
            throw new InvalidOperationException($"{method.Path} is registered twice");
        }

        _services.Add(method.Descriptor.Service.FullName);
    }

    private static MethodDescriptor Find<TRequest, TResponse>(ServiceDescriptor service, string name, bool serverStreaming)
        where TRequest : IMessage<TRequest>, new()
        where TResponse : IMessage<TResponse>
    {
        ArgumentNullException.ThrowIfNull(service);
        var method = service.FindMethodByName(name)
            ?? throw new InvalidOperationException($"{service.FullName} has no method {name} in its .proto");
        var request = new TRequest().Descriptor;
        if (method.InputType.FullName != request.FullName)
        {
            throw new InvalidOperationException($"{service.FullName}/{name} takes {method.InputType.FullName}, not {request.FullName}");
        }

        if (method.OutputType.ClrType != typeof(TResponse))
        {
            throw new InvalidOperationException($"{service.FullName}/{name} returns {method.OutputType.FullName}, not {typeof(TResponse).Name}");
        }

        if (method.IsClientStreaming || method.IsServerStreaming != serverStreaming)
        {
            throw new InvalidOperationException($"{service.FullName}/{name} is registered with the wrong streaming shape");
        }

        return method;
    }

    private static TRequest Parse<TRequest>(byte[] payload, MethodDescriptor method)
        where TRequest : IMessage<TRequest>, new()
    {
        var request = new TRequest();
        try
        {
            request.MergeFrom(payload);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new RpcException(StatusCode.InvalidArgument, $"the request is not a valid {method.InputType.FullName} message: {e.Message}");
        }

        return request;
    }

    private sealed class SinkWriter<T>(MessageSink sink) : IServerStreamWriter<T>
        where T : IMessage<T>
    {
        public Task WriteAsync(T message) => sink(message);
    }
}
