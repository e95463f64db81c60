using System.Text;
using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Pkcs11.Tests;

/// <summary>hsm-config/softhsm2/create-token.sh, run as a child process with its own SOFTHSM2_CONF.</summary>
public sealed class CreateTokenScriptTests
{
    private static string Script => Path.Combine(TestEnvironment.RepoRoot, "hsm-config", "softhsm2", "create-token.sh");

    [Fact]
    public void Pins_from_stdin_make_a_token_that_pkcs11_tool_can_log_in_to()
    {
        TestEnvironment.RequireTool("softhsm2-util", "Debian package softhsm2");
        var tool = TestEnvironment.RequireTool("pkcs11-tool", "Debian package opensc");
        using var dir = TestEnvironment.CreateTempDir("ct");
        var result = ProcessRunner.Run("/bin/sh", [Script, "--dir", dir.Path, "--label", "stdin-token"], stdin: Encoding.ASCII.GetBytes("24682468\n13571357\n"));
        Assert.True(result.ExitCode == 0, result.ToString());
        var conf = Path.Combine(dir.Path, "softhsm2.conf");
        Assert.Equal($"SOFTHSM2_CONF={conf}\n", result.StdOut);
        Assert.Contains($"directories.tokendir = {dir.Path}/tokens", File.ReadAllText(conf), StringComparison.Ordinal);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(conf));

        var env = new Dictionary<string, string?> { ["SOFTHSM2_CONF"] = conf };
        var login = ProcessRunner.Run(tool, ["--module", "/usr/lib/softhsm/libsofthsm2.so", "--token-label", "stdin-token", "--login", "--pin", "24682468", "--list-objects"], environment: env);
        Assert.True(login.ExitCode == 0, login.ToString());
        var wrong = ProcessRunner.Run(tool, ["--module", "/usr/lib/softhsm/libsofthsm2.so", "--token-label", "stdin-token", "--login", "--pin", "13571357", "--list-objects"], environment: env);
        Assert.NotEqual(0, wrong.ExitCode);
    }

    [Fact]
    public void Pins_are_never_taken_from_the_scripts_arguments()
    {
        using var dir = TestEnvironment.CreateTempDir("ct");
        var result = ProcessRunner.Run("/bin/sh", [Script, "--dir", dir.Path, "--label", "x", "--pin", "1234"], stdin: []);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("unknown argument: --pin", result.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_or_short_pins_are_refused()
    {
        TestEnvironment.RequireTool("softhsm2-util", "Debian package softhsm2");
        using var dir = TestEnvironment.CreateTempDir("ct");
        var none = ProcessRunner.Run("/bin/sh", [Script, "--dir", dir.Path, "--label", "x"], stdin: []);
        Assert.Equal(4, none.ExitCode);
        Assert.Contains("no user PIN on standard input", none.StdErr, StringComparison.Ordinal);
        var shortPin = ProcessRunner.Run("/bin/sh", [Script, "--dir", dir.Path, "--label", "x"], stdin: "12\n5678\n"u8.ToArray());
        Assert.Equal(4, shortPin.ExitCode);
        Assert.Contains("at least 4 characters", shortPin.StdErr, StringComparison.Ordinal);
        Assert.DoesNotContain("12", shortPin.StdErr.Replace("at least 4", string.Empty, StringComparison.Ordinal), StringComparison.Ordinal);
    }
}
