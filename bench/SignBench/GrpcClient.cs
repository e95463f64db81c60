using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;

namespace OfflineSigner.SignBench;

/// <summary>
/// The one client both servers are measured with: unary gRPC over one HTTP/2 connection (SocketsHttpHandler), the
/// request as a 5-byte-prefixed protobuf message, the answer's grpc-status read from the trailers.
/// </summary>
internal sealed class GrpcClient(Uri baseAddress, SocketsHttpHandler handler) : IDisposable
{
    private readonly HttpMessageInvoker _http = new(handler);

    /// <summary>A client of a server listening on a Unix socket (offline-signerd).</summary>
    public static GrpcClient ForUnixSocket(string path) => new(new Uri("http://localhost"), new SocketsHttpHandler
    {
        ConnectCallback = async (_, ct) =>
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), ct).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    });

    /// <summary>A client of a TLS server on loopback whose certificate chains to <paramref name="caFile"/> alone (notary-signer).</summary>
    public static GrpcClient ForTls(Uri address, string caFile)
    {
        var ca = X509CertificateLoader.LoadCertificateFromFile(caFile);
        return new GrpcClient(address, new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                {
                    if (certificate is null || (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
                    {
                        return false;
                    }

                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.CustomTrustStore.Add(ca);
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
                    return chain.Build(leaf);
                },
            },
        });
    }

    /// <summary>Calls <paramref name="path"/> (/package.Service/Method) and returns the response message's bytes; a non-OK status throws.</summary>
    public async Task<byte[]> CallAsync(string path, ReadOnlyMemory<byte> framedRequest)
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, new Uri(baseAddress, path))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ReadOnlyMemoryContent(framedRequest),
        };
        message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        message.Headers.TryAddWithoutValidation("te", "trailers");
        using var response = await _http.SendAsync(message, CancellationToken.None).ConfigureAwait(false);
        var body = await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false);

        // A trailers-only answer (an error before any message) carries the status in the headers.
        var status = Header(response, "grpc-status") ?? "missing";
        if (status != "0")
        {
            throw new InvalidOperationException($"{path}: HTTP {(int)response.StatusCode}, grpc-status {status} {Uri.UnescapeDataString(Header(response, "grpc-message") ?? string.Empty)}");
        }

        if (body.Length < 5 || body[0] != 0 || BinaryPrimitives.ReadUInt32BigEndian(body.AsSpan(1)) != body.Length - 5)
        {
            throw new InvalidOperationException($"{path}: the response is not one uncompressed gRPC message ({body.Length} bytes)");
        }

        return body[5..];
    }

    /// <summary>Calls <paramref name="path"/> and returns only its grpc-status (for calls that must be refused).</summary>
    public async Task<int> CallStatusAsync(string path, ReadOnlyMemory<byte> framedRequest)
    {
        try
        {
            _ = await CallAsync(path, framedRequest).ConfigureAwait(false);
            return 0;
        }
        catch (InvalidOperationException e) when (e.Message.Contains(", grpc-status ", StringComparison.Ordinal))
        {
            var rest = e.Message[(e.Message.IndexOf(", grpc-status ", StringComparison.Ordinal) + 14)..];
            return int.Parse(rest.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    /// <summary>A message as a gRPC frame: compressed flag 0, big-endian length, the protobuf bytes.</summary>
    public static byte[] Frame(IMessage message)
    {
        var payload = message.ToByteArray();
        var framed = new byte[5 + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(framed.AsSpan(1), (uint)payload.Length);
        payload.CopyTo(framed, 5);
        return framed;
    }

    public void Dispose() => _http.Dispose();

    private static string? Header(HttpResponseMessage response, string name) =>
        response.TrailingHeaders.TryGetValues(name, out var trailer) ? trailer.First()
        : response.Headers.TryGetValues(name, out var header) ? header.First()
        : null;
}
