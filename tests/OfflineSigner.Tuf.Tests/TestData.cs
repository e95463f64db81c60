using OfflineSigner.Tests.Shared;

namespace OfflineSigner.Tuf.Tests;

internal static class TestData
{
    public static string SigstoreDir => TestEnvironment.RequireVectors("sigstore-root-chain");

    public static byte[] SigstoreRoot(int version) => File.ReadAllBytes(Path.Combine(SigstoreDir, $"{version}.root.json"));

    public static Metadata<Root> ParseRoot(byte[] bytes) => Metadata<Root>.Parse(bytes);

    public static readonly DateTimeOffset BeforeRoot15Expiry = new(2026, 11, 19, 0, 0, 0, TimeSpan.Zero);

    public static readonly DateTimeOffset AfterRoot15Expiry = new(2026, 11, 22, 0, 0, 0, TimeSpan.Zero);
}
