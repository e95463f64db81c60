using System.Runtime.InteropServices;
using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Daemon.Tests.Support;

/// <summary>
/// A temporary SoftHSM configuration for the test run; each test makes its own token in it with
/// hsm-config/softhsm2/create-token.sh (PINs from files), so tests never share keys.
/// </summary>
public sealed partial class SoftHsm : IDisposable
{
    public const string ModulePath = "/usr/lib/softhsm/libsofthsm2.so";
    public static readonly byte[] UserPin = "1234"u8.ToArray();

    private readonly TempDir? _dir;
    private readonly string? _userPinFile;
    private readonly string? _soPinFile;
    private int _tokens;

    public SoftHsm()
    {
        if (!File.Exists(ModulePath) || TestEnvironment.FindTool("softhsm2-util") is null)
        {
            return;
        }

        _dir = TestEnvironment.CreateTempDir("daemon-softhsm");
        _userPinFile = WritePin("user.pin", "1234");
        _soPinFile = WritePin("so.pin", "5678");
        ConfPath = Path.Combine(_dir.Path, "softhsm2.conf");
    }

    /// <summary>The SOFTHSM2_CONF of the run (once the first token exists).</summary>
    public string? ConfPath { get; }

    /// <summary>Creates a fresh token and returns its label; skips the test when SoftHSM is not installed.</summary>
    public string CreateToken(string prefix)
    {
        if (_dir is null)
        {
            Assert.Skip($"SoftHSM ({ModulePath}, softhsm2-util) is not installed (Debian package softhsm2)");
        }

        var label = $"{prefix}-{Interlocked.Increment(ref _tokens)}";
        var script = Path.Combine(TestEnvironment.RepoRoot, "hsm-config", "softhsm2", "create-token.sh");
        var result = ProcessRunner.Run("/bin/sh", [script, "--dir", _dir.Path, "--label", label, "--user-pin-file", _userPinFile!, "--so-pin-file", _soPinFile!]);
        Assert.True(result.ExitCode == 0, "create-token.sh failed: " + result);
        if (SetEnv("SOFTHSM2_CONF", ConfPath!, 1) != 0)
        {
            throw new InvalidOperationException("setenv SOFTHSM2_CONF failed");
        }

        Environment.SetEnvironmentVariable("SOFTHSM2_CONF", ConfPath);
        return label;
    }

    public void Dispose() => _dir?.Dispose();

    private string WritePin(string name, string pin)
    {
        var path = Path.Combine(_dir!.Path, name);
        File.WriteAllText(path, pin + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);
}
