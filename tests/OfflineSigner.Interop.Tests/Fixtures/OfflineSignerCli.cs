using OfflineSigner.Tests.Shared;

namespace OfflineSigner.Interop.Tests.Fixtures;

/// <summary>Runs our own CLI (offline-signer.dll, built beside this test assembly) as a separate process, as a user would.</summary>
internal static class OfflineSignerCli
{
    public static ProcessResult Run(IEnumerable<string> arguments, TimeSpan? timeout = null)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "offline-signer.dll");
        if (!File.Exists(dll))
        {
            throw new PeerToolException($"{dll} was not built beside the tests");
        }

        // dotnet test names the host it runs under; fall back to the one on PATH.
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h)
            ? h
            : TestEnvironment.RequireTool("dotnet", ".NET SDK");
        return ProcessRunner.Run(host, [dll, .. arguments], timeout ?? TimeSpan.FromMinutes(5));
    }

    /// <summary>Runs the CLI and throws with its output unless it exits 0.</summary>
    public static ProcessResult RunChecked(params string[] arguments)
    {
        var result = Run(arguments);
        if (result.ExitCode != 0)
        {
            throw new PeerToolException($"offline-signer {string.Join(' ', arguments)} failed\n{result}");
        }

        return result;
    }
}
