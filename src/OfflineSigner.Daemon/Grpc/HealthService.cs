using OfflineSigner.Protocol.Health.V1;

namespace OfflineSigner.Daemon.Grpc;

/// <summary>
/// grpc.health.v1.Health: "" (the daemon) and every registered service are SERVING while the daemon runs;
/// unknown names are NOT_FOUND, as the standard asks. Watch sends the current status and holds the stream open.
/// </summary>
internal sealed class HealthService(Func<IReadOnlyCollection<string>> services, Func<bool> serving)
{
    private static readonly Google.Protobuf.Reflection.ServiceDescriptor Descriptor = HealthReflection.Descriptor.Services.Single(s => s.Name == "Health");

    public void Register(IGrpcServiceRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        registry.AddUnary<HealthCheckRequest, HealthCheckResponse>(Descriptor, "Check", (request, _) => Task.FromResult(Check(request)));
        registry.AddServerStreaming<HealthCheckRequest, HealthCheckResponse>(Descriptor, "Watch", async (request, writer, context) =>
        {
            await writer.WriteAsync(Check(request)).ConfigureAwait(false);
            await Task.Delay(Timeout.Infinite, context.CancellationToken).ConfigureAwait(false);
        });
    }

    public HealthCheckResponse Check(HealthCheckRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Service.Length > 0 && !services().Contains(request.Service))
        {
            throw new RpcException(StatusCode.NotFound, $"unknown service '{request.Service}'");
        }

        return new HealthCheckResponse
        {
            Status = serving() ? HealthCheckResponse.Types.ServingStatus.Serving : HealthCheckResponse.Types.ServingStatus.NotServing,
        };
    }
}
