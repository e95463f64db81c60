using OfflineSigner.Protocol.Client;
using OfflineSigner.Protocol.V1;

namespace OfflineSigner.Cli.Workflow;

/// <summary>The daemon's socket, and the one client every air-gapped command uses.</summary>
internal sealed class DaemonSession : IDisposable
{
    public const string DefaultSocket = "/run/offline-signerd/offline-signerd.sock";

    private readonly DaemonChannel channel;

    public DaemonSession(string socket)
    {
        Socket = socket;
        channel = new DaemonChannel(socket);
        Client = new DaemonClient(channel);
    }

    public string Socket { get; }

    public DaemonClient Client { get; }

    /// <summary>Per-call options: a deadline long enough for a person to touch a device.</summary>
    public static CallOptions Call(CancellationToken cancellationToken, int seconds = 120) => CallOptions.WithTimeout(TimeSpan.FromSeconds(seconds), cancellationToken);

    public static Dialect ToProto(Tuf.Dialect dialect) => dialect == Tuf.Dialect.Notary ? Dialect.Notary : Dialect.Tuf;

    /// <summary>The key <paramref name="keyUri"/> names, with a device hint when it is not there.</summary>
    public async Task<KeyInfo> KeyAsync(string keyUri, Tuf.Dialect dialect, CancellationToken cancellationToken)
    {
        try
        {
            var response = await Client.GetPublicKeyAsync(new GetPublicKeyRequest { KeyUri = keyUri, Dialect = ToProto(dialect) }, Call(cancellationToken)).ConfigureAwait(false);
            return response.Key;
        }
        catch (DaemonRpcException e) when (e.Status is Protocol.Grpc.StatusCode.NotFound or Protocol.Grpc.StatusCode.FailedPrecondition or Protocol.Grpc.StatusCode.Unavailable && DeviceSerial(keyUri) is { } serial)
        {
            throw new OfflineSignerException($"the key {keyUri} is not available ({e.Detail}): insert the device with serial {serial} and run the command again", e);
        }
    }

    /// <summary>The device serial a key reference names (yubikey:serial=N;slot=9c, or a pkcs11 URI's serial=).</summary>
    public static string? DeviceSerial(string keyUri)
    {
        var colon = keyUri.IndexOf(':', StringComparison.Ordinal);
        foreach (var part in keyUri[(colon + 1)..].Split(';', '?', '&'))
        {
            if (part.StartsWith("serial=", StringComparison.Ordinal))
            {
                return Uri.UnescapeDataString(part["serial=".Length..]);
            }
        }

        return null;
    }

    public static string SocketFrom(string? option) =>
        option is { Length: > 0 } ? option : Environment.GetEnvironmentVariable("OFFLINE_SIGNER_SOCKET") is { Length: > 0 } s ? s : DefaultSocket;

    public void Dispose() => channel.Dispose();
}
