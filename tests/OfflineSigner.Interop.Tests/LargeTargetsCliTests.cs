using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using OfflineSigner.Interop.Tests.Fixtures;
using OfflineSigner.Signing;
using OfflineSigner.Tests.Shared;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Json;
using Xunit;

namespace OfflineSigner.Interop.Tests;

/// <summary>
/// <c>offline-signer verify</c> and <c>show</c> read targets roles through the index. On a delegated role larger
/// than python-tuf's 5 MB cap: refused by default, verified with <c>--max-bytes</c>, refused when tampered; the digest
/// of the signed bytes that <c>show</c> prints is securesystemslib's, securesystemslib accepts the signatures, and
/// the summary is the model's, line for line.
/// </summary>
public sealed class LargeTargetsCliTests : IDisposable
{
    private readonly TempDir work = TestEnvironment.CreateTempDir("large-targets");
    private readonly List<SoftwareKeySigner> signers = [];

    public void Dispose()
    {
        foreach (var s in signers)
        {
            s.Dispose();
        }

        work.Dispose();
    }

    private (SoftwareKeySigner Signer, Key Key) NewKey(KeyAlgorithm algorithm)
    {
        var signer = SoftwareKeySigner.Generate(algorithm);
        signers.Add(signer);
        return (signer, Key.FromPublicKey(signer.PublicKey, Dialect.TufSpecification));
    }

    private string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(work.Path, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void A_large_delegated_role_is_verified_shown_and_refused_when_tampered()
    {
        var expires = DateTimeOffset.UtcNow.AddDays(400).AddHours(12);
        var rootKey = NewKey(KeyAlgorithm.EcdsaP256);
        var targetsKey = NewKey(KeyAlgorithm.Ed25519);
        var largeKeys = new[] { NewKey(KeyAlgorithm.EcdsaP256), NewKey(KeyAlgorithm.Rsa2048) };

        var root = Metadata<Root>.Create(Root.Create(Dialect.TufSpecification, expires));
        foreach (var r in Root.TopLevelRoles)
        {
            root.Signed.AddKey(r, r == "targets" ? targetsKey.Key : rootKey.Key);
        }

        root.SignWith(rootKey.Signer, rootKey.Key);
        var top = Metadata<Targets>.Create(Targets.Create(Dialect.TufSpecification, expires));
        top.Signed.AddDelegation("large", [.. largeKeys.Select(k => k.Key)], 2, ["*"]);
        top.SignWith(targetsKey.Signer, targetsKey.Key);

        var large = Metadata<Targets>.Create(Targets.Create(Dialect.TufSpecification, expires));
        var targets = new JsonObject();
        var random = new Random(11);
        var digest = new byte[32];
        for (var i = 0; i < 36_000; i++)
        {
            random.NextBytes(digest);
            var path = string.Create(CultureInfo.InvariantCulture, $"packages/{i % 97}/release-{i}/project-{i}-py3-none-any.whl");
            targets.Add(path, new JsonObject { { "hashes", new JsonObject { { "sha256", Convert.ToHexStringLower(digest) } } }, { "length", random.NextInt64(1, 1L << 36) } });
        }

        large.Signed.Json.Set("targets", targets);
        large = Metadata<Targets>.Parse(large.ToBytes(), MetadataParseOptions.Default.WithMaxBytes(long.MaxValue));
        foreach (var (signer, key) in largeKeys)
        {
            large.SignWith(signer, key);
        }

        var largeBytes = large.ToBytes();
        Assert.True(largeBytes.Length > 5_000_000, $"the role is only {largeBytes.Length} bytes");
        var rootFile = Write("root.json", root.ToBytes());
        var topFile = Write("targets.json", top.ToBytes());
        var largeFile = Write("large.json", largeBytes);
        var text = Encoding.UTF8.GetString(largeBytes);
        var at = text.IndexOf("\"sha256\":\"", StringComparison.Ordinal) + 10;
        var tamperedFile = Write("tampered/large.json", Encoding.UTF8.GetBytes(text[..at] + (text[at] == 'a' ? 'b' : 'a') + text[(at + 1)..]));
        var limit = (largeBytes.Length + 1000).ToString(CultureInfo.InvariantCulture);

        // python-tuf's cap by default: refused, naming the limit.
        var refused = OfflineSignerCli.Run(["verify", "--root", rootFile, topFile, largeFile]);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("more than the limit of 5000000", refused.StdOut, StringComparison.Ordinal);

        var verified = OfflineSignerCli.Run(["verify", "--root", rootFile, "--max-bytes", limit, topFile, largeFile]);
        Assert.True(verified.ExitCode == 0, verified.ToString());
        Assert.Contains("ok   " + largeFile + ": large version 1 signed 2/2", verified.StdOut, StringComparison.Ordinal);
        Assert.Contains("all verified", verified.StdOut, StringComparison.Ordinal);

        var tampered = OfflineSignerCli.Run(["verify", "--root", rootFile, "--max-bytes", limit, topFile, tamperedFile]);
        Assert.Equal(1, tampered.ExitCode);
        Assert.Contains("FAIL " + tamperedFile + ": large version 1 signed 0/2", tampered.StdOut, StringComparison.Ordinal);

        // show: the model's summary, and the digest securesystemslib computes of the canonical signed bytes.
        var shown = OfflineSignerCli.Run(["show", "--max-bytes", limit, largeFile]);
        Assert.True(shown.ExitCode == 0, shown.ToString());
        var sha = Convert.ToHexStringLower(SHA256.HashData(large.SignedBytes()));
        var expected = MetadataSummary.Describe(Metadata<Targets>.Parse(largeBytes, MetadataParseOptions.Default.WithMaxBytes(largeBytes.Length)).As<Signed>(), DateTimeOffset.UtcNow)
            + $"  SHA-256 of the signed bytes: {sha}\n";
        Assert.Equal(expected, shown.StdOut);
        Assert.Equal(sha, Assert.Single(Securesystemslib.CanonicalSha256([largeFile], signedOnly: true)));

        // show --previous: every change from the tampered copy (one hash) and from an older version, as the model says.
        var older = Metadata<Targets>.Parse(largeBytes, MetadataParseOptions.Default.WithMaxBytes(largeBytes.Length));
        older.Signed.SetVersion(1);
        older.Signed.RemoveTarget(older.Signed.TargetFiles.Keys.First());
        older.Signed.SetTarget("packages/old.whl", 1, new Dictionary<string, string> { ["sha256"] = "00" });
        var olderFile = Write("older/large.json", older.ToBytes());
        foreach (var previous in new[] { tamperedFile, olderFile })
        {
            var diff = OfflineSignerCli.Run(["show", "--max-bytes", limit, largeFile, "--previous", previous]);
            Assert.True(diff.ExitCode == 0, diff.ToString());
            var options = MetadataParseOptions.Default.WithMaxBytes(largeBytes.Length);
            var expectedDiff = MetadataSummary.DescribeChanges(MetadataReader.Parse(File.ReadAllBytes(previous), options), MetadataReader.Parse(largeBytes, options))
                + $"  SHA-256 of the new signed bytes: {sha}\n";
            Assert.Equal(expectedDiff, diff.StdOut);
            Assert.Contains("target ", diff.StdOut, StringComparison.Ordinal);
        }

        foreach (var (_, key) in largeKeys)
        {
            var keyFile = Write($"{key.KeyId}.key.json", JsonText.Serialize(key.Json));
            Assert.True(Securesystemslib.VerifyWithKey(keyFile, largeFile, key.KeyId).Ok);
            Assert.False(Securesystemslib.VerifyWithKey(keyFile, tamperedFile, key.KeyId).Ok);
        }
    }
}
