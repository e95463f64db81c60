using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace OfflineSigner.Tuf.Crypto;

/// <summary>
/// A process's memory of the signatures it has already found valid, so that one command that checks the same
/// signature twice (import checks a bundle's signatures when it counts them, then again as part of the staged
/// repository; sign checks each new signature, then counts them) pays for the check once. Off unless a process turns
/// it on with <see cref="Enable"/>; the daemon never does.
/// </summary>
/// <remarks>
/// An entry is the whole SHA-256 (256 bits, so that finding two inputs with one entry costs a collision search of
/// SHA-256 itself) of everything the outcome depends on: the key's fingerprint, dialect, key
/// type, scheme, method, the SHA-256 of the signed bytes and the signature. Only valid signatures are remembered, so a
/// hit can only repeat a check that succeeded on exactly the same inputs; an invalid signature is checked every time.
/// The memory is bounded: when full it is emptied and fills again.
/// </remarks>
public sealed class VerifiedSignatures
{
    private readonly ConcurrentDictionary<(UInt128, UInt128), byte> seen = new();
    private readonly int capacity;

    private VerifiedSignatures(int capacity) => this.capacity = capacity;

    /// <summary>The memory in use, or null when the process has not turned it on.</summary>
    internal static VerifiedSignatures? Active { get; private set; }

    /// <summary>Turns the memory on for this process (idempotent), holding at most <paramref name="capacity"/> entries.</summary>
    public static void Enable(int capacity = 1 << 17)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        Active ??= new VerifiedSignatures(capacity);
    }

    /// <summary>How many valid signatures are remembered (for tests).</summary>
    public static int Count => Active?.seen.Count ?? 0;

    internal bool Contains((UInt128, UInt128) id) => seen.ContainsKey(id);

    internal void Add((UInt128, UInt128) id)
    {
        if (seen.Count >= capacity)
        {
            seen.Clear();
        }

        seen.TryAdd(id, 0);
    }

    internal static (UInt128, UInt128) Id(PublicKey key, Dialect dialect, string keyType, string? scheme, string? method, ReadOnlySpan<byte> messageSha256, ReadOnlySpan<byte> signature)
    {
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Field(h, Encoding.ASCII.GetBytes(key.Fingerprint));
        Field(h, [(byte)dialect]);
        Field(h, Encoding.UTF8.GetBytes(keyType));
        Field(h, scheme is null ? [0xff] : Encoding.UTF8.GetBytes(scheme));
        Field(h, method is null ? [0xff] : Encoding.UTF8.GetBytes(method));
        Field(h, messageSha256);
        Field(h, signature);
        Span<byte> digest = stackalloc byte[32];
        h.GetHashAndReset(digest);
        return (BinaryPrimitives.ReadUInt128LittleEndian(digest), BinaryPrimitives.ReadUInt128LittleEndian(digest[16..]));
    }

    // Each field length-prefixed, so that no two different inputs give the same hashed stream.
    private static void Field(IncrementalHash h, ReadOnlySpan<byte> value)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, value.Length);
        h.AppendData(length);
        h.AppendData(value);
    }
}
