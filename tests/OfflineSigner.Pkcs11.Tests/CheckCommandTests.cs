using OfflineSigner.Daemon.Check;
using OfflineSigner.Pkcs11.Interop;
using OfflineSigner.Pkcs11.Tests.Support;
using OfflineSigner.Signing;
using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Pkcs11.Tests;

/// <summary><c>offline-signerd check</c> against real SoftHSM tokens, in process and as the built executable.</summary>
[Collection(SoftHsmSerialGroup.Name)]
public sealed class CheckCommandTests
{
    [Fact]
    public void A_good_configuration_passes_and_the_self_test_signs_with_every_key()
    {
        using var hsm = SoftHsmSandbox.Create("signer");
        hsm.Activate();
        GenerateKeys(hsm, "signer", (KeyAlgorithm.EcdsaP256, "root-1", 0x01), (KeyAlgorithm.Ed25519, "targets-1", 0x02));
        var config = WriteConfig(hsm, "signer", hsm.UserPinFile, ("root", "pkcs11:token=signer;id=%01"), ("targets", "pkcs11:object=targets-1"));

        var (code, stdout, stderr) = RunInProcess(config, selfTest: true);
        Assert.True(code == CheckCommand.Ok, stdout + stderr);
        Assert.Contains("token: label 'signer'", stdout, StringComparison.Ordinal);
        Assert.Contains("token present: label 'signer'", stdout, StringComparison.Ordinal);
        Assert.Contains("keys on the token: 2", stdout, StringComparison.Ordinal);
        Assert.Contains("key root: EcdsaP256", stdout, StringComparison.Ordinal);
        Assert.Contains("key targets: Ed25519", stdout, StringComparison.Ordinal);
        Assert.Contains("local=yes sensitive=yes always-sensitive=yes extractable=no never-extractable=yes", stdout, StringComparison.Ordinal);
        Assert.Equal(2, CountOf(stdout, "self-test passed"));
        Assert.Contains("check passed", stdout, StringComparison.Ordinal);
        Assert.Equal(string.Empty, stderr);
    }

    [Fact]
    public void Missing_module_and_a_file_that_is_not_a_module_are_named()
    {
        using var hsm = SoftHsmSandbox.Create("t");
        var notModule = Path.Combine(hsm.Dir, "libnot-pkcs11.so");
        File.WriteAllText(notModule, "not an ELF file");
        var config = WriteConfig(hsm, "t", hsm.UserPinFile, [("k", "pkcs11:id=%01")], module: "/nonexistent/libvendor.so");
        var (code, _, stderr) = RunInProcess(config, selfTest: false);
        Assert.Equal(CheckCommand.Problems, code);
        Assert.Contains("error: backend hsm: PKCS#11 module /nonexistent/libvendor.so does not exist", stderr, StringComparison.Ordinal);

        config = WriteConfig(hsm, "t", hsm.UserPinFile, [("k", "pkcs11:id=%01")], module: notModule);
        (code, _, stderr) = RunInProcess(config, selfTest: false);
        Assert.Equal(CheckCommand.Problems, code);
        Assert.Contains($"{notModule} is not a loadable shared library", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Absent_token_wrong_pin_and_locked_pin_are_named()
    {
        using var hsm = SoftHsmSandbox.Create("present", "lockedtoken");
        TokenObjectFile.AddFlags(hsm.TokenDirectoryOf("lockedtoken"), Ckf.UserPinLocked);
        hsm.Activate();
        var wrong = hsm.WritePinFile("wrong.pin", "424242");

        var (code, stdout, stderr) = RunInProcess(WriteConfig(hsm, "absent", hsm.UserPinFile, ("k", "pkcs11:id=%01")), selfTest: false);
        Assert.Equal(CheckCommand.Problems, code);
        Assert.Contains("token label 'absent' is not present", stderr, StringComparison.Ordinal);
        Assert.Contains("token present: label 'present'", stdout, StringComparison.Ordinal);
        Assert.Contains("token present: label 'lockedtoken'", stdout, StringComparison.Ordinal);

        (code, _, stderr) = RunInProcess(WriteConfig(hsm, "present", wrong, ("k", "pkcs11:id=%01")), selfTest: false);
        Assert.Equal(CheckCommand.Problems, code);
        Assert.Contains($"the token rejected the PIN from PIN file {wrong}; the token reports failed PIN attempts", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("424242", stderr, StringComparison.Ordinal);

        (code, _, stderr) = RunInProcess(WriteConfig(hsm, "lockedtoken", hsm.UserPinFile, ("k", "pkcs11:id=%01")), selfTest: false);
        Assert.Equal(CheckCommand.Problems, code);
        Assert.Contains("the user PIN is locked", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Extractable_and_missing_keys_are_named()
    {
        using var hsm = SoftHsmSandbox.Create("keys");
        var gen = hsm.Pkcs11Tool(
            "--token-label", "keys", "--login", "--pin", SoftHsmSandbox.UserPin,
            "--keypairgen", "--key-type", "EC:prime256v1", "--id", "09", "--label", "weak", "--usage-sign", "--extractable");
        Assert.True(gen.ExitCode == 0, gen.ToString());
        hsm.Activate();
        var config = WriteConfig(hsm, "keys", hsm.UserPinFile, ("weak", "pkcs11:id=%09"), ("gone", "pkcs11:object=gone"));

        var (code, _, stderr) = RunInProcess(config, selfTest: true);
        Assert.Equal(CheckCommand.Problems, code);
        Assert.Contains("error: backend hsm: key weak (pkcs11:id=%09): the key is extractable", stderr, StringComparison.Ordinal);
        Assert.Contains("error: backend hsm: key gone (pkcs11:object=gone): no private key matches", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"backends\":[]}", "at least one backend")]
    [InlineData("{\"backends\":[{\"name\":\"a\",\"type\":\"pkcs11\",\"module\":\"/m.so\",\"token\":{\"label\":\"t\"},\"keys\":[{\"name\":\"k\",\"uri\":\"pkcs11:id=%01?pin-value=1234\"}]}]}", "pin-value")]
    [InlineData("{\"backends\":[{\"name\":\"a\",\"type\":\"pkcs11\",\"module\":\"m.so\",\"token\":{\"label\":\"t\"},\"keys\":[{\"name\":\"k\",\"uri\":\"pkcs11:id=%01\"}]}]}", "absolute path")]
    [InlineData("{\"backends\":[{\"name\":\"a\",\"type\":\"pkcs11\",\"module\":\"/m.so\",\"token\":{\"slot\":0},\"keys\":[]}]}", "slot")]
    [InlineData("{\"backends\":[{\"name\":\"a\",\"type\":\"pkcs11\",\"module\":\"/m.so\",\"token\":{\"label\":\"t\"},\"pin\":{\"file\":\"/p\",\"credential\":\"c\"},\"keys\":[{\"name\":\"k\",\"uri\":\"pkcs11:id=%01\"}]}]}", "exactly one")]
    [InlineData("{\"backends\":[{\"name\":\"a\",\"type\":\"pkcs11\",\"module\":\"/m.so\",\"token\":{\"label\":\"t\"},\"keys\":[{\"name\":\"k\",\"uri\":\"pkcs11:token=other;id=%01\"}]}]}", "not this backend's token")]
    [InlineData("{\"backends\":[{\"name\":\"a\",\"type\":\"pkcs11\",\"module\":\"/m.so\",\"token\":{\"label\":\"t\"},\"keys\":[{\"name\":\"k\",\"uri\":\"pkcs11:id=%01?module-path=/other.so\"}]}]}", "carries module-path")]
    public void Invalid_configuration_exits_2_naming_the_problem(string json, string expected)
    {
        using var dir = TestEnvironment.CreateTempDir("config");
        var path = Path.Combine(dir.Path, "config.json");
        File.WriteAllText(path, json);
        var (code, _, stderr) = RunInProcess(path, selfTest: false);
        Assert.Equal(CheckCommand.InvalidConfiguration, code);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("1234", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void The_built_executable_reports_through_its_exit_code()
    {
        using var hsm = SoftHsmSandbox.Create("exe");
        var gen = hsm.Pkcs11Tool(
            "--token-label", "exe", "--login", "--pin", SoftHsmSandbox.UserPin,
            "--keypairgen", "--key-type", "EC:prime256v1", "--id", "01", "--label", "root", "--usage-sign", "--sensitive");
        Assert.True(gen.ExitCode == 0, gen.ToString());
        var daemon = Path.Combine(AppContext.BaseDirectory, "offline-signerd.dll");
        Assert.True(File.Exists(daemon), daemon);
        var dotnet = Environment.ProcessPath ?? "dotnet";
        if (!dotnet.EndsWith("dotnet", StringComparison.Ordinal))
        {
            dotnet = TestEnvironment.RequireTool("dotnet", ".NET SDK");
        }

        var good = WriteConfig(hsm, "exe", hsm.UserPinFile, ("root", "pkcs11:id=%01"));
        var ok = ProcessRunner.Run(dotnet, [daemon, "check", "--config", good, "--self-test"], environment: hsm.ChildEnvironment);
        Assert.True(ok.ExitCode == 0, ok.ToString());
        Assert.Contains("self-test passed", ok.StdOut, StringComparison.Ordinal);

        var wrong = hsm.WritePinFile("wrong.pin", "111111");
        var bad = ProcessRunner.Run(dotnet, [daemon, "check", "--config", WriteConfig(hsm, "exe", wrong, ("root", "pkcs11:id=%01"))], environment: hsm.ChildEnvironment);
        Assert.True(bad.ExitCode == CheckCommand.Problems, bad.ToString());
        Assert.Contains("rejected the PIN", bad.StdErr, StringComparison.Ordinal);

        // The PIN as a systemd credential: $CREDENTIALS_DIRECTORY/NAME, as LoadCredential= provides it.
        var credentials = Path.Combine(hsm.Dir, "credentials");
        Directory.CreateDirectory(credentials);
        File.Copy(hsm.UserPinFile, Path.Combine(credentials, "hsm-pin"));
        var credentialConfig = File.ReadAllText(good).Replace($"\"file\": \"{hsm.UserPinFile}\"", "\"credential\": \"hsm-pin\"", StringComparison.Ordinal);
        Assert.Contains("credential", credentialConfig, StringComparison.Ordinal);
        var credentialPath = Path.Combine(hsm.Dir, "credential-config.json");
        File.WriteAllText(credentialPath, credentialConfig);
        var withCredential = ProcessRunner.Run(
            dotnet,
            [daemon, "check", "--config", credentialPath, "--self-test"],
            environment: new Dictionary<string, string?> { ["SOFTHSM2_CONF"] = hsm.ConfPath, ["CREDENTIALS_DIRECTORY"] = credentials });
        Assert.True(withCredential.ExitCode == 0, withCredential.ToString());
        var withoutCredential = ProcessRunner.Run(
            dotnet,
            [daemon, "check", "--config", credentialPath],
            environment: new Dictionary<string, string?> { ["SOFTHSM2_CONF"] = hsm.ConfPath, ["CREDENTIALS_DIRECTORY"] = null });
        Assert.Equal(CheckCommand.Problems, withoutCredential.ExitCode);
        Assert.Contains("systemd credential 'hsm-pin' is configured but CREDENTIALS_DIRECTORY is not set", withoutCredential.StdErr, StringComparison.Ordinal);

        var usage = ProcessRunner.Run(dotnet, [daemon, "check"], environment: hsm.ChildEnvironment);
        Assert.NotEqual(0, usage.ExitCode);
        Assert.Contains("--config", usage.StdErr + usage.StdOut, StringComparison.Ordinal);
    }

    private static void GenerateKeys(SoftHsmSandbox hsm, string label, params (KeyAlgorithm Algorithm, string Label, byte Id)[] keys)
    {
        using var token = Pkcs11Token.Open(hsm.Options(label));
        foreach (var (algorithm, keyLabel, id) in keys)
        {
            using var signer = Pkcs11KeyGenerator.Generate(token, algorithm, keyLabel, [id]);
        }
    }

    private static string WriteConfig(SoftHsmSandbox hsm, string tokenLabel, string pinFile, params (string Name, string Uri)[] keys) =>
        WriteConfig(hsm, tokenLabel, pinFile, keys, SoftHsmSandbox.ModulePath);

    private static string WriteConfig(SoftHsmSandbox hsm, string tokenLabel, string pinFile, (string Name, string Uri)[] keys, string module)
    {
        var keyJson = string.Join(",", keys.Select(k => $"{{\"name\":\"{k.Name}\",\"uri\":\"{k.Uri}\"}}"));
        var json = $$"""
            {
              "backends": [
                {
                  "name": "hsm",
                  "type": "pkcs11",
                  "module": "{{module}}",
                  "token": { "label": "{{tokenLabel}}" },
                  "pin": { "file": "{{pinFile}}" },
                  "keys": [{{keyJson}}]
                }
              ]
            }
            """;
        var path = Path.Combine(hsm.Dir, $"config-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }

    private static (int Code, string StdOut, string StdErr) RunInProcess(string config, bool selfTest)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = CheckCommand.Run(config, selfTest, output, error);
        Assert.False(Pkcs11ModuleRegistry.IsInitialized(SoftHsmSandbox.ModulePath), "check left the module initialized");
        return (code, output.ToString(), error.ToString());
    }

    private static int CountOf(string text, string part)
    {
        var count = 0;
        for (var i = text.IndexOf(part, StringComparison.Ordinal); i >= 0; i = text.IndexOf(part, i + 1, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
