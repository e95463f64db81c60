using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace OfflineSigner.Protocol.Client;

/// <summary>
/// One RPC as the generated descriptors define it: its path (<c>/package.Service/Method</c>), the parser of its
/// response and its streaming shape. Made by <see cref="DaemonMethod.Find{TRequest, TResponse}"/>, which checks
/// the request and response types and the shape against the .proto, so a client method cannot drift from the
/// contract.
/// </summary>
public sealed class DaemonMethod<TRequest, TResponse>
    where TRequest : IMessage<TRequest>
    where TResponse : IMessage<TResponse>
{
    internal DaemonMethod(MethodDescriptor descriptor, MessageParser<TResponse> parser)
    {
        Descriptor = descriptor;
        Parser = parser;
        FullName = $"/{descriptor.Service.FullName}/{descriptor.Name}";
    }

    /// <summary>The HTTP/2 path of the method, e.g. <c>/offlinesigner.v1.SigningService/Sign</c>.</summary>
    public string FullName { get; }

    public MethodDescriptor Descriptor { get; }

    public MessageParser<TResponse> Parser { get; }

    public bool ServerStreaming => Descriptor.IsServerStreaming;

    public override string ToString() => FullName;
}

/// <summary>Finds methods in the generated descriptors.</summary>
public static class DaemonMethod
{
    /// <summary>The method <paramref name="name"/> of <paramref name="service"/>, checked against the type arguments.</summary>
    /// <exception cref="InvalidOperationException">The .proto has no such method, or it has other types or another shape.</exception>
    public static DaemonMethod<TRequest, TResponse> Find<TRequest, TResponse>(ServiceDescriptor service, string name, bool serverStreaming)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(name);
        var method = service.FindMethodByName(name)
            ?? throw new InvalidOperationException($"{service.FullName} has no method {name} in its .proto");
        if (method.InputType.ClrType != typeof(TRequest))
        {
            throw new InvalidOperationException($"{service.FullName}/{name} takes {method.InputType.FullName}, not {typeof(TRequest).Name}");
        }

        if (method.OutputType.ClrType != typeof(TResponse) || method.OutputType.Parser is not MessageParser<TResponse> parser)
        {
            throw new InvalidOperationException($"{service.FullName}/{name} returns {method.OutputType.FullName}, not {typeof(TResponse).Name}");
        }

        if (method.IsClientStreaming || method.IsServerStreaming != serverStreaming)
        {
            throw new InvalidOperationException($"{service.FullName}/{name} is {(method.IsServerStreaming ? "server-streaming" : "unary")} in its .proto");
        }

        return new DaemonMethod<TRequest, TResponse>(method, parser);
    }
}
