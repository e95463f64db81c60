using System.Text.Json;
using Google.Protobuf;
using OfflineSigner.Daemon.Configuration;
using OfflineSigner.Daemon.Grpc;
using OfflineSigner.Daemon.Hosting;
using OfflineSigner.Daemon.Tests.Support;
using OfflineSigner.Protocol.V1;
using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Daemon.Tests;

/// <summary>The configuration's "daemon" section and the wiring of the services into a registry.</summary>
public sealed class HostingTests
{
    [Fact]
    public void The_daemon_section_is_read_with_defaults_and_per_role_overrides()
    {
        using var doc = JsonDocument.Parse("""{"socket":"/run/x.sock","allowedUids":[0,1000],"maxMessageBytes":65536,"policy":{"maxExpiryDays":{"timestamp":2},"maxVersionBump":{"snapshot":3},"keyRoles":{"pkcs11:token=t;id=%01":["root"]}}}""");
        var config = ServeConfiguration.From(doc.RootElement, "c.json");
        Assert.Equal("/run/x.sock", config.SocketPath);
        Assert.Equal([0u, 1000u], config.AllowedUids);
        Assert.Equal(65536, config.MaxMessageBytes);
        Assert.Equal(TimeSpan.FromDays(2), config.Policy.MaxExpiryFor("timestamp"));
        Assert.Equal(TimeSpan.FromDays(30), config.Policy.MaxExpiryFor("snapshot"));
        Assert.Equal(3, config.Policy.MaxVersionBumpFor("snapshot"));
        Assert.True(config.Policy.KeyMaySign("pkcs11:token=t;id=%01", "root"));
        Assert.False(config.Policy.KeyMaySign("pkcs11:token=t;id=%01", "targets"));
        Assert.Equal("/var/lib/offline-signerd/audit.jsonl", ServeConfiguration.From(null, "c.json").AuditLogPath);
    }

    [Theory]
    [InlineData("""{"sokcet":"/run/x.sock"}""", "daemon.sokcet: unknown member")]
    [InlineData("""{"policy":{"maxExpiryDays":{"root":0}}}""", "daemon.policy.maxExpiryDays.root must be an integer")]
    [InlineData("""{"socket":"relative.sock"}""", "absolute paths")]
    [InlineData("""{"allowedGids":["wheel"]}""", "allowedGids[0] must be a numeric id")]
    public void Mistakes_in_the_daemon_section_are_named(string json, string expected)
    {
        using var doc = JsonDocument.Parse(json);
        var e = Assert.Throws<ConfigurationException>(() => ServeConfiguration.From(doc.RootElement, "c.json"));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_check_commands_configuration_accepts_the_daemon_section()
    {
        using var dir = TestEnvironment.CreateTempDir("daemon-config");
        var path = Path.Combine(dir.Path, "daemon.json");
        File.WriteAllText(path, """{"backends":[{"name":"softhsm","type":"pkcs11","module":"/usr/lib/softhsm/libsofthsm2.so","token":{"label":"x"},"pin":{"file":"/nonexistent/pin"},"keys":[{"name":"k","uri":"pkcs11:token=x;id=%01"}]}],"daemon":{"socket":"/run/y.sock"}}""");
        var config = DaemonConfiguration.Load(path);
        Assert.Equal("/run/y.sock", ServeConfiguration.From(config.Daemon, path).SocketPath);

        using var services = new DaemonServices(config, ServeConfiguration.From(config.Daemon, path).Policy, new MemoryAuditLog(), TimeProvider.System, Path.Combine(dir.Path, "audit.jsonl"));
        var registry = new RecordingRegistry();
        services.Register(registry);

        // Every method of every offlinesigner.v1 service in protos/ is implemented and registered.
        string[] contract =
        [
            .. new[] { KeysReflection.Descriptor, SigningReflection.Descriptor, RotationReflection.Descriptor, AttestationReflection.Descriptor, CeremonyReflection.Descriptor, AuditReflection.Descriptor }
                .SelectMany(f => f.Services).SelectMany(s => s.Methods).Select(m => $"/{m.Service.FullName}/{m.Name}").Order(StringComparer.Ordinal),
        ];
        Assert.Equal(17, contract.Length);
        Assert.Equal(contract, registry.Methods.Order(StringComparer.Ordinal));
    }

    private sealed class RecordingRegistry : IGrpcServiceRegistry
    {
        public List<string> Methods { get; } = [];

        public void AddUnary<TRequest, TResponse>(Google.Protobuf.Reflection.ServiceDescriptor service, string method, UnaryMethod<TRequest, TResponse> handler)
            where TRequest : IMessage<TRequest>, new()
            where TResponse : IMessage<TResponse>
        {
            var descriptor = service.FindMethodByName(method);
            Assert.NotNull(descriptor);
            Assert.Equal(typeof(TRequest), descriptor.InputType.ClrType);
            Assert.Equal(typeof(TResponse), descriptor.OutputType.ClrType);
            Methods.Add($"/{service.FullName}/{method}");
        }

        public void AddServerStreaming<TRequest, TResponse>(Google.Protobuf.Reflection.ServiceDescriptor service, string method, ServerStreamingMethod<TRequest, TResponse> handler)
            where TRequest : IMessage<TRequest>, new()
            where TResponse : IMessage<TResponse> => Methods.Add($"/{service.FullName}/{method}");
    }
}
