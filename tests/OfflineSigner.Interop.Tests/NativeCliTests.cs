using OfflineSigner.Interop.Tests.Fixtures;
using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Interop.Tests;

/// <summary>
/// offline-signer as it ships: `dotnet publish src/OfflineSigner.Cli -c Release` builds one NativeAOT executable.
/// It must do what the JIT-compiled CLI does, byte for byte on standard output and with the same exit codes, on the
/// public vectors (a root chain walk, a repository with delegations, a summary, canonical JSON) and on bad input.
/// </summary>
public sealed class NativeCliTests(NativeCliFixture native) : IClassFixture<NativeCliFixture>
{
    public static TheoryData<string[]> Commands => new()
    {
        new[] { "verify-chain", "{vectors}/sigstore-root-chain", "--at", "2026-01-01T00:00:00Z" },
        new[] { "verify-chain", "{vectors}/sigstore-root-chain", "--at", "2027-01-01T00:00:00Z", "--json" },
        new[] { "verify", "--root", "{python-tuf}/1.root.json", "--at", "2025-01-01T00:00:00Z", "{python-tuf}/root.json", "{python-tuf}/targets.json", "{python-tuf}/role1.json", "{python-tuf}/role2.json", "{python-tuf}/snapshot.json", "{python-tuf}/timestamp.json" },
        new[] { "verify", "--root", "{vectors}/sigstore-root-chain/15.root.json", "--at", "2026-01-01T00:00:00Z", "--json", "{vectors}/sigstore-root-chain/targets.json", "{vectors}/sigstore-root-chain/registry.npmjs.org.json" },
        new[] { "show", "{python-tuf}/targets.json" },
        new[] { "show", "{python-tuf}/root.json", "--previous", "{python-tuf}/1.root.json" },
        new[] { "show", "{python-tuf}/role1.json", "--previous", "{python-tuf}/targets.json", "--json" },
        new[] { "canonical-json", "{python-tuf}/snapshot.json" },
        new[] { "show", "{python-tuf}/no-such-file.json" },
        new[] { "verify", "--root", "{python-tuf}/targets.json", "{python-tuf}/role1.json" },
    };

    [Theory]
    [MemberData(nameof(Commands))]
    public void The_native_executable_answers_as_the_jit_compiled_cli_does(string[] command)
    {
        var vectors = TestEnvironment.RequireVectors(string.Empty);
        var pythonTuf = Path.Combine(vectors, "python-tuf-testdata", "repository_data", "repository", "metadata");
        var args = command.Select(a => a.Replace("{vectors}", vectors, StringComparison.Ordinal).Replace("{python-tuf}", pythonTuf, StringComparison.Ordinal)).ToArray();

        var jit = OfflineSignerCli.Run(args);
        var aot = ProcessRunner.Run(native.Executable, args, TimeSpan.FromMinutes(2));

        Assert.Equal(jit.ExitCode, aot.ExitCode);
        Assert.Equal(jit.StdOut, aot.StdOut);
        Assert.Equal(jit.StdErr, aot.StdErr);
    }

    [Fact]
    public void The_native_executable_needs_no_dotnet_runtime()
    {
        // An ELF executable that starts with no .NET on its PATH or in its environment.
        var header = new byte[4];
        using (var f = File.OpenRead(native.Executable))
        {
            f.ReadExactly(header);
        }

        Assert.Equal("\u007fELF"u8.ToArray(), header);
        var result = ProcessRunner.Run(native.Executable, ["--version"], TimeSpan.FromMinutes(1), new Dictionary<string, string?> { ["PATH"] = "/usr/bin:/bin", ["DOTNET_ROOT"] = null, ["DOTNET_HOST_PATH"] = null });
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.StartsWith("offline-signer 0.1.0\n", result.StdOut, StringComparison.Ordinal);
    }
}

/// <summary>Publishes the CLI as NativeAOT once, into a temporary artifacts folder, the way the project ships it.</summary>
public sealed class NativeCliFixture : IDisposable
{
    private readonly TempDir artifacts = TestEnvironment.CreateTempDir("native-cli");
    private readonly Lazy<string> executable;

    public NativeCliFixture() => executable = new(Publish);

    public string Executable => executable.Value;

    public void Dispose() => artifacts.Dispose();

    private string Publish()
    {
        // NativeAOT links with clang and zlib (scripts/setup.sh installs both).
        TestEnvironment.RequireTool("clang", "apt-get install clang zlib1g-dev");
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h)
            ? h
            : TestEnvironment.RequireTool("dotnet", ".NET SDK");
        var project = Path.Combine(TestEnvironment.RepoRoot, "src", "OfflineSigner.Cli", "OfflineSigner.Cli.csproj");
        var result = ProcessRunner.Run(
            dotnet,
            ["publish", project, "-c", "Release", "-nologo", "-v", "quiet"],
            TimeSpan.FromMinutes(20),
            new Dictionary<string, string?> { ["OFFLINESIGNER_ARTIFACTS"] = artifacts.Path });
        var path = Path.Combine(artifacts.Path, "publish", "OfflineSigner.Cli", "release_linux-x64", "offline-signer");
        if (result.ExitCode != 0 || !File.Exists(path))
        {
            throw new InvalidOperationException($"dotnet publish of the CLI failed\n{result}");
        }

        return path;
    }
}
