using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Google.Protobuf;
using OfflineSigner.Protocol.Grpc;

namespace OfflineSigner.Protocol.Client;

/// <summary>
/// A gRPC client connection to offline-signerd (PROTOCOL-HTTP2.md): HTTP/2 with prior knowledge (h2c) over the
/// daemon's Unix domain socket, or over loopback TCP for tests. Calls are unary or server-streaming with one
/// uncompressed request message. Every failure of a call surfaces as <see cref="DaemonRpcException"/>, including
/// cancellation through <see cref="CallOptions.CancellationToken"/> (status CANCELLED, never
/// <see cref="OperationCanceledException"/>), so callers handle one exception type. Thread-safe; one instance
/// serves any number of concurrent calls over one multiplexed connection.
/// </summary>
public sealed class DaemonChannel : IDisposable
{
    private static readonly Uri UnixBaseAddress = new("http://localhost/");

    private static readonly SearchValues<char> MethodChars =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./");

    private static readonly SearchValues<char> HeaderNameChars =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyz0123456789_-.");

    private static readonly HashSet<string> ReservedHeaders = new(StringComparer.Ordinal)
    {
        "content-type", "content-length", "te", "host", "connection", "transfer-encoding", "upgrade", "keep-alive",
        "proxy-connection", "user-agent",
    };

    private readonly HttpMessageInvoker _http;

    /// <summary>A channel to the daemon's Unix domain socket at <paramref name="socketPath"/>.</summary>
    /// <exception cref="ArgumentException">The path is empty or too long for a Unix socket address.</exception>
    public DaemonChannel(string socketPath, DaemonChannelOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        Options = CheckOptions(options);
        var endPoint = new UnixDomainSocketEndPoint(socketPath);
        Target = "unix://" + socketPath;
        SocketPath = socketPath;
        BaseAddress = UnixBaseAddress;
        var handler = CreateHandler(Options);
        handler.ConnectCallback = (_, cancellationToken) => ConnectUnixAsync(endPoint, cancellationToken);
        _http = new HttpMessageInvoker(handler, disposeHandler: true);
    }

    /// <summary>A channel to an <c>http://host:port/</c> address (loopback TCP; h2c, no TLS).</summary>
    public DaemonChannel(Uri address, DaemonChannelOptions? options = null)
    {
        (Target, BaseAddress) = CheckAddress(address);
        Options = CheckOptions(options);
        _http = new HttpMessageInvoker(CreateHandler(Options), disposeHandler: true);
    }

    /// <summary>
    /// A channel whose requests go through <paramref name="handler"/> (another transport, or a scripted one in
    /// tests), to <paramref name="address"/>.
    /// </summary>
    public DaemonChannel(HttpMessageHandler handler, Uri address, DaemonChannelOptions? options = null, bool disposeHandler = true)
    {
        ArgumentNullException.ThrowIfNull(handler);
        (Target, BaseAddress) = CheckAddress(address);
        Options = CheckOptions(options);
        _http = new HttpMessageInvoker(handler, disposeHandler);
    }

    /// <summary>What the channel connects to: <c>unix:///path/to.sock</c> or <c>http://host:port</c>.</summary>
    public string Target { get; }

    public DaemonChannelOptions Options { get; }

    internal Uri BaseAddress { get; }

    /// <summary>The Unix socket path, or null for a channel over TCP or a given handler.</summary>
    internal string? SocketPath { get; }

    /// <summary>Calls a unary method by its path (<c>/package.Service/Method</c>) and returns its one response message.</summary>
    /// <exception cref="DaemonRpcException">The call did not end with status OK and exactly one response message.</exception>
    public Task<TResponse> UnaryAsync<TRequest, TResponse>(string fullMethod, TRequest request, MessageParser<TResponse> parser, CallOptions options = default)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(parser);
        CheckMethod(fullMethod);
        CheckHeaders(options.Headers);
        return Unary(fullMethod, request, parser, options);
    }

    /// <summary>Calls a unary method described by <paramref name="method"/>.</summary>
    public Task<TResponse> UnaryAsync<TRequest, TResponse>(DaemonMethod<TRequest, TResponse> method, TRequest request, CallOptions options = default)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>
    {
        ArgumentNullException.ThrowIfNull(method);
        return method.ServerStreaming
            ? throw new ArgumentException($"{method.FullName} is server-streaming; use ServerStreamingAsync", nameof(method))
            : UnaryAsync(method.FullName, request, method.Parser, options);
    }

    /// <summary>
    /// Calls a server-streaming method by its path. The call starts when enumeration starts; messages are yielded
    /// as they arrive; a status other than OK is thrown as <see cref="DaemonRpcException"/> after the messages sent
    /// before it. Stopping the enumeration early cancels the call on the server. The deadline covers the whole stream.
    /// </summary>
    public IAsyncEnumerable<TResponse> ServerStreamingAsync<TRequest, TResponse>(string fullMethod, TRequest request, MessageParser<TResponse> parser, CallOptions options = default)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(parser);
        CheckMethod(fullMethod);
        CheckHeaders(options.Headers);
        return Stream(fullMethod, request, parser, options);
    }

    /// <summary>Calls a server-streaming method described by <paramref name="method"/>.</summary>
    public IAsyncEnumerable<TResponse> ServerStreamingAsync<TRequest, TResponse>(DaemonMethod<TRequest, TResponse> method, TRequest request, CallOptions options = default)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>
    {
        ArgumentNullException.ThrowIfNull(method);
        return !method.ServerStreaming
            ? throw new ArgumentException($"{method.FullName} is unary; use UnaryAsync", nameof(method))
            : ServerStreamingAsync(method.FullName, request, method.Parser, options);
    }

    public void Dispose() => _http.Dispose();

    internal Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        _http.SendAsync(request, cancellationToken);

    private async Task<TResponse> Unary<TRequest, TResponse>(string fullMethod, TRequest request, MessageParser<TResponse> parser, CallOptions options)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>
    {
        using var call = new GrpcCall<TResponse>(this, fullMethod, parser, options, default);
        await call.StartAsync(request).ConfigureAwait(false);
        var response = await call.ReadNextAsync().ConfigureAwait(false)
            ?? throw new DaemonRpcException(StatusCode.Internal, $"{fullMethod} ended with status OK but without a response message");
        if (await call.ReadNextAsync().ConfigureAwait(false) is not null)
        {
            throw new DaemonRpcException(StatusCode.Internal, $"{fullMethod} is unary but the server sent more than one response message");
        }

        return response;
    }

    private async IAsyncEnumerable<TResponse> Stream<TRequest, TResponse>(string fullMethod, TRequest request, MessageParser<TResponse> parser, CallOptions options, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>
    {
        using var call = new GrpcCall<TResponse>(this, fullMethod, parser, options, cancellationToken);
        await call.StartAsync(request).ConfigureAwait(false);
        while (await call.ReadNextAsync().ConfigureAwait(false) is { } message)
        {
            yield return message;
        }
    }

    private static (string Target, Uri BaseAddress) CheckAddress(Uri address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (!address.IsAbsoluteUri || address.Scheme != Uri.UriSchemeHttp)
        {
            throw new ArgumentException($"the address must be an absolute http:// URI, not '{address}'", nameof(address));
        }

        var target = address.GetLeftPart(UriPartial.Authority);
        return (target, new Uri(target + "/"));
    }

    private static DaemonChannelOptions CheckOptions(DaemonChannelOptions? options)
    {
        options ??= new DaemonChannelOptions();
        options.Validate();
        return options;
    }

    private static SocketsHttpHandler CreateHandler(DaemonChannelOptions options) => new()
    {
        ConnectTimeout = options.ConnectTimeout,
        UseProxy = false,
        AllowAutoRedirect = false,
        UseCookies = false,
        AutomaticDecompression = DecompressionMethods.None,
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(2),
    };

    private static async ValueTask<Stream> ConnectUnixAsync(UnixDomainSocketEndPoint endPoint, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static void CheckMethod(string fullMethod)
    {
        ArgumentNullException.ThrowIfNull(fullMethod);
        var slash = fullMethod.LastIndexOf('/');
        if (fullMethod.Length < 4 || fullMethod[0] != '/' || slash <= 1 || slash == fullMethod.Length - 1
            || fullMethod.AsSpan(1).ContainsAnyExcept(MethodChars))
        {
            throw new ArgumentException($"'{fullMethod}' is not a method path of the form /package.Service/Method", nameof(fullMethod));
        }
    }

    private static void CheckHeaders(IReadOnlyList<KeyValuePair<string, string>>? headers)
    {
        foreach (var (name, value) in headers ?? [])
        {
            if (string.IsNullOrEmpty(name) || name.AsSpan().ContainsAnyExcept(HeaderNameChars)
                || name.StartsWith("grpc-", StringComparison.Ordinal) || ReservedHeaders.Contains(name))
            {
                throw new ArgumentException($"'{name}' cannot be a metadata key: keys are lowercase 0-9 a-z _ - . and not reserved (grpc-*, te, content-type, ...)", nameof(headers));
            }

            ArgumentNullException.ThrowIfNull(value, nameof(headers));
            foreach (var c in value)
            {
                if (c is < ' ' or > '~')
                {
                    throw new ArgumentException($"the value of metadata key '{name}' must be printable ASCII (base64 for -bin keys)", nameof(headers));
                }
            }
        }
    }
}
