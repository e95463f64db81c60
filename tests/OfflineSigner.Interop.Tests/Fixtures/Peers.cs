using OfflineSigner.Tests.Shared;

namespace OfflineSigner.Interop.Tests.Fixtures;

/// <summary>Where the peer scripts of tests/peers are, with the skips that go with them.</summary>
internal static class Peers
{
    /// <summary>Debian's python (the one that has python3-securesystemslib), not a pyenv shim on PATH.</summary>
    public const string Python = "/usr/bin/python3";

    public static string Dir => Path.Combine(TestEnvironment.RepoRoot, "tests", "peers");

    public static string Script(string name) => Path.Combine(Dir, name);

    /// <summary>Skips unless Debian's python3 has securesystemslib; returns the interpreter.</summary>
    public static string RequireSecuresystemslib() =>
        TestEnvironment.RequirePythonModule("securesystemslib.formats", "python3-securesystemslib");

    /// <summary>Skips unless node and tuf-js (npm ci in tests/peers) are there; returns node's path.</summary>
    public static string RequireTufJs()
    {
        TestEnvironment.RequireNodeModule("tuf-js");
        return TestEnvironment.RequireTool("node", "Node.js 20 or newer");
    }
}

/// <summary>A peer tool did not do what a test asked of it; the message carries its output.</summary>
public sealed class PeerToolException : Exception
{
    public PeerToolException()
    {
    }

    public PeerToolException(string message)
        : base(message)
    {
    }

    public PeerToolException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
