using System.Runtime.InteropServices;
using OfflineSigner.Pkcs11.Interop;
using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Pkcs11.Tests.Support;

/// <summary>Tests that load SoftHSM into this process run one at a time: the module reads SOFTHSM2_CONF at C_Initialize.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SoftHsmSerialGroup
{
    public const string Name = "SoftHSM in process";
}

/// <summary>
/// A temporary SoftHSM configuration and token directory for one test. Tokens are made with
/// hsm-config/softhsm2/create-token.sh (PINs from files). <see cref="Activate"/> points this process at it; child
/// processes (pkcs11-tool, python) get <see cref="ChildEnvironment"/>.
/// </summary>
internal sealed class SoftHsmSandbox : IDisposable
{
    public const string ModulePath = "/usr/lib/softhsm/libsofthsm2.so";
    public const string UserPin = "1234";
    public const string SoPin = "5678";

    private readonly TempDir _dir;

    private SoftHsmSandbox(TempDir dir)
    {
        _dir = dir;
        ConfPath = Path.Combine(dir.Path, "softhsm2.conf");
        TokenDir = Path.Combine(dir.Path, "tokens");
        UserPinFile = WritePinFile("user.pin", UserPin);
        SoPinFile = WritePinFile("so.pin", SoPin);
    }

    public string Dir => _dir.Path;

    public string ConfPath { get; }

    public string TokenDir { get; }

    public string UserPinFile { get; }

    public string SoPinFile { get; }

    public Dictionary<string, string?> ChildEnvironment => new() { ["SOFTHSM2_CONF"] = ConfPath };

    /// <summary>A sandbox with one token per label; skips the test when SoftHSM is not installed.</summary>
    public static SoftHsmSandbox Create(params string[] labels)
    {
        if (!File.Exists(ModulePath))
        {
            Assert.Skip($"SoftHSM module {ModulePath} is not installed (Debian package softhsm2)");
        }

        TestEnvironment.RequireTool("softhsm2-util", "Debian package softhsm2");
        var sandbox = new SoftHsmSandbox(TestEnvironment.CreateTempDir("softhsm"));
        try
        {
            foreach (var label in labels)
            {
                sandbox.CreateToken(label);
            }

            return sandbox;
        }
        catch
        {
            sandbox.Dispose();
            throw;
        }
    }

    public string WritePinFile(string name, string pin)
    {
        var path = Path.Combine(Dir, name);
        File.WriteAllText(path, pin + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }

    /// <summary>Runs create-token.sh for <paramref name="label"/> with the sandbox's PIN files.</summary>
    public void CreateToken(string label)
    {
        var script = Path.Combine(TestEnvironment.RepoRoot, "hsm-config", "softhsm2", "create-token.sh");
        var result = ProcessRunner.Run(
            "/bin/sh",
            [script, "--dir", Dir, "--label", label, "--user-pin-file", UserPinFile, "--so-pin-file", SoPinFile]);
        Assert.True(result.ExitCode == 0, "create-token.sh failed: " + result);
        Assert.Contains("SOFTHSM2_CONF=" + ConfPath, result.StdOut, StringComparison.Ordinal);
    }

    /// <summary>The directory SoftHSM keeps the token <paramref name="label"/> in.</summary>
    public string TokenDirectoryOf(string label)
    {
        foreach (var dir in Directory.GetDirectories(TokenDir))
        {
            var file = Path.Combine(dir, "token.object");
            if (File.Exists(file) && TokenObjectFile.ReadLabel(File.ReadAllBytes(file)) == label)
            {
                return dir;
            }
        }

        throw new InvalidOperationException($"no token directory for label {label}");
    }

    /// <summary>Points this process at the sandbox. No SoftHSM module may be initialized at this time.</summary>
    public void Activate()
    {
        Assert.Empty(Pkcs11ModuleRegistry.InitializedModules());
        NativeEnvironment.Set("SOFTHSM2_CONF", ConfPath);
    }

    public Pkcs11TokenOptions Options(string label, string? pinFile = null) =>
        new(ModulePath, TokenSelector.ByLabel(label), new FilePinSource(pinFile ?? UserPinFile));

    public ProcessResult Pkcs11Tool(params string[] arguments)
    {
        var tool = TestEnvironment.RequireTool("pkcs11-tool", "Debian package opensc");
        return ProcessRunner.Run(tool, ["--module", ModulePath, .. arguments], environment: ChildEnvironment);
    }

    public void Dispose() => _dir.Dispose();
}

/// <summary>setenv(3) for variables a native module reads with getenv (Environment.SetEnvironmentVariable does not reach it).</summary>
internal static partial class NativeEnvironment
{
    public static void Set(string name, string value)
    {
        if (SetEnv(name, value, 1) != 0)
        {
            throw new InvalidOperationException("setenv failed for " + name);
        }

        Environment.SetEnvironmentVariable(name, value);
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);
}

/// <summary>OpenSC's pkcs11-spy: a module that logs every call and forwards to the real one.</summary>
internal static class Pkcs11Spy
{
    public const string InstalledPath = "/usr/lib/x86_64-linux-gnu/pkcs11-spy.so";

    /// <summary>
    /// Routes a private copy of the spy to SoftHSM, logging to <paramref name="logFile"/>, and returns the copy's path.
    /// The spy reads its environment once per loaded instance, so each test loads its own copy (a different file is a
    /// different instance for the dynamic loader; SoftHSM behind it stays one instance). Skips when the spy is missing.
    /// </summary>
    public static string Activate(SoftHsmSandbox sandbox, string logFile)
    {
        if (!File.Exists(InstalledPath))
        {
            Assert.Skip($"{InstalledPath} is not installed (Debian package opensc-pkcs11)");
        }

        var copy = Path.Combine(sandbox.Dir, "pkcs11-spy.so");
        File.Copy(InstalledPath, copy, overwrite: true);
        NativeEnvironment.Set("PKCS11SPY", SoftHsmSandbox.ModulePath);
        NativeEnvironment.Set("PKCS11SPY_OUTPUT", logFile);
        return copy;
    }

    /// <summary>How many times the log shows a call of <paramref name="function"/>.</summary>
    public static int Count(string logFile, string function)
    {
        if (!File.Exists(logFile))
        {
            return 0;
        }

        using var stream = new FileStream(logFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        var count = 0;
        while (reader.ReadLine() is { } line)
        {
            // Call lines look like "2: C_Login" (older spies) or "2: C_Login\n[...]".
            var colon = line.IndexOf(": ", StringComparison.Ordinal);
            if (colon > 0 && line[(colon + 2)..].Trim() == function && int.TryParse(line[..colon], out _))
            {
                count++;
            }
        }

        return count;
    }
}

/// <summary>Reads and edits SoftHSM's token.object (big-endian records: CKA type, value kind, length, value).</summary>
internal static class TokenObjectFile
{
    // SoftHSM's vendor attributes for the token label and flags (CKA_VENDOR_DEFINED + "SI"/"SK").
    private const ulong LabelAttribute = 0x80005349;
    private const ulong FlagsAttribute = 0x8000534B;

    public static string? ReadLabel(byte[] file)
    {
        var at = Find(file, LabelAttribute);
        if (at < 0)
        {
            return null;
        }

        var length = (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(file.AsSpan(at + 16));
        return System.Text.Encoding.UTF8.GetString(file, at + 24, length).TrimEnd(' ');
    }

    /// <summary>Sets token flag bits (for example CKF_USER_PIN_LOCKED), as a token that counted failures would.</summary>
    public static void AddFlags(string tokenDirectory, ulong flags)
    {
        var path = Path.Combine(tokenDirectory, "token.object");
        var file = File.ReadAllBytes(path);
        var at = Find(file, FlagsAttribute);
        Assert.True(at >= 0, "token.object has no flags record");
        var value = file.AsSpan(at + 16, 8);
        var current = System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(value);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(value, current | flags);
        File.WriteAllBytes(path, file);
    }

    private static int Find(byte[] file, ulong attribute)
    {
        Span<byte> needle = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(needle, attribute);

        // Records start after the 8-byte generation counter.
        for (var i = 8; i + 24 <= file.Length; i++)
        {
            if (file.AsSpan(i, 8).SequenceEqual(needle))
            {
                return i;
            }
        }

        return -1;
    }
}
