// A thin client of the Notary v1 server's trust API (notary server/server.go routes under /v2/<gun>/_trust/tuf/).
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Json;

namespace OfflineSigner.Cli.Repositories;

/// <summary>
/// Reads and publishes one repository (GUN) on a Notary server: the current role files, any root version (to walk
/// the chain), the public keys of the roles the server holds (timestamp, and snapshot when the server manages it),
/// and an atomic multipart publish of several roles at once.
/// </summary>
/// <remarks>
/// The server answers errors as <c>{"errors":[{"code","message","detail"}]}</c>; every error raised here names the
/// URL, the HTTP status and what the server said, so an operator can tell a refused publish from a broken network.
/// </remarks>
internal sealed partial class NotaryServerClient : IDisposable
{
    /// <summary>Largest response read, whatever the server claims: above every python-tuf default size cap.</summary>
    public const long DefaultMaxResponseBytes = 16L * 1024 * 1024;

    private readonly HttpClient http;
    private readonly bool ownsHttp;
    private readonly Uri trustBase;

    /// <summary>A client of <paramref name="server"/> (for example http://127.0.0.1:4443) for the repository <paramref name="gun"/>.</summary>
    /// <param name="server">The server's base URL.</param>
    /// <param name="gun">The repository's globally unique name, for example <c>docker.io/library/app</c>.</param>
    /// <param name="httpClient">An HttpClient to use (not disposed here); a new one when null.</param>
    public NotaryServerClient(Uri server, string gun, HttpClient? httpClient = null)
    {
        ArgumentNullException.ThrowIfNull(server);
        if (!server.IsAbsoluteUri || (server.Scheme != Uri.UriSchemeHttp && server.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException($"the Notary server URL must be an absolute http or https URL, not \"{server}\"", nameof(server));
        }

        Gun = CheckGun(gun);
        ServerUrl = server;
        var path = server.AbsolutePath.TrimEnd('/') + "/v2/" + string.Join('/', Gun.Split('/').Select(Uri.EscapeDataString)) + "/_trust/tuf/";
        trustBase = new UriBuilder(server) { Path = path, Query = string.Empty, Fragment = string.Empty }.Uri;
        ownsHttp = httpClient is null;
        http = httpClient ?? new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
    }

    /// <summary>The server's base URL.</summary>
    public Uri ServerUrl { get; }

    /// <summary>The repository's name.</summary>
    public string Gun { get; }

    /// <summary>Responses larger than this are refused.</summary>
    public long MaxResponseBytes { get; init; } = DefaultMaxResponseBytes;

    /// <summary>The URL of a trust file of this repository, for example <c>root.json</c> or <c>timestamp.key</c>.</summary>
    public Uri TrustFileUri(string file) => new(trustBase, string.Join('/', file.Split('/').Select(Uri.EscapeDataString)));

    /// <summary>The current version of a role (<c>root</c>, <c>targets</c>, <c>targets/NAME</c>, <c>snapshot</c>, <c>timestamp</c>), or null when the server has none.</summary>
    /// <exception cref="NotaryServerException">the server answered anything but 200 or 404, or could not be reached.</exception>
    public Task<byte[]?> TryGetRoleAsync(string role, CancellationToken cancellationToken = default) =>
        TryGetAsync(CheckRole(role) + ".json", cancellationToken);

    /// <summary>The current version of a role, which must exist.</summary>
    /// <exception cref="NotaryServerException">the server has no such role, refused, or could not be reached.</exception>
    public async Task<byte[]> GetRoleAsync(string role, CancellationToken cancellationToken = default) =>
        await TryGetRoleAsync(role, cancellationToken).ConfigureAwait(false)
        ?? throw NotFound(CheckRole(role) + ".json");

    /// <summary>Root version <paramref name="version"/> (<c>N.root.json</c>), or null when the server has no such version.</summary>
    /// <exception cref="NotaryServerException">the server answered anything but 200 or 404, or could not be reached.</exception>
    public Task<byte[]?> TryGetRootVersionAsync(long version, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(version, 1);
        return TryGetAsync(version.ToString(System.Globalization.CultureInfo.InvariantCulture) + ".root.json", cancellationToken);
    }

    /// <summary>
    /// Every root version the server has, from <paramref name="from"/> up to the first missing version, oldest first:
    /// what a client walks from the root it trusts.
    /// </summary>
    public async Task<IReadOnlyList<byte[]>> GetRootChainAsync(long from = 1, CancellationToken cancellationToken = default)
    {
        var roots = new List<byte[]>();
        for (var version = from; ; version++)
        {
            var bytes = await TryGetRootVersionAsync(version, cancellationToken).ConfigureAwait(false);
            if (bytes is null)
            {
                return roots;
            }

            roots.Add(bytes);
        }
    }

    /// <summary>
    /// The public key the server holds for <paramref name="role"/> (<c>timestamp</c> or <c>snapshot</c>), as a key object in
    /// notary's dialect. The server makes the key on the first request, so a new repository's root can list it.
    /// </summary>
    /// <exception cref="NotaryServerException">the server refused, or its answer is not a usable key object.</exception>
    public async Task<Key> GetServerKeyAsync(string role, CancellationToken cancellationToken = default)
    {
        if (role is not "timestamp" and not "snapshot")
        {
            throw new ArgumentException($"the server holds keys for timestamp and snapshot only, not \"{role}\"", nameof(role));
        }

        var file = role + ".key";
        var bytes = await TryGetAsync(file, cancellationToken).ConfigureAwait(false) ?? throw NotFound(file);
        try
        {
            if (JsonParser.Parse(bytes) is not JsonObject json)
            {
                throw new MetadataFormatException("$", "not a JSON object");
            }

            return Key.FromJson(json, Dialect.Notary);
        }
        catch (MetadataException e)
        {
            throw new NotaryServerException($"GET {TrustFileUri(file)}: the server's answer is not a usable key object: {e.Message}", e);
        }
    }

    /// <summary>
    /// Publishes several roles in one request (multipart/form-data, one part named "files" per role, its filename the
    /// role's name): the server applies all of them or none. The first publish of a repository must include root.
    /// </summary>
    /// <param name="files">Each role's name (<c>root</c>, <c>targets</c>, <c>targets/NAME</c>, <c>snapshot</c>, <c>timestamp</c>) and its bytes.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <exception cref="NotaryServerException">the server refused the update (the message carries its reason) or could not be reached.</exception>
    public async Task PublishAsync(IReadOnlyList<(string Role, byte[] Bytes)> files, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(files);
        if (files.Count == 0)
        {
            throw new ArgumentException("nothing to publish", nameof(files));
        }

        var roles = new HashSet<string>(StringComparer.Ordinal);
        using var content = new MultipartFormDataContent("offline-signer-" + Guid.NewGuid().ToString("N"));
        foreach (var (role, bytes) in files)
        {
            if (!roles.Add(CheckRole(role)))
            {
                throw new ArgumentException($"role {role} is given twice", nameof(files));
            }

            ArgumentNullException.ThrowIfNull(bytes);
            var part = new ByteArrayContent(bytes);
            part.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");

            // Written by hand: role names are plain ASCII (checked above), and notary reads the filename verbatim.
            part.Headers.ContentDisposition = new ContentDispositionHeaderValue("form-data") { Name = "\"files\"", FileName = "\"" + role + "\"" };
            content.Add(part);
        }

        var uri = trustBase;
        HttpResponseMessage response;
        try
        {
            response = await http.PostAsync(uri, content, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new NotaryServerException($"POST {uri}: {e.Message}", e);
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new NotaryServerException($"POST {uri}: no answer within {http.Timeout}", e);
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                var body = await ReadLimitedAsync(response, "POST " + uri, cancellationToken).ConfigureAwait(false);
                throw Refused("POST", uri, response.StatusCode, body);
            }
        }
    }

    public void Dispose()
    {
        if (ownsHttp)
        {
            http.Dispose();
        }
    }

    /// <summary>What the server said in an error body: the messages and details of its <c>errors</c> list, or the text itself.</summary>
    internal static string ServerMessage(byte[] body)
    {
        if (body.Length == 0)
        {
            return "(no message)";
        }

        try
        {
            if (JsonParser.Parse(body) is JsonObject o && o.TryGetValue("errors", out var errors) && errors is JsonArray list && list.Count > 0)
            {
                var parts = new List<string>();
                foreach (var e in list)
                {
                    if (e is not JsonObject error)
                    {
                        continue;
                    }

                    var code = error.TryGetValue("code", out var c) && c is JsonString cs ? cs.Value : null;
                    var message = error.TryGetValue("message", out var m) && m is JsonString ms ? ms.Value : null;
                    var detail = error.TryGetValue("detail", out var d) && d is not JsonNull
                        ? d is JsonString ds ? ds.Value : Encoding.UTF8.GetString(JsonText.Serialize(d))
                        : null;
                    parts.Add(string.Join(": ", new[] { code, message, detail }.Where(s => !string.IsNullOrEmpty(s))));
                }

                if (parts.Count > 0)
                {
                    // One line: the server's details may carry line breaks.
                    return WhiteSpace().Replace(string.Join("; ", parts), " ");
                }
            }
        }
        catch (JsonFormatException)
        {
            // Not JSON: the text as it came.
        }

        var text = Encoding.UTF8.GetString(body).Trim();
        return text.Length > 500 ? text[..500] + "..." : text;
    }

    private static string CheckGun(string gun)
    {
        ArgumentException.ThrowIfNullOrEmpty(gun);
        if (!GunPattern().IsMatch(gun) || gun.Split('/').Any(s => s is "." or ".."))
        {
            throw new ArgumentException($"\"{gun}\" is not a repository name notary accepts (letters, digits, . _ - and / between non-empty parts)", nameof(gun));
        }

        return gun;
    }

    private static string CheckRole(string role)
    {
        ArgumentException.ThrowIfNullOrEmpty(role);
        if (role is not ("root" or "targets" or "snapshot" or "timestamp")
            && (!DelegationPattern().IsMatch(role) || role.Split('/').Any(s => s is "." or "..")))
        {
            throw new ArgumentException($"\"{role}\" is not a notary role (root, targets, snapshot, timestamp or targets/NAME)", nameof(role));
        }

        return role;
    }

    private static NotaryServerException Refused(string method, Uri uri, HttpStatusCode status, byte[] body) =>
        new($"{method} {uri}: {(int)status} {status}: {ServerMessage(body)}", status);

    private NotaryServerException NotFound(string file) =>
        new($"GET {TrustFileUri(file)}: 404 NotFound: the server has no {file} for {Gun}", HttpStatusCode.NotFound);

    private async Task<byte[]?> TryGetAsync(string file, CancellationToken cancellationToken)
    {
        var uri = TrustFileUri(file);
        HttpResponseMessage response;
        try
        {
            response = await http.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new NotaryServerException($"GET {uri}: {e.Message}", e);
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new NotaryServerException($"GET {uri}: no answer within {http.Timeout}", e);
        }

        using (response)
        {
            var body = await ReadLimitedAsync(response, "GET " + uri, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                return null;
            }

            if (!response.IsSuccessStatusCode)
            {
                throw Refused("GET", uri, response.StatusCode, body);
            }

            return body;
        }
    }

    private async Task<byte[]> ReadLimitedAsync(HttpResponseMessage response, string request, CancellationToken cancellationToken)
    {
        if (response.Content.Headers.ContentLength is long declared && declared > MaxResponseBytes)
        {
            throw new NotaryServerException($"{request}: the answer of {declared} bytes is larger than the limit of {MaxResponseBytes}", response.StatusCode);
        }

        using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > MaxResponseBytes)
            {
                throw new NotaryServerException($"{request}: the answer is larger than the limit of {MaxResponseBytes} bytes", response.StatusCode);
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    // Notary's GUN rule is loose; this is the safe subset that also makes a sound URL path.
    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]*(?::[0-9]+)?(?:/[A-Za-z0-9._-]+)*$")]
    private static partial Regex GunPattern();

    [GeneratedRegex("\\s+")]
    private static partial Regex WhiteSpace();

    [GeneratedRegex("^targets(?:/[A-Za-z0-9._-]+)+$")]
    private static partial Regex DelegationPattern();
}

/// <summary>A Notary server refused a request or could not be reached; the message names the URL, the status and the server's reason.</summary>
public sealed class NotaryServerException : OfflineSignerException
{
    public NotaryServerException()
    {
    }

    public NotaryServerException(string message)
        : base(message)
    {
    }

    public NotaryServerException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public NotaryServerException(string message, HttpStatusCode? status)
        : base(message) => StatusCode = status;

    /// <summary>The HTTP status the server answered, or null when there was no answer.</summary>
    public HttpStatusCode? StatusCode { get; }
}
