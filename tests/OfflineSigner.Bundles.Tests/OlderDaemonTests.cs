using Google.Protobuf;
using Google.Protobuf.Reflection;
using OfflineSigner.Audit;
using OfflineSigner.Bundles.Tests.Support;
using OfflineSigner.Cli.Repositories;
using OfflineSigner.Daemon.Configuration;
using OfflineSigner.Daemon.Grpc;
using OfflineSigner.Daemon.Hosting;
using OfflineSigner.Daemon.Tests.Support;
using Xunit;

namespace OfflineSigner.Bundles.Tests;

/// <summary>
/// `sign` against a daemon that serves only the one-document methods (a daemon from before PreviewBatch and SignBatch):
/// the CLI falls back to one Preview and one Sign per item, and the bundle it writes imports and verifies.
/// </summary>
public sealed class OlderDaemonTests(SoftHsm hsm)
{
    private const int Bins = 6;

    [Fact]
    public async Task Sign_falls_back_to_one_call_per_item_when_the_daemon_has_no_batch_methods()
    {
        using var w = new Workflow(hsm);
        var repo = w.Path("repo");
        w.CreateTufRepository(repo, ["root-a"], 1, "targets-1");
        w.Generate("bins");
        var binsKey = w.PublicKeyFile("bins");
        var bundle = w.Path("delegations");
        var args = new List<string> { "export", "--repo", repo, "--role", "targets", "--add-key", binsKey, "--out", bundle };
        for (var i = 0; i < Bins; i++)
        {
            args.AddRange(["--delegation", $"bin-{i}"]);
        }

        w.Ok([.. args]);
        w.Sign(bundle, "targets-1");

        // The same configuration, token, socket and audit log, served in this process without the batch methods.
        Assert.Equal(0, w.Daemon.Stop());
        var config = DaemonConfiguration.Load(w.Daemon.ConfigPath);
        var serve = ServeConfiguration.From(config.Daemon, w.Daemon.ConfigPath);
        var registry = new GrpcServiceRegistry();
        var counting = new WithoutBatchMethods(registry);
        using (var audit = new AuditLogWriter(serve.AuditLogPath))
        using (var services = new DaemonServices(config, serve.Policy, audit, TimeProvider.System, serve.AuditLogPath))
        {
            services.Register(counting);
            new HealthService(() => registry.Services, () => true).Register(registry);
            Assert.DoesNotContain("/offlinesigner.v1.SigningService/SignBatch", registry.Paths);
            var transport = new GrpcTransportOptions { MaxMessageBytes = serve.MaxMessageBytes, AllowedUids = serve.AllowedUids, AllowedGids = serve.AllowedGids };
            await using var server = await GrpcServer.StartAsync(new GrpcListener.UnixSocket(serve.SocketPath), registry, transport, audit);

            var signed = await Task.Run(() => w.CliWithPin("sign", "--bundle", bundle, "--key", w.KeyUri("bins"), "--yes", "--signer", "bins"));
            Assert.True(signed.ExitCode == 0, signed.ToString());
            Assert.Equal(Bins, counting.Calls("Preview"));
            Assert.Equal(Bins, counting.Calls("Sign"));
            await server.StopAsync(TimeSpan.FromSeconds(10));
        }

        // One audit entry per document, in a chain that still verifies.
        var log = File.ReadAllBytes(w.Daemon.AuditLogPath);
        Assert.True(AuditLogVerifier.Verify(log).Ok, "the audit log does not verify");
        var lines = System.Text.Encoding.UTF8.GetString(log).Split('\n');
        for (var i = 0; i < Bins; i++)
        {
            Assert.Single(lines, l => l.Contains("\"signed\"", StringComparison.Ordinal) && l.Contains($"\"bin-{i}\"", StringComparison.Ordinal));
        }

        w.Ok("import", "--bundle", bundle, "--repo", repo, "--online-key", w.OnlineKey);
        var state = TufRepository.Load(repo).State;
        Assert.Equal(Bins, state.Delegated.Count);
    }

    /// <summary>Registers every method but PreviewBatch and SignBatch, and counts calls of the others by name.</summary>
    private sealed class WithoutBatchMethods(GrpcServiceRegistry inner) : IGrpcServiceRegistry
    {
        private readonly Dictionary<string, int> calls = new(StringComparer.Ordinal);

        public int Calls(string method)
        {
            lock (calls)
            {
                return calls.GetValueOrDefault(method);
            }
        }

        public void AddUnary<TRequest, TResponse>(ServiceDescriptor service, string method, UnaryMethod<TRequest, TResponse> handler)
            where TRequest : IMessage<TRequest>, new()
            where TResponse : IMessage<TResponse>
        {
            if (service.Name == "SigningService" && method is "PreviewBatch" or "SignBatch")
            {
                return;
            }

            inner.AddUnary<TRequest, TResponse>(service, method, (request, context) =>
            {
                if (service.Name == "SigningService")
                {
                    lock (calls)
                    {
                        calls[method] = calls.GetValueOrDefault(method) + 1;
                    }
                }

                return handler(request, context);
            });
        }

        public void AddServerStreaming<TRequest, TResponse>(ServiceDescriptor service, string method, ServerStreamingMethod<TRequest, TResponse> handler)
            where TRequest : IMessage<TRequest>, new()
            where TResponse : IMessage<TResponse> => inner.AddServerStreaming(service, method, handler);
    }
}
