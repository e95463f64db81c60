namespace OfflineSigner.Protocol.Client;

/// <summary>Settings of a <see cref="DaemonChannel"/>.</summary>
public sealed record DaemonChannelOptions
{
    /// <summary>The default receive limit, as in other gRPC implementations: 4 MiB.</summary>
    public const int DefaultMaxReceiveMessageSize = 4 * 1024 * 1024;

    /// <summary>
    /// The largest response message accepted, in bytes. A larger one fails the call with RESOURCE_EXHAUSTED as soon
    /// as its 5-byte prefix is read, before anything is allocated for it.
    /// </summary>
    public int MaxReceiveMessageSize { get; init; } = DefaultMaxReceiveMessageSize;

    /// <summary>The time a call may take when its <see cref="CallOptions.Deadline"/> is not set; null: no limit.</summary>
    public TimeSpan? DefaultTimeout { get; init; }

    /// <summary>How long establishing the connection may take before the call fails with UNAVAILABLE.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(MaxReceiveMessageSize);
        if (DefaultTimeout is { } t)
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(t, TimeSpan.Zero, nameof(DefaultTimeout));
        }

        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ConnectTimeout, TimeSpan.Zero, nameof(ConnectTimeout));
    }
}
