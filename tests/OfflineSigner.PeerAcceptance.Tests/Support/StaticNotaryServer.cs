using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace OfflineSigner.PeerAcceptance.Tests.Support;

/// <summary>
/// Serves fixed trust files under notary's read API (<c>GET /v2/</c> and <c>GET /v2/GUN/_trust/tuf/FILE</c>) on
/// 127.0.0.1, with no validation and no keys: what a compromised or broken server could send. It lets a test put
/// metadata the real notary-server would refuse in front of the real notary client, to see the client refuse it too.
/// </summary>
internal sealed class StaticNotaryServer : IDisposable
{
    private readonly HttpListener listener;
    private readonly Task loop;
    private readonly string prefix;

    public StaticNotaryServer(string gun)
    {
        Exception? last = null;
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var port = FreePort();
            var candidate = new HttpListener();
            candidate.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                candidate.Start();
                listener = candidate;
                Url = $"http://127.0.0.1:{port}";
                prefix = $"/v2/{gun}/_trust/tuf/";
                loop = Task.Run(ServeAsync);
                return;
            }
            catch (HttpListenerException e)
            {
                last = e;
                candidate.Close();
            }
        }

        throw new InvalidOperationException("cannot listen on 127.0.0.1", last);
    }

    /// <summary>The base URL to give <c>notary -s</c>.</summary>
    public string Url { get; }

    /// <summary>The files served, by name (root.json, 2.root.json, targets.json, targets/releases.json...).</summary>
    public ConcurrentDictionary<string, byte[]> Files { get; } = new(StringComparer.Ordinal);

    /// <summary>Every request as "STATUS PATH".</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    public void Dispose()
    {
        listener.Close();
        try
        {
            loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // The loop ends with the listener's disposal.
        }
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private async Task ServeAsync()
    {
        while (listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using var response = context.Response;
            var path = context.Request.Url!.AbsolutePath;
            byte[]? body = null;
            if (context.Request.HttpMethod == "GET" && path == "/v2/")
            {
                body = "{}"u8.ToArray();
            }
            else if (context.Request.HttpMethod == "GET" && path.StartsWith(prefix, StringComparison.Ordinal))
            {
                Files.TryGetValue(path[prefix.Length..], out body);
            }

            response.StatusCode = body is null ? 404 : 200;
            Requests.Enqueue($"{response.StatusCode} {path}");
            body ??= Encoding.UTF8.GetBytes("""{"errors":[{"code":"METADATA_NOT_FOUND","message":"You have requested metadata that does not exist.","detail":null}]}""");
            response.ContentType = "application/json";
            response.ContentLength64 = body.Length;
            await response.OutputStream.WriteAsync(body);
        }
    }
}
