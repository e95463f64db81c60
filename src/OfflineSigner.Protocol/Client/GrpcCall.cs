using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using Google.Protobuf;
using OfflineSigner.Protocol.Grpc;

namespace OfflineSigner.Protocol.Client;

/// <summary>
/// One call on the wire: sends the request, checks the response headers, reads length-prefixed messages (limit
/// checked on the prefix, before allocating) and ends with the status from the trailers, or from the headers of a
/// trailers-only response. Every failure is translated into a <see cref="DaemonRpcException"/>.
/// </summary>
internal sealed class GrpcCall<TResponse> : IDisposable
    where TResponse : IMessage<TResponse>
{
    private static readonly ProductInfoHeaderValue UserAgent = new("offline-signer-client", typeof(GrpcCall<>).Assembly.GetName().Version?.ToString(3) ?? "0");

    private readonly DaemonChannel _channel;
    private readonly string _method;
    private readonly MessageParser<TResponse> _parser;
    private readonly CallOptions _options;
    private readonly CancellationToken _enumeratorToken;
    private readonly CancellationTokenSource _cancel;
    private readonly byte[] _prefix = new byte[GrpcWire.PrefixLength];
    private DateTimeOffset? _deadline;
    private TimeSpan _timeout;
    private HttpResponseMessage? _response;
    private Stream? _body;
    private (StatusCode Status, string Message)? _headerStatus;
    private bool _finished;

    public GrpcCall(DaemonChannel channel, string method, MessageParser<TResponse> parser, CallOptions options, CancellationToken enumeratorToken)
    {
        _channel = channel;
        _method = method;
        _parser = parser;
        _options = options;
        _enumeratorToken = enumeratorToken;
        _cancel = CancellationTokenSource.CreateLinkedTokenSource(options.CancellationToken, enumeratorToken);
    }

    private bool CallerCancelled => _options.CancellationToken.IsCancellationRequested || _enumeratorToken.IsCancellationRequested;

    public async Task StartAsync(IMessage request)
    {
        try
        {
            await StartCoreAsync(request).ConfigureAwait(false);
        }
        catch (Exception e) when (Translate(e) is { } rpc)
        {
            throw rpc;
        }
    }

    /// <summary>The next response message, or null once the call has ended with status OK.</summary>
    public async Task<TResponse?> ReadNextAsync()
    {
        try
        {
            return await ReadNextCoreAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (Translate(e) is { } rpc)
        {
            throw rpc;
        }
    }

    /// <summary>Ends the call; if it has not finished, the server sees the stream reset (RST_STREAM CANCEL).</summary>
    public void Dispose()
    {
        _body?.Dispose();
        _response?.Dispose();
        _cancel.Dispose();
    }

    private async Task StartCoreAsync(IMessage request)
    {
        _cancel.Token.ThrowIfCancellationRequested();
        _deadline = _options.Deadline ?? (_channel.Options.DefaultTimeout is { } t ? DateTimeOffset.UtcNow + t : null);
        if (_deadline is { } deadline)
        {
            _timeout = deadline - DateTimeOffset.UtcNow;
            if (_timeout <= TimeSpan.Zero)
            {
                throw new DaemonRpcException(StatusCode.DeadlineExceeded, $"the deadline of {_method} had passed before the call started");
            }

            // CancelAfter takes at most uint.MaxValue - 1 milliseconds; a longer deadline only goes to the server.
            if (_timeout.TotalMilliseconds < int.MaxValue)
            {
                _cancel.CancelAfter(_timeout);
            }
        }

        var size = request.CalculateSize();
        var frame = new byte[GrpcWire.PrefixLength + size];
        GrpcWire.WritePrefix(frame, size);
        request.WriteTo(frame.AsSpan(GrpcWire.PrefixLength));

        using var message = new HttpRequestMessage(HttpMethod.Post, new Uri(_channel.BaseAddress, _method))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(frame),
        };
        message.Content.Headers.ContentType = new MediaTypeHeaderValue(GrpcWire.ContentType);
        message.Headers.TE.Add(new TransferCodingWithQualityHeaderValue("trailers"));
        message.Headers.UserAgent.Add(UserAgent);
        message.Headers.TryAddWithoutValidation("grpc-accept-encoding", "identity");
        if (_deadline is not null)
        {
            message.Headers.TryAddWithoutValidation("grpc-timeout", GrpcWire.FormatTimeout(_timeout));
        }

        foreach (var (name, value) in _options.Headers ?? [])
        {
            message.Headers.TryAddWithoutValidation(name, value);
        }

        try
        {
            _response = await _channel.SendAsync(message, _cancel.Token).ConfigureAwait(false);
        }
        finally
        {
            // The encoded request may carry a PIN; the server has read all of it once its response starts (or the
            // call failed): wipe the copy this side made.
            CryptographicOperations.ZeroMemory(frame);
        }

        var http = (int)_response.StatusCode;
        if (_response.StatusCode != HttpStatusCode.OK)
        {
            throw new DaemonRpcException(FromHttpStatus(http), $"{_channel.Target} answered {_method} with HTTP status {http} {_response.ReasonPhrase}".TrimEnd());
        }

        // Trailers-only response: the status is in the only HEADERS frame and the body is empty.
        if (TryReadStatus(_response.Headers, out var status, out var detail))
        {
            _headerStatus = (status, detail);
            return;
        }

        var contentType = _response.Content.Headers.ContentType?.MediaType;
        if (contentType is null
            || !(contentType.Equals(GrpcWire.ContentType, StringComparison.OrdinalIgnoreCase)
                 || contentType.StartsWith(GrpcWire.ContentType + "+", StringComparison.OrdinalIgnoreCase)))
        {
            throw new DaemonRpcException(StatusCode.Internal, $"{_channel.Target} answered {_method} with content-type '{contentType}', not {GrpcWire.ContentType}: not a gRPC server");
        }

        _body = await _response.Content.ReadAsStreamAsync(_cancel.Token).ConfigureAwait(false);
    }

    private async Task<TResponse?> ReadNextCoreAsync()
    {
        if (_finished)
        {
            return default;
        }

        // Deterministic: a cancelled call reads nothing more, even what is already buffered.
        _cancel.Token.ThrowIfCancellationRequested();
        if (_headerStatus is { } headerStatus)
        {
            _finished = true;
            return headerStatus.Status == StatusCode.OK
                ? default
                : throw new DaemonRpcException(headerStatus.Status, headerStatus.Message);
        }

        var body = _body ?? throw new InvalidOperationException("the call has not started");
        var read = await body.ReadAtLeastAsync(_prefix, GrpcWire.PrefixLength, throwOnEndOfStream: false, _cancel.Token).ConfigureAwait(false);
        if (read == 0)
        {
            _finished = true;
            if (!TryReadStatus(_response!.TrailingHeaders, out var status, out var detail))
            {
                throw new DaemonRpcException(StatusCode.Unknown, $"{_method}: the response ended without a grpc-status trailer");
            }

            return status == StatusCode.OK ? default : throw new DaemonRpcException(status, detail);
        }

        if (read < GrpcWire.PrefixLength)
        {
            throw new DaemonRpcException(StatusCode.Internal, $"{_method}: the response ends inside a message prefix ({read} of {GrpcWire.PrefixLength} bytes)");
        }

        bool compressed;
        uint length;
        try
        {
            (compressed, length) = GrpcWire.ReadPrefix(_prefix);
        }
        catch (FormatException e)
        {
            throw new DaemonRpcException(StatusCode.Internal, $"{_method}: malformed message prefix: {e.Message}", e);
        }

        if (compressed)
        {
            var encoding = _response!.Headers.TryGetValues("grpc-encoding", out var values) ? string.Join(",", values) : "none announced";
            throw new DaemonRpcException(StatusCode.Internal, $"{_method}: the server sent a compressed message (grpc-encoding {encoding}); this client accepts only uncompressed messages");
        }

        var max = _channel.Options.MaxReceiveMessageSize;
        if (length > (uint)max)
        {
            throw new DaemonRpcException(StatusCode.ResourceExhausted, $"{_method}: response message of {length} bytes exceeds the limit of {max} bytes");
        }

        var payload = length == 0 ? [] : new byte[length];
        read = await body.ReadAtLeastAsync(payload, payload.Length, throwOnEndOfStream: false, _cancel.Token).ConfigureAwait(false);
        if (read < payload.Length)
        {
            throw new DaemonRpcException(StatusCode.Internal, $"{_method}: the response ends after {read} of the {length} bytes its message prefix announces");
        }

        try
        {
            return _parser.ParseFrom(payload);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new DaemonRpcException(StatusCode.Internal, $"{_method}: a response message does not parse: {e.Message}", e);
        }
    }

    private static bool TryReadStatus(HttpHeaders headers, out StatusCode status, out string detail)
    {
        status = StatusCode.Unknown;
        detail = string.Empty;
        if (!headers.NonValidated.TryGetValues("grpc-status", out var statusValues))
        {
            return false;
        }

        if (headers.NonValidated.TryGetValues("grpc-message", out var messageValues))
        {
            detail = GrpcWire.DecodeMessage(messageValues.ToString());
        }

        var text = statusValues.ToString();
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var code)
            && code is >= (int)StatusCode.OK and <= (int)StatusCode.Unauthenticated)
        {
            status = (StatusCode)code;
        }
        else
        {
            detail = $"unknown grpc-status '{text}'" + (detail.Length > 0 ? ": " + detail : string.Empty);
        }

        return true;
    }

    /// <summary>The gRPC status for an HTTP status other than 200 (doc/http-grpc-status-mapping.md; 501 too).</summary>
    internal static StatusCode FromHttpStatus(int status) => status switch
    {
        400 => StatusCode.Internal,
        401 => StatusCode.Unauthenticated,
        403 => StatusCode.PermissionDenied,
        404 or 501 => StatusCode.Unimplemented,
        429 or 502 or 503 or 504 => StatusCode.Unavailable,
        _ => StatusCode.Unknown,
    };

    /// <summary>The gRPC status for an HTTP/2 RST_STREAM or GOAWAY error code (PROTOCOL-HTTP2.md, "Errors").</summary>
    internal static (StatusCode Status, string Name) FromHttp2Error(long code) => code switch
    {
        0x0 => (StatusCode.Internal, "NO_ERROR"),
        0x1 => (StatusCode.Internal, "PROTOCOL_ERROR"),
        0x2 => (StatusCode.Internal, "INTERNAL_ERROR"),
        0x3 => (StatusCode.Internal, "FLOW_CONTROL_ERROR"),
        0x4 => (StatusCode.Internal, "SETTINGS_TIMEOUT"),
        0x5 => (StatusCode.Internal, "STREAM_CLOSED"),
        0x6 => (StatusCode.Internal, "FRAME_SIZE_ERROR"),
        0x7 => (StatusCode.Unavailable, "REFUSED_STREAM"),
        0x8 => (StatusCode.Cancelled, "CANCEL"),
        0x9 => (StatusCode.Internal, "COMPRESSION_ERROR"),
        0xa => (StatusCode.Internal, "CONNECT_ERROR"),
        0xb => (StatusCode.ResourceExhausted, "ENHANCE_YOUR_CALM"),
        0xc => (StatusCode.PermissionDenied, "INADEQUATE_SECURITY"),
        _ => (StatusCode.Internal, "error 0x" + code.ToString("x", CultureInfo.InvariantCulture)),
    };

    /// <summary>
    /// The status for an exception that ended the call, or null for one that is a bug here (left to propagate).
    /// Cancellation and the deadline come first: whatever the transport threw once they fired is their consequence.
    /// </summary>
    private DaemonRpcException? Translate(Exception e)
    {
        if (e is DaemonRpcException)
        {
            return null;
        }

        if (CallerCancelled)
        {
            return new DaemonRpcException(StatusCode.Cancelled, $"{_method} was cancelled by the caller", e);
        }

        if (_cancel.IsCancellationRequested)
        {
            return new DaemonRpcException(StatusCode.DeadlineExceeded, $"{_method} did not finish within its deadline ({_timeout.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture)} ms)", e);
        }

        if (Find<HttpProtocolException>(e) is { } reset)
        {
            var (status, name) = FromHttp2Error(reset.ErrorCode);
            return new DaemonRpcException(status, $"{_channel.Target} reset {_method} ({name})", e);
        }

        if (_response is null && e is HttpRequestException or OperationCanceledException)
        {
            // Nothing came back: the socket is missing, refuses connections, speaks something else than HTTP/2, or
            // the connection attempt timed out.
            return new DaemonRpcException(StatusCode.Unavailable, $"cannot reach {_channel.Target}: {DescribeConnectFailure(e)}", e);
        }

        if (e is IOException or HttpRequestException)
        {
            return new DaemonRpcException(StatusCode.Unavailable, $"the connection to {_channel.Target} broke during {_method}: {Innermost(e).Message}", e);
        }

        return null;
    }

    private string DescribeConnectFailure(Exception e)
    {
        var socket = Find<SocketException>(e);
        if (_channel.SocketPath is { } path && socket is not null)
        {
            // .NET reports a missing socket file as "Cannot assign requested address"; say what it means.
            if (!File.Exists(path))
            {
                return Directory.Exists(Path.GetDirectoryName(path)) ? "no socket at this path (is the daemon running?)" : "the socket's directory does not exist";
            }

            return socket.SocketErrorCode switch
            {
                SocketError.ConnectionRefused => "nobody is listening on the socket (is the daemon running?)",
                SocketError.AccessDenied => "permission denied (the socket's mode or group does not admit this user)",
                _ => socket.Message,
            };
        }

        return socket?.Message ?? Innermost(e).Message;
    }

    private static T? Find<T>(Exception e)
        where T : Exception
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (x is T found)
            {
                return found;
            }
        }

        return null;
    }

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null)
        {
            e = e.InnerException;
        }

        return e;
    }
}
