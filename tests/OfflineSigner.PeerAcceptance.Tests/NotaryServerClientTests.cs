using System.Net;
using System.Text;
using OfflineSigner.Cli.Repositories;
using OfflineSigner.Tuf;
using Xunit;

namespace OfflineSigner.PeerAcceptance.Tests;

/// <summary>
/// <see cref="NotaryServerClient"/> against a recorded handler: the requests it makes (URLs, the multipart publish)
/// and the errors it raises. The peer tests show a real notary-server accepts the same requests.
/// </summary>
public class NotaryServerClientTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Publish_sends_one_multipart_request_with_a_files_part_per_role_named_by_the_role()
    {
        var handler = new RecordingHandler(_ => new HttpResponseMessage(HttpStatusCode.OK));
        using var http = new HttpClient(handler);
        using var client = new NotaryServerClient(new Uri("http://127.0.0.1:4443"), "example.com/org/app", http);

        await client.PublishAsync([("root", "{\"r\":1}"u8.ToArray()), ("targets/releases", "{\"d\":2}"u8.ToArray())], Cancel);

        var request = Assert.Single(handler.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("http://127.0.0.1:4443/v2/example.com/org/app/_trust/tuf/", request.Uri);
        Assert.StartsWith("multipart/form-data", request.ContentType, StringComparison.Ordinal);
        Assert.Contains("Content-Disposition: form-data; name=\"files\"; filename=\"root\"\r\n", request.Body, StringComparison.Ordinal);
        Assert.Contains("Content-Disposition: form-data; name=\"files\"; filename=\"targets/releases\"\r\n", request.Body, StringComparison.Ordinal);
        Assert.DoesNotContain("filename*", request.Body, StringComparison.Ordinal);
        Assert.Contains("{\"r\":1}", request.Body, StringComparison.Ordinal);
        Assert.Contains("{\"d\":2}", request.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_refused_publish_names_the_url_the_status_and_the_servers_reason()
    {
        const string body = """{"errors":[{"code":"INVALID_UPDATE","message":"Update sent by the client is invalid.","detail":{"Error":{"Msg":"bad root"},"Name":"ErrBadRoot"}}]}""";
        var handler = new RecordingHandler(_ => new HttpResponseMessage(HttpStatusCode.BadRequest) { Content = new StringContent(body) });
        using var http = new HttpClient(handler);
        using var client = new NotaryServerClient(new Uri("http://127.0.0.1:4443/"), "example.com/org/app", http);

        var e = await Assert.ThrowsAsync<NotaryServerException>(() => client.PublishAsync([("root", "{}"u8.ToArray())], Cancel));

        Assert.Equal(HttpStatusCode.BadRequest, e.StatusCode);
        Assert.StartsWith("POST http://127.0.0.1:4443/v2/example.com/org/app/_trust/tuf/: 400 BadRequest: INVALID_UPDATE: Update sent by the client is invalid.: ", e.Message, StringComparison.Ordinal);
        Assert.Contains("bad root", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Gets_return_null_on_404_and_throw_with_the_status_otherwise()
    {
        var handler = new RecordingHandler(r => r.RequestUri!.AbsolutePath.EndsWith("/2.root.json", StringComparison.Ordinal)
            ? new HttpResponseMessage(HttpStatusCode.NotFound)
            : r.RequestUri.AbsolutePath.EndsWith("/1.root.json", StringComparison.Ordinal)
                ? new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent("one"u8.ToArray()) }
                : new HttpResponseMessage(HttpStatusCode.InternalServerError) { Content = new StringContent("storage down") });
        using var http = new HttpClient(handler);
        using var client = new NotaryServerClient(new Uri("http://127.0.0.1:4443"), "example.com/org/app", http);

        var chain = await client.GetRootChainAsync(cancellationToken: Cancel);
        var e = await Assert.ThrowsAsync<NotaryServerException>(() => client.GetRoleAsync("targets/releases", Cancel));

        Assert.Equal(["one"], chain.Select(b => Encoding.UTF8.GetString(b)));
        Assert.Equal(HttpStatusCode.InternalServerError, e.StatusCode);
        Assert.Equal("GET http://127.0.0.1:4443/v2/example.com/org/app/_trust/tuf/targets/releases.json: 500 InternalServerError: storage down", e.Message);
    }

    [Fact]
    public async Task The_server_key_is_read_as_a_notary_key_object_and_garbage_is_refused()
    {
        const string key = """{"keytype":"ed25519","keyval":{"private":null,"public":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="}}""";
        var answer = key;
        var handler = new RecordingHandler(_ => new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(answer) });
        using var http = new HttpClient(handler);
        using var client = new NotaryServerClient(new Uri("http://127.0.0.1:4443"), "example.com/org/app", http);

        var parsed = await client.GetServerKeyAsync("timestamp", Cancel);
        answer = "[1]";
        var e = await Assert.ThrowsAsync<NotaryServerException>(() => client.GetServerKeyAsync("snapshot", Cancel));

        Assert.Equal("ed25519", parsed.KeyType);
        Assert.Equal(Dialect.Notary, parsed.Dialect);
        Assert.True(parsed.KeyIdMatches);
        Assert.Equal("http://127.0.0.1:4443/v2/example.com/org/app/_trust/tuf/timestamp.key", handler.Requests[0].Uri);
        Assert.Contains("snapshot.key: the server's answer is not a usable key object", e.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentException>(() => client.GetServerKeyAsync("targets", Cancel));
    }

    [Theory]
    [InlineData("")]
    [InlineData("/abs")]
    [InlineData("a/../b")]
    [InlineData("a//b")]
    [InlineData("a b")]
    [InlineData("a?b")]
    public void Names_that_would_not_make_a_sound_url_are_refused(string gun)
    {
        Assert.ThrowsAny<ArgumentException>(() => new NotaryServerClient(new Uri("http://127.0.0.1:4443"), gun));
    }

    [Theory]
    [InlineData("targets/")]
    [InlineData("releases")]
    [InlineData("targets/../root")]
    [InlineData("root\"")]
    public async Task Roles_that_are_not_notary_roles_are_refused_before_any_request(string role)
    {
        var handler = new RecordingHandler(_ => new HttpResponseMessage(HttpStatusCode.OK));
        using var http = new HttpClient(handler);
        using var client = new NotaryServerClient(new Uri("http://127.0.0.1:4443"), "example.com/org/app", http);

        await Assert.ThrowsAnyAsync<ArgumentException>(() => client.PublishAsync([(role, "{}"u8.ToArray())], Cancel));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => client.TryGetRoleAsync(role, Cancel));
        Assert.Empty(handler.Requests);
    }

    private sealed record RecordedRequest(string Method, string Uri, string? ContentType, string Body);

    private sealed class RecordingHandler(Func<HttpRequestMessage, HttpResponseMessage> respond) : HttpMessageHandler
    {
        public List<RecordedRequest> Requests { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var body = request.Content is null ? string.Empty : await request.Content.ReadAsStringAsync(cancellationToken);
            Requests.Add(new RecordedRequest(request.Method.Method, request.RequestUri!.ToString(), request.Content?.Headers.ContentType?.ToString(), body));
            return respond(request);
        }
    }
}
