using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using OfflineSigner.Tests.Shared;

namespace OfflineSigner.Interop.Tests.Fixtures;

/// <summary>
/// A real notary-server (Debian package notary 0.7) on 127.0.0.1 with a free port, plain HTTP, the local trust
/// service (its timestamp and snapshot keys in memory) and memory storage: every instance starts empty and
/// forgets everything when stopped. Started by <see cref="Start"/>, stopped by PID on <see cref="Dispose"/>.
/// </summary>
/// <remarks>
/// notary-server 0.7 takes its configuration as a JSON file (<c>-config FILE</c>); the log level is the
/// configuration's <c>logging.level</c>. With no <c>server.tls_*</c> settings it serves plain HTTP, and with no
/// <c>auth</c> section it asks for no token. The local trust service only makes ED25519 keys, whatever
/// <c>key_algorithm</c> says (it logs so at start).
/// </remarks>
internal sealed class NotaryServer : IDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private readonly Process process;
    private readonly StringBuilder log = new();
    private readonly TempDir dir;

    private NotaryServer(Process process, TempDir dir, int port)
    {
        this.process = process;
        this.dir = dir;
        Port = port;
        Url = $"http://127.0.0.1:{port}";
    }

    /// <summary>The server's base URL, e.g. http://127.0.0.1:41234 (what <c>notary -s</c> takes).</summary>
    public string Url { get; }

    public int Port { get; }

    public int Pid => process.Id;

    /// <summary>What the server has logged so far (JSON lines), for failure messages.</summary>
    public string Log
    {
        get
        {
            lock (log)
            {
                return log.ToString();
            }
        }
    }

    /// <summary>Starts a server and waits until /_notary_server/health answers 200; skips the test when notary-server is absent.</summary>
    public static NotaryServer Start()
    {
        var exe = TestEnvironment.RequireTool("notary-server", "Debian package notary");
        Exception? last = null;

        // The port is picked free and then handed over, so another process may take it in between: retry.
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var port = FreePort();
            var dir = TestEnvironment.CreateTempDir("notary-server");
            var config = Path.Combine(dir.Path, "server.json");
            File.WriteAllText(config, $$"""
                {
                  "server": { "http_addr": "127.0.0.1:{{port}}" },
                  "trust_service": { "type": "local" },
                  "storage": { "backend": "memory" },
                  "logging": { "level": "info" }
                }
                """);
            var psi = new ProcessStartInfo(exe)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                WorkingDirectory = dir.Path,
            };
            psi.ArgumentList.Add("-config");
            psi.ArgumentList.Add(config);
            var process = Process.Start(psi) ?? throw new PeerToolException("cannot start notary-server");
            var server = new NotaryServer(process, dir, port);
            process.OutputDataReceived += (_, e) => server.Append(e.Data);
            process.ErrorDataReceived += (_, e) => server.Append(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            try
            {
                server.WaitHealthy(TimeSpan.FromSeconds(30));
                return server;
            }
            catch (PeerToolException e)
            {
                last = e;
                server.Dispose();
            }
        }

        throw new PeerToolException("notary-server did not become healthy", last!);
    }

    /// <summary>The URL of a trust file of a repository: <c>/v2/GUN/_trust/tuf/FILE</c> (root.json, 2.root.json, timestamp.key...).</summary>
    public Uri TrustUri(string gun, string file) => new($"{Url}/v2/{gun}/_trust/tuf/{file}");

    /// <summary>GETs a trust file; null on 404, an exception naming the status otherwise.</summary>
    public byte[]? TryGetTrustFile(string gun, string file)
    {
        using var response = Http.GetAsync(TrustUri(gun, file)).GetAwaiter().GetResult();
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        var body = response.Content.ReadAsByteArrayAsync().GetAwaiter().GetResult();
        if (!response.IsSuccessStatusCode)
        {
            throw new PeerToolException($"GET {TrustUri(gun, file)}: {(int)response.StatusCode} {Encoding.UTF8.GetString(body)}");
        }

        return body;
    }

    /// <summary>GETs a trust file that must exist.</summary>
    public byte[] GetTrustFile(string gun, string file) =>
        TryGetTrustFile(gun, file) ?? throw new PeerToolException($"GET {TrustUri(gun, file)}: 404 (server log:\n{Log})");

    /// <summary>
    /// Saves what the server publishes for a repository into <paramref name="destination"/>: root.json, targets.json,
    /// snapshot.json, timestamp.json, every N.root.json from 1 to the current version, and the delegated roles
    /// named (e.g. "targets/releases" is saved as targets/releases.json). Returns the saved paths.
    /// </summary>
    public IReadOnlyList<string> SaveTrustData(string gun, string destination, params string[] delegatedRoles)
    {
        Directory.CreateDirectory(destination);
        var saved = new List<string>();
        void Save(string file, byte[] bytes)
        {
            var path = Path.Combine(destination, file.Replace('/', Path.DirectorySeparatorChar));
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, bytes);
            saved.Add(path);
        }

        foreach (var role in new[] { "root", "targets", "snapshot", "timestamp" }.Concat(delegatedRoles))
        {
            Save(role + ".json", GetTrustFile(gun, role + ".json"));
        }

        for (var version = 1; ; version++)
        {
            var bytes = TryGetTrustFile(gun, $"{version}.root.json");
            if (bytes is null)
            {
                break;
            }

            Save($"{version}.root.json", bytes);
        }

        return saved;
    }

    public void Dispose()
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill();
                process.WaitForExit(TimeSpan.FromSeconds(10));
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        process.Dispose();
        dir.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (log)
        {
            log.AppendLine(line);
        }
    }

    private void WaitHealthy(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var health = new Uri(Url + "/_notary_server/health");
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new PeerToolException($"notary-server exited with {process.ExitCode} at start:\n{Log}");
            }

            try
            {
                using var response = Http.GetAsync(health).GetAwaiter().GetResult();
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            Thread.Sleep(100);
        }

        throw new PeerToolException($"notary-server did not answer {health} within {timeout}:\n{Log}");
    }
}
