using OfflineSigner.Daemon.Configuration;
using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Pkcs11.Tests;

/// <summary>The documented example configurations stay valid.</summary>
public sealed class ConfigurationExamplesTests
{
    public static TheoryData<string> Examples => ["softhsm2.json", "ykcs11.json", "yubihsm2.json", "luna.json", "cloudhsm.json"];

    [Theory]
    [MemberData(nameof(Examples))]
    public void Example_configuration_is_valid(string name)
    {
        var path = Path.Combine(TestEnvironment.RepoRoot, "hsm-config", "examples", name);
        var config = DaemonConfiguration.Load(path);
        var backend = Assert.Single(config.Backends!);
        Assert.True(Path.IsPathRooted(backend.Module));
        Assert.NotEmpty(backend.Keys!);
        Assert.DoesNotContain("pin-value", File.ReadAllText(path), StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_members_are_errors()
    {
        using var dir = TestEnvironment.CreateTempDir("config");
        var path = Path.Combine(dir.Path, "c.json");
        File.WriteAllText(path, "{\"backends\":[],\"pin\":\"1234\"}");
        var e = Assert.Throws<ConfigurationException>(() => DaemonConfiguration.Load(path));
        Assert.Contains("pin", e.Message, StringComparison.Ordinal);
    }
}
