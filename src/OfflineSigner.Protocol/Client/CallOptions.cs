namespace OfflineSigner.Protocol.Client;

/// <summary>
/// Per-call settings. <c>default</c> means: the channel's default timeout, no cancellation, no extra metadata.
/// </summary>
public readonly record struct CallOptions
{
    /// <summary>
    /// When the call must have ended. Sent to the server as grpc-timeout (the time left when the call starts) and
    /// enforced here too; a call past its deadline fails with DEADLINE_EXCEEDED. Null: the channel's
    /// <see cref="DaemonChannelOptions.DefaultTimeout"/>, if any.
    /// </summary>
    public DateTimeOffset? Deadline { get; init; }

    /// <summary>Cancels the call; it then fails with <see cref="DaemonRpcException"/> CANCELLED.</summary>
    public CancellationToken CancellationToken { get; init; }

    /// <summary>
    /// Custom metadata sent as request headers. Keys are lowercase (0-9 a-z _ - .), not reserved (grpc-*, te,
    /// content-type, ...); values are printable ASCII, for keys ending in -bin already base64-encoded.
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, string>>? Headers { get; init; }

    /// <summary>Options whose deadline is <paramref name="timeout"/> from now.</summary>
    public static CallOptions WithTimeout(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        new() { Deadline = DateTimeOffset.UtcNow + timeout, CancellationToken = cancellationToken };
}
