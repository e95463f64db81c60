using System.CommandLine;
using OfflineSigner.Protocol.Client;
using OfflineSigner.Protocol.Health.V1;
using OfflineSigner.Protocol.V1;

namespace OfflineSigner.Cli.Commands;

/// <summary>
/// <c>offline-signer daemon status [--socket PATH]</c>: asks offline-signerd over its Unix socket whether it serves,
/// which backends and tokens it has, and whether its audit chain verifies. Exit 0 all well, 1 a problem (not
/// serving, token missing or PIN locked, broken audit chain, daemon unreachable or refusing the caller).
/// </summary>
internal static class DaemonCommand
{
    public const string DefaultSocket = "/run/offline-signerd/offline-signerd.sock";

    public static Command Create()
    {
        var socket = new Option<string>("--socket")
        {
            Description = $"The daemon's socket (default: $OFFLINE_SIGNER_SOCKET or {DefaultSocket})",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("OFFLINE_SIGNER_SOCKET") is { Length: > 0 } s ? s : DefaultSocket,
        };
        var status = new Command("status", "Is the daemon serving, with which tokens, and does its audit chain verify?") { socket };
        status.SetAction((p, ct) => StatusAsync(p.GetValue(socket)!, ct));
        return new Command("daemon", "Talk to offline-signerd on this machine.") { status };
    }

    private static async Task<int> StatusAsync(string socket, CancellationToken cancellationToken)
    {
        using var channel = new DaemonChannel(socket);
        var client = new DaemonClient(channel);
        var options = CallOptions.WithTimeout(TimeSpan.FromSeconds(30), cancellationToken);
        try
        {
            var problems = 0;
            var health = await client.CheckHealthAsync(new HealthCheckRequest(), options).ConfigureAwait(false);
            Console.WriteLine($"daemon at {socket}: {(health.Status == HealthCheckResponse.Types.ServingStatus.Serving ? "SERVING" : "NOT SERVING")}");
            problems += health.Status == HealthCheckResponse.Types.ServingStatus.Serving ? 0 : 1;

            var backends = await client.ListBackendsAsync(new ListBackendsRequest(), options).ConfigureAwait(false);
            foreach (var backend in backends.Backends)
            {
                Console.WriteLine($"backend {backend.Name} ({backend.Kind}, {backend.Module}): {backend.Tokens.Count} token(s)");
                foreach (var token in backend.Tokens)
                {
                    var pin = token.UserPinLocked ? "PIN LOCKED" : token.UserPinFinalTry ? "PIN: final try left" : token.UserPinCountLow ? "PIN: a wrong PIN was entered" : "PIN ok";
                    Console.WriteLine($"  token '{token.Label}' serial {token.Serial} ({token.Manufacturer} {token.Model}): {pin}");
                    problems += token.UserPinLocked ? 1 : 0;
                }

                if (backend.Tokens.Count == 0)
                {
                    Console.WriteLine("  its token is not present");
                    problems++;
                }
            }

            var log = await client.VerifyLogAsync(new VerifyLogRequest(), options).ConfigureAwait(false);
            Console.WriteLine(log.Ok
                ? $"audit log: verified, {log.Entries} entries, head sha256 {log.HeadSha256}"
                : $"audit log: BROKEN at seq {log.FirstBadSequence}: {log.Error}");
            problems += log.Ok ? 0 : 1;
            return problems == 0 ? ExitCodes.Ok : ExitCodes.VerificationFailed;
        }
        catch (DaemonRpcException e)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}").ConfigureAwait(false);
            return ExitCodes.VerificationFailed;
        }
    }
}
