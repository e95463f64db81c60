using Google.Protobuf;
using OfflineSigner.Audit;
using OfflineSigner.Daemon.Configuration;
using OfflineSigner.Daemon.Grpc;
using OfflineSigner.Protocol.Grpc;
using OfflineSigner.Daemon.Services;
using OfflineSigner.Daemon.Tests.Support;
using OfflineSigner.Protocol.V1;
using OfflineSigner.Tests.Shared;
using OfflineSigner.Tuf;
using Xunit;
using TufDialect = OfflineSigner.Tuf.Dialect;

namespace OfflineSigner.Daemon.Tests;

/// <summary>SigningService over a PKCS#11 backend that keeps its login: every request's PIN is still checked and audited.</summary>
public sealed class KeptLoginTests
{
    private static readonly TufDialect Spec = TufDialect.TufSpecification;
    private readonly SoftHsm _hsm;

    public KeptLoginTests(SoftHsm hsm)
    {
        _hsm = hsm;
    }

    [Fact]
    public void A_wrong_pin_against_the_kept_login_is_unauthenticated_audited_as_login_failed_and_leaves_the_login_alone()
    {
        using var daemon = new DaemonHarness(_hsm);
        var (request, preview) = Prepare(daemon);
        var first = daemon.Sign(request, preview.SignedSha256.Span);
        var kept = daemon.Pkcs11.KeptToken;
        Assert.NotNull(kept);
        Assert.True(kept.Connected);
        var epoch = kept.Epoch;

        for (var i = 0; i < 3; i++)
        {
            var wrongPin = "98765"u8.ToArray();
            var sign = new SignRequest { Request = request, ExpectedSha256 = preview.SignedSha256, Pin = ByteString.CopyFrom(wrongPin) };
            var e = Assert.Throws<RpcException>(() => daemon.Signing.Sign(sign, DaemonHarness.Context("/offlinesigner.v1.SigningService/Sign")));
            Assert.Equal(StatusCode.Unauthenticated, e.Status);
            Assert.Contains("is not the PIN the token is logged in with", e.Message, StringComparison.Ordinal);
            Assert.All(sign.Pin.ToByteArray(), b => Assert.Equal(0, b));
        }

        var failed = daemon.Audit.Events.Where(a => a.Kind == AuditEventKind.LoginFailed).ToList();
        Assert.Equal(3, failed.Count);
        Assert.All(failed, f => Assert.Equal(request.KeyUri, f.KeyUri));
        Assert.All(failed, f => Assert.Equal(4242u, f.CallerUid));
        Assert.DoesNotContain(failed, f => f.ToString()!.Contains("98765", StringComparison.Ordinal));
        Assert.Equal(1, daemon.Audit.Events.Count(a => a.Kind == AuditEventKind.Signed));

        // The kept login is the same connection, and the right PIN signs on it.
        Assert.True(kept.Connected);
        Assert.Equal(epoch, kept.Epoch);
        Assert.Equal(3, kept.PinMismatches);
        var second = daemon.Sign(request, preview.SignedSha256.Span);
        Assert.Equal(first.KeyId, second.KeyId);
        Assert.True(Verifies(daemon, request, second));
        Assert.Equal(epoch, kept.Epoch);
        Assert.Equal(2, daemon.Audit.Events.Count(a => a.Kind == AuditEventKind.Signed));
    }

    [Fact]
    public void A_request_without_a_pin_is_refused_when_no_pin_source_is_configured_even_with_a_kept_login()
    {
        using var daemon = new DaemonHarness(_hsm);
        var (request, preview) = Prepare(daemon);
        _ = daemon.Sign(request, preview.SignedSha256.Span);
        var sign = new SignRequest { Request = request, ExpectedSha256 = preview.SignedSha256 };
        var e = Assert.Throws<RpcException>(() => daemon.Signing.Sign(sign, DaemonHarness.Context("/offlinesigner.v1.SigningService/Sign")));
        Assert.Equal(StatusCode.Unauthenticated, e.Status);
        Assert.Contains("no PIN source is configured", e.Message, StringComparison.Ordinal);
        Assert.Single(daemon.Audit.Events, a => a.Kind == AuditEventKind.LoginFailed);
    }

    [Fact]
    public void Concurrent_signs_through_the_kept_login_all_verify()
    {
        using var daemon = new DaemonHarness(_hsm);
        var (request, preview) = Prepare(daemon);
        var responses = new System.Collections.Concurrent.ConcurrentBag<SignResponse>();
        Parallel.For(0, 40, new ParallelOptions { MaxDegreeOfParallelism = 8 }, _ => responses.Add(daemon.Sign(request, preview.SignedSha256.Span)));
        Assert.Equal(40, responses.Count);
        Assert.All(responses, r => Assert.True(Verifies(daemon, request, r)));
        Assert.Equal(40, daemon.Audit.Events.Count(a => a.Kind == AuditEventKind.Signed));
    }

    [Fact]
    public void With_login_idle_seconds_zero_each_call_logs_in_for_itself()
    {
        using var daemon = new DaemonHarness(_hsm, login: Pkcs11LoginOptions.PerCall);
        var (request, preview) = Prepare(daemon);
        var signed = daemon.Sign(request, preview.SignedSha256.Span);
        Assert.True(Verifies(daemon, request, signed));
        Assert.Null(daemon.Pkcs11.KeptToken);

        // Without a kept login the wrong PIN goes to the token, which refuses it.
        var sign = new SignRequest { Request = request, ExpectedSha256 = preview.SignedSha256, Pin = ByteString.CopyFrom("98765"u8) };
        var e = Assert.Throws<RpcException>(() => daemon.Signing.Sign(sign, DaemonHarness.Context("/offlinesigner.v1.SigningService/Sign")));
        Assert.Equal(StatusCode.Unauthenticated, e.Status);
        Assert.Contains("the token rejected the PIN", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_pkcs11_section_configures_the_idle_timeout_and_the_sessions()
    {
        using var dir = TestEnvironment.CreateTempDir("pkcs11-config");
        var path = Path.Combine(dir.Path, "daemon.json");
        string Config(string section) => $$"""
            {{{section}}"backends":[{"name":"hsm","type":"pkcs11","module":"{{SoftHsm.ModulePath}}","token":{"label":"t"},
              "keys":[{"name":"k","uri":"pkcs11:token=t;id=%01"}]}]}
            """;
        File.WriteAllText(path, Config("\"pkcs11\":{\"loginIdleSeconds\":45,\"sessions\":3},"));
        var options = DaemonConfiguration.Load(path).Pkcs11!.ToLoginOptions();
        Assert.Equal(TimeSpan.FromSeconds(45), options.IdleTimeout);
        Assert.Equal(3, options.Sessions);

        File.WriteAllText(path, Config("\"pkcs11\":{\"loginIdleSeconds\":0},"));
        Assert.False(DaemonConfiguration.Load(path).Pkcs11!.ToLoginOptions().Keeps);

        File.WriteAllText(path, Config(string.Empty));
        Assert.Null(DaemonConfiguration.Load(path).Pkcs11);
        Assert.Equal(TimeSpan.FromSeconds(300), Pkcs11LoginOptions.Default.IdleTimeout);

        File.WriteAllText(path, Config("\"pkcs11\":{\"loginIdleSeconds\":-1},"));
        Assert.Contains("'pkcs11.loginIdleSeconds'", Assert.Throws<ConfigurationException>(() => DaemonConfiguration.Load(path)).Message, StringComparison.Ordinal);
        File.WriteAllText(path, Config("\"pkcs11\":{\"sessions\":0},"));
        Assert.Contains("'pkcs11.sessions'", Assert.Throws<ConfigurationException>(() => DaemonConfiguration.Load(path)).Message, StringComparison.Ordinal);
        File.WriteAllText(path, Config("\"pkcs11\":{\"loginIdle\":5},"));
        Assert.Throws<ConfigurationException>(() => DaemonConfiguration.Load(path));
    }

    private static (SigningRequest Request, PreviewResponse Preview) Prepare(DaemonHarness daemon)
    {
        var key = daemon.Generate("targets", 0x02);
        var root = Root.Create(Spec, DateTimeOffset.UtcNow.AddDays(300));
        foreach (var role in Root.TopLevelRoles)
        {
            root.AddKey(role, DaemonHarness.KeyOf(key, Spec));
        }

        var targets = Targets.Create(Spec, DateTimeOffset.UtcNow.AddDays(90));
        targets.SetVersion(1);
        targets.SetTarget("app.tar.gz", 12, new Dictionary<string, string> { ["sha256"] = "abcd" });
        var request = new SigningRequest
        {
            Metadata = ByteString.CopyFrom(Metadata<Targets>.Create(targets).ToBytes()),
            Role = "targets",
            TrustedRoot = ByteString.CopyFrom(Metadata<Root>.Create(root).ToBytes()),
            KeyUri = key.Uri,
        };
        return (request, daemon.Preview(request));
    }

    private static bool Verifies(DaemonHarness daemon, SigningRequest request, SignResponse response)
    {
        var key = daemon.Directory.Find(request.KeyUri)!;
        var publicKey = OfflineSigner.Tuf.Crypto.PublicKey.FromSubjectPublicKeyInfo(key.SubjectPublicKeyInfo);
        var signed = MetadataReader.Parse(request.Metadata.Span).SignedBytes();
        return OfflineSigner.Tuf.Crypto.SignatureVerifier.Verify(publicKey, Spec, "ecdsa", "ecdsa-sha2-nistp256", string.IsNullOrEmpty(response.Method) ? null : response.Method, signed, response.Signature.Span);
    }
}
