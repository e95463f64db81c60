using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;

namespace OfflineSigner.Grpc.Tests.Support;

/// <summary>What came back for a hand-made request.</summary>
internal sealed record RawResponse(int HttpStatus, string? GrpcStatus, string? GrpcMessage, byte[] Body)
{
    public override string ToString() => $"HTTP {HttpStatus}, grpc-status {GrpcStatus ?? "(none)"}, grpc-message {GrpcMessage ?? "(none)"}, {Body.Length} body bytes";
}

/// <summary>
/// HTTP/2 (prior knowledge) over the daemon's Unix socket with bodies written byte by byte by the test: frames no
/// well-behaved gRPC client would send. Uses .NET's HTTP/2 client, not the project's gRPC client.
/// </summary>
internal sealed class RawGrpc : IDisposable
{
    private readonly HttpClient _client;

    public RawGrpc(string socketPath, bool multipleConnections = false)
    {
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = multipleConnections,
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        _client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(60) };
    }

    /// <summary>A 5-byte-prefixed message.</summary>
    public static byte[] Frame(ReadOnlySpan<byte> payload, byte flag = 0, uint? announcedLength = null)
    {
        var frame = new byte[5 + payload.Length];
        frame[0] = flag;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), announcedLength ?? (uint)payload.Length);
        payload.CopyTo(frame.AsSpan(5));
        return frame;
    }

    public async Task<RawResponse> PostAsync(string path, byte[] body, IReadOnlyDictionary<string, string>? headers = null, string contentType = "application/grpc", CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "http://localhost" + path)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        request.Headers.TryAddWithoutValidation("te", "trailers");
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        string? Header(string name) =>
            response.TrailingHeaders.TryGetValues(name, out var t) ? t.First()
            : response.Headers.TryGetValues(name, out var h) ? h.First()
            : null;
        return new RawResponse((int)response.StatusCode, Header("grpc-status"), Header("grpc-message"), bytes);
    }

    public void Dispose() => _client.Dispose();
}
