using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace OfflineSigner.YubiKeySimulator;

/// <summary>pcscd cannot run here (no root, no unshare, no pcscd or vpcd): the reason, for a skip message.</summary>
public sealed class PcscdUnavailableException : Exception
{
    public PcscdUnavailableException()
    {
    }

    public PcscdUnavailableException(string message)
        : base(message)
    {
    }

    public PcscdUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// A pcscd of its own, for one test fixture, so that fixtures never collide and never use (or disturb) the machine's.
/// <para>
/// pcsc-lite 1.9.9's clients honour $PCSCLITE_CSOCK_NAME, but its daemon always binds /run/pcscd/pcscd.comm. So the
/// daemon runs in a private mount namespace (unshare --mount) in which a fresh directory is bind-mounted over /run:
/// its socket appears on the host as DIR/run/pcscd/pcscd.comm, and clients (ours, yubico-piv-tool, ykman, ykcs11)
/// reach it with PCSCLITE_CSOCK_NAME set to that path. In the same namespace an empty directory hides the CCID
/// driver, so a real YubiKey plugged into the machine is never claimed by a test pcscd. Its only reader is vpcd on
/// a free pair of TCP ports (DEVICENAME /dev/null:PORT: slot 0 on PORT, slot 1 on PORT+1).
/// </para>
/// </summary>
public sealed partial class PcscdSandbox : IDisposable
{
    /// <summary>The reader name Yubico's tools accept (ykcs11 wants "Yubico" first; "OTP", "FIDO", "U2F", "NEO" are avoided).</summary>
    public const string DefaultFriendlyName = "Yubico YubiKey CCID (vpcd)";

    private const string Vpcd = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";
    private const string CcidBundle = "/usr/lib/pcsc/drivers/ifd-ccid.bundle";

    private readonly Process _pcscd;
    private readonly StreamWriter _log;

    private PcscdSandbox(string directory, int port, string friendlyName, Process pcscd, StreamWriter log)
    {
        Directory = directory;
        Port = port;
        FriendlyName = friendlyName;
        _pcscd = pcscd;
        _log = log;
    }

    /// <summary>The sandbox's folder (reader.conf, run/, pcscd.log).</summary>
    public string Directory { get; }

    /// <summary>vpcd's port for reader slot 0 (slot 1 is Port + 1).</summary>
    public int Port { get; }

    public string FriendlyName { get; }

    /// <summary>The pcscd socket clients are pointed at.</summary>
    public string SocketPath => Path.Combine(Directory, "run", "pcscd", "pcscd.comm");

    /// <summary>pcscd's output.</summary>
    public string LogPath => Path.Combine(Directory, "pcscd.log");

    /// <summary>The process id of this sandbox's pcscd (its supervising shell is the process this class started).</summary>
    public int ProcessId => int.Parse(File.ReadAllText(Path.Combine(Directory, "pcscd.pid")).Trim(), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The environment a PC/SC client needs to talk to this pcscd.</summary>
    public IDictionary<string, string?> ClientEnvironment => new Dictionary<string, string?> { ["PCSCLITE_CSOCK_NAME"] = SocketPath };

    /// <summary>The name pcscd gives reader slot <paramref name="slot"/> ("... 00 00").</summary>
    public string ReaderName(int slot = 0) => $"{FriendlyName} 00 {slot:00}";

    /// <summary>Starts pcscd; throws <see cref="PcscdUnavailableException"/> with the reason when this machine cannot.</summary>
    public static PcscdSandbox Start(string friendlyName = DefaultFriendlyName, TimeSpan? timeout = null)
    {
        foreach (var required in new[] { "/usr/sbin/pcscd", Vpcd, "/usr/bin/unshare" })
        {
            if (!File.Exists(required))
            {
                throw new PcscdUnavailableException($"{required} is missing (Debian packages pcscd, vsmartcard-vpcd, util-linux; scripts/setup.sh installs them)");
            }
        }

        var directory = System.IO.Directory.CreateTempSubdirectory("offsig-pcscd-").FullName;
        System.IO.Directory.CreateDirectory(Path.Combine(directory, "run", "pcscd"));
        System.IO.Directory.CreateDirectory(Path.Combine(directory, "empty"));
        var port = FreePortPair();
        File.WriteAllText(Path.Combine(directory, "reader.conf"),
            $"FRIENDLYNAME \"{friendlyName}\"\nDEVICENAME   /dev/null:{port}\nLIBPATH      {Vpcd}\nCHANNELID    {port}\n");
        var hideCcid = System.IO.Directory.Exists(CcidBundle) ? $"mount --bind '{directory}/empty' '{CcidBundle}' && " : string.Empty;
        var debug = Environment.GetEnvironmentVariable("OFFLINESIGNER_PCSCD_DEBUG") == "1" ? "--debug --apdu " : string.Empty;

        // The shell (the process started here) runs pcscd in the background, records its pid, and stops it when pcscd
        // ends or when this test process is gone, so that a test host killed on a hang leaves no pcscd behind.
        var script = $"mount --bind '{directory}/run' /run && {hideCcid}"
            + $"{{ /usr/sbin/pcscd --foreground {debug}--config '{directory}/reader.conf' & }} && "
            + $"p=$! && echo $p > '{directory}/pcscd.pid' && "
            + $"while kill -0 $p 2>/dev/null && kill -0 {Environment.ProcessId} 2>/dev/null; do sleep 1; done; kill $p 2>/dev/null; wait";
        var psi = new ProcessStartInfo("/usr/bin/unshare")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "--mount", "--propagation", "private", "/bin/sh", "-c", script })
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment.Remove("PCSCLITE_CSOCK_NAME");
        var log = new StreamWriter(Path.Combine(directory, "pcscd.log"), append: true) { AutoFlush = true };
        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new PcscdUnavailableException("cannot start unshare");
        }
        catch
        {
            log.Dispose();
            throw;
        }

        process.OutputDataReceived += (_, e) => Write(log, e.Data);
        process.ErrorDataReceived += (_, e) => Write(log, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var sandbox = new PcscdSandbox(directory, port, friendlyName, process, log);
        try
        {
            sandbox.WaitReady(timeout ?? TimeSpan.FromSeconds(20));
            return sandbox;
        }
        catch
        {
            sandbox.Dispose();
            throw;
        }
    }

    /// <summary>Stops pcscd (SIGTERM, then SIGKILL after 5 s) and removes the folder.</summary>
    public void Dispose()
    {
        try
        {
            if (!_pcscd.HasExited)
            {
                // SIGTERM to pcscd itself; its shell then ends on its next check. SIGKILL to both if they linger.
                var pcscd = File.Exists(Path.Combine(Directory, "pcscd.pid")) ? ProcessId : 0;
                if (pcscd > 0)
                {
                    _ = Kill(pcscd, 15);
                }

                if (!_pcscd.WaitForExit(8000))
                {
                    if (pcscd > 0)
                    {
                        _ = Kill(pcscd, 9);
                    }

                    _pcscd.Kill();
                    _pcscd.WaitForExit(5000);
                }
            }
        }
        catch (InvalidOperationException)
        {
            // Never started or already reaped.
        }

        _pcscd.Dispose();
        lock (_log)
        {
            _log.Dispose();
        }

        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: /tmp is cleaned anyway.
        }
        catch (UnauthorizedAccessException)
        {
            // As above.
        }
    }

    private void WaitReady(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_pcscd.HasExited)
            {
                var output = File.Exists(LogPath) ? File.ReadAllText(LogPath) : string.Empty;
                throw new PcscdUnavailableException(
                    $"pcscd in a private mount namespace exited with {_pcscd.ExitCode} (unshare --mount needs root or CAP_SYS_ADMIN): {output.Trim()}");
            }

            // vpcd's listening socket is up once the port can no longer be bound. (Connecting to it would look like a card.)
            if (File.Exists(SocketPath) && File.Exists(Path.Combine(Directory, "pcscd.pid")) && !Free(Port))
            {
                return;
            }

            Thread.Sleep(50);
        }

        throw new PcscdUnavailableException($"pcscd did not come up within {timeout.TotalSeconds:0} s (socket {SocketPath}, vpcd port {Port}); see {LogPath}");
    }

    private static void Write(StreamWriter log, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (log)
        {
            try
            {
                log.WriteLine(line);
            }
            catch (ObjectDisposedException)
            {
                // pcscd wrote after the sandbox was closed.
            }
        }
    }

    private static bool Free(int port)
    {
        try
        {
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Any, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>A port P with P and P+1 both free (vpcd listens on one port per slot).</summary>
    private static int FreePortPair()
    {
        for (var i = 0; i < 200; i++)
        {
            var port = Random.Shared.Next(20000, 60000);
            if (Free(port) && Free(port + 1))
            {
                return port;
            }
        }

        throw new PcscdUnavailableException("no free pair of TCP ports for vpcd");
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
