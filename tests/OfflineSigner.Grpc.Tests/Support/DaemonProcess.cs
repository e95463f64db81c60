using System.Diagnostics;
using System.Text;
using System.Text.Json;
using OfflineSigner.Daemon.Tests.Support;
using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Grpc.Tests.Support;

/// <summary>
/// The real offline-signerd (the built program, started with `dotnet exec`) serving a fresh SoftHSM2 token on a Unix
/// socket in a temporary directory, with its own audit log. Killed on dispose.
/// </summary>
internal sealed class DaemonProcess : IDisposable
{
    public const string Backend = "softhsm";

    private readonly TempDir _dir;
    private readonly SoftHsm _hsm;
    private readonly StringBuilder _output = new();
    private Process? _process;

    private DaemonProcess(SoftHsm hsm, TempDir dir, string tokenLabel, string? daemonSection)
    {
        _hsm = hsm;
        _dir = dir;
        TokenLabel = tokenLabel;
        SocketPath = Path.Combine(dir.Path, "run", "signerd.sock");
        AuditLogPath = Path.Combine(dir.Path, "audit.jsonl");
        ConfigPath = Path.Combine(dir.Path, "config.json");
        var pinFile = Path.Combine(dir.Path, "user.pin");
        File.WriteAllBytes(pinFile, [.. SoftHsm.UserPin, (byte)'\n']);
        File.SetUnixFileMode(pinFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var daemon = daemonSection ?? string.Empty;
        File.WriteAllText(ConfigPath, $$"""
            {
              "backends": [ { "name": "{{Backend}}", "type": "pkcs11", "module": "{{SoftHsm.ModulePath}}", "token": { "label": "{{tokenLabel}}" }, "pin": { "file": {{JsonSerializer.Serialize(pinFile)}} } } ],
              "daemon": { "socket": {{JsonSerializer.Serialize(SocketPath)}}, "auditLog": {{JsonSerializer.Serialize(AuditLogPath)}}{{(daemon.Length > 0 ? ", " + daemon : string.Empty)}} }
            }
            """);
    }

    public string TokenLabel { get; }

    public string SocketPath { get; }

    /// <summary>unix:///…/signerd.sock, the target the peer clients take.</summary>
    public string Target => "unix://" + SocketPath;

    public string AuditLogPath { get; }

    public string ConfigPath { get; }

    public string Directory => _dir.Path;

    public int Pid => _process?.Id ?? throw new InvalidOperationException("not running");

    /// <summary>Everything the daemon printed so far.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>The built daemon next to the tests.</summary>
    public static string Program => Path.Combine(AppContext.BaseDirectory, "offline-signerd.dll");

    /// <summary>The PIN of every test token (the SoftHSM fixture's user PIN).</summary>
    public static byte[] Pin => SoftHsm.UserPin;

    /// <summary>Starts a daemon on a new token; <paramref name="daemonSection"/> adds members to the config's "daemon" object.</summary>
    public static DaemonProcess Start(SoftHsm hsm, string? daemonSection = null, params string[] extraArgs)
    {
        ArgumentNullException.ThrowIfNull(hsm);
        var label = hsm.CreateToken("grpc");
        var daemon = new DaemonProcess(hsm, TestEnvironment.CreateTempDir("signerd"), label, daemonSection);
        daemon.Launch(extraArgs);
        return daemon;
    }

    /// <summary>Starts the daemon process again on the same token, socket and audit log.</summary>
    public void Launch(params string[] extraArgs)
    {
        var dotnet = TestEnvironment.DotnetHost;
        var psi = new ProcessStartInfo(dotnet)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in (string[])["exec", Program, "serve", "--config", ConfigPath, .. extraArgs])
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["SOFTHSM2_CONF"] = _hsm.ConfPath;
        psi.Environment.Remove("NOTIFY_SOCKET");
        psi.Environment.Remove("LISTEN_FDS");
        lock (_output)
        {
            _output.Clear();
        }

        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => Record(e.Data, ready);
        process.ErrorDataReceived += (_, e) => Record(e.Data, null);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;

        var exited = process.WaitForExitAsync();
        var first = Task.WhenAny(ready.Task, exited, Task.Delay(TimeSpan.FromSeconds(60))).GetAwaiter().GetResult();
        if (first != ready.Task)
        {
            var state = process.HasExited ? $"exited with {process.ExitCode}" : "did not report serving within 60 s";
            Kill();
            Assert.Fail($"offline-signerd {state}\n{Output}");
        }
    }

    /// <summary>SIGKILL, no chance to clean up.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false } p)
        {
            p.Kill();
            p.WaitForExit();
        }
    }

    /// <summary>SIGTERM, then waits for a clean exit; returns the exit code.</summary>
    public int Stop()
    {
        var p = _process ?? throw new InvalidOperationException("not running");
        if (!p.HasExited)
        {
            ProcessRunner.Run("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            if (!p.WaitForExit(TimeSpan.FromSeconds(30)))
            {
                Kill();
                Assert.Fail("offline-signerd did not stop within 30 s of SIGTERM\n" + Output);
            }
        }

        p.WaitForExit();
        return p.ExitCode;
    }

    public bool HasExited => _process?.HasExited ?? true;

    /// <summary>Resident memory of the daemon in bytes (VmRSS).</summary>
    public long ResidentBytes()
    {
        var line = File.ReadLines($"/proc/{Pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }

    public void Dispose()
    {
        Kill();
        _process?.Dispose();
        _dir.Dispose();
    }

    private void Record(string? line, TaskCompletionSource? ready)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }

        if (ready is not null && line.Contains(" serving ", StringComparison.Ordinal))
        {
            ready.TrySetResult();
        }
    }
}
