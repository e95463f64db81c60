using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using OfflineSigner.Daemon.Tests.Support;
using OfflineSigner.Protocol.Client;
using OfflineSigner.Signing;
using OfflineSigner.Tests.Shared;
using OfflineSigner.YubiKeySimulator;
using Xunit;

namespace OfflineSigner.CeremonyRun.Tests.Support;

/// <summary>
/// The machines of a ceremony on one host. Air-gapped side: a real offline-signerd with a "yubikey" backend on three
/// simulated YubiKeys (distinct serials, firmware 5.7.1, this test process's pcscd and vpcd, whose reader has two slots:
/// Alice's key stays in slot 0, Bob's and Carol's are swapped in slot 1 when the ceremony asks for them, as holders
/// hand their keys over) and a "pkcs11" backend on a fresh SoftHSM2 token; the offline-signer CLI run as separate
/// processes, PINs on a file descriptor. Online side: the same CLI on a TUF repository folder.
/// </summary>
internal sealed class CeremonyRig : IDisposable
{
    public const string YubiKeyPin = "123456";

    private readonly TempDir dir;
    private readonly Process daemon;
    private readonly StringBuilder daemonOutput = new();
    private readonly Dictionary<uint, VirtualYubiKey> cards = [];
    private readonly Dictionary<uint, CardOptions> pending = [];
    private uint? inSlot1;

    private CeremonyRig(TempDir dir, SimulatorCa ca, uint[] serials, string tokenLabel, Process daemon, string socket)
    {
        this.dir = dir;
        Ca = ca;
        Serials = serials;
        TokenLabel = tokenLabel;
        this.daemon = daemon;
        Socket = socket;
    }

    public SimulatorCa Ca { get; }

    /// <summary>Alice's, Bob's and Carol's YubiKey serials.</summary>
    public uint[] Serials { get; }

    public string TokenLabel { get; }

    public string Socket { get; }

    public string Dir => dir.Path;

    /// <summary>The simulator CA as the trusted PIV attestation roots of a rehearsal.</summary>
    public string RootsPem => Path("simulator-roots.pem");

    public string OnlineKey => Path("online.pem");

    public string DaemonOutput
    {
        get
        {
            lock (daemonOutput)
            {
                return daemonOutput.ToString();
            }
        }
    }

    public string Path(string name) => System.IO.Path.Combine(dir.Path, name);

    /// <summary>Starts everything; skips when pcscd/vpcd or SoftHSM2 cannot run here.</summary>
    public static CeremonyRig Start(SoftHsm hsm)
    {
        ArgumentNullException.ThrowIfNull(hsm);
        try
        {
            _ = PcscRig.Sandbox;
        }
        catch (PcscdUnavailableException e)
        {
            Assert.Skip("pcscd with the vpcd reader cannot run here: " + e.Message);
        }

        var label = hsm.CreateToken("ceremony");
        var dir = TestEnvironment.CreateTempDir("ceremony-run");
        var first = (uint)RandomNumberGenerator.GetInt32(10_000_000, 99_999_000);
        uint[] serials = [first, first + 1, first + 2];
        var ca = SimulatorCa.Create();
        File.WriteAllText(System.IO.Path.Combine(dir.Path, "simulator-roots.pem"), ca.CertificatePem);
        var managementKey = System.IO.Path.Combine(dir.Path, "management-key");
        File.WriteAllText(managementKey, "010203040506070801020304050607080102030405060708\n");
        File.SetUnixFileMode(managementKey, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var tokenPin = System.IO.Path.Combine(dir.Path, "token.pin");
        File.WriteAllBytes(tokenPin, [.. SoftHsm.UserPin, (byte)'\n']);
        File.SetUnixFileMode(tokenPin, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var socket = System.IO.Path.Combine(dir.Path, "run", "signerd.sock");
        var config = System.IO.Path.Combine(dir.Path, "config.json");
        string[] holders = ["Alice Archer", "Bob Baker", "Carol Cooper"];
        var devices = string.Join(", ", serials.Select((s, i) => $$"""{ "serial": {{s}}, "holder": "{{holders[i]}}" }"""));
        File.WriteAllText(config, $$"""
            {
              "backends": [
                { "name": "holders", "type": "yubikey", "devices": [ {{devices}} ],
                  "managementKey": { "file": {{JsonSerializer.Serialize(managementKey)}} },
                  "attestation": { "roots": {{JsonSerializer.Serialize(System.IO.Path.Combine(dir.Path, "simulator-roots.pem"))}} },
                  "generate": { "pinPolicy": "always", "touchPolicy": "always" },
                  "insertTimeoutSeconds": 20 },
                { "name": "hsm", "type": "pkcs11", "module": "{{SoftHsm.ModulePath}}", "token": { "label": "{{label}}" }, "pin": { "file": {{JsonSerializer.Serialize(tokenPin)}} } }
              ],
              "daemon": { "socket": {{JsonSerializer.Serialize(socket)}}, "auditLog": {{JsonSerializer.Serialize(System.IO.Path.Combine(dir.Path, "audit.jsonl"))}} }
            }
            """);
        using (var online = SoftwareKeySigner.Generate(KeyAlgorithm.EcdsaP256))
        {
            online.SavePkcs8Pem(System.IO.Path.Combine(dir.Path, "online.pem"));
        }

        var psi = new ProcessStartInfo(TestEnvironment.DotnetHost) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "exec", System.IO.Path.Combine(AppContext.BaseDirectory, "offline-signerd.dll"), "serve", "--config", config })
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["PCSCLITE_CSOCK_NAME"] = PcscRig.Sandbox.SocketPath;
        psi.Environment["SOFTHSM2_CONF"] = hsm.ConfPath;
        psi.Environment.Remove("NOTIFY_SOCKET");
        psi.Environment.Remove("LISTEN_FDS");
        var process = Process.Start(psi)!;
        var rig = new CeremonyRig(dir, ca, serials, label, process, socket);
        using var serving = new ManualResetEventSlim();
        void Record(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (rig.daemonOutput)
            {
                rig.daemonOutput.AppendLine(line);
            }

            if (line.Contains(" serving ", StringComparison.Ordinal))
            {
                serving.Set();
            }
        }

        process.OutputDataReceived += (_, e) => Record(e.Data);
        process.ErrorDataReceived += (_, e) => Record(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!serving.Wait(TimeSpan.FromSeconds(60)))
        {
            var output = rig.DaemonOutput;
            rig.Dispose();
            Assert.Fail("offline-signerd did not start serving\n" + output);
        }

        // Alice's key in slot 0, Bob's in slot 1; Carol's waits to be handed over.
        rig.cards[serials[0]] = PcscRig.Insert(Options(serials[0]), ca, 0);
        rig.cards[serials[1]] = PcscRig.Insert(Options(serials[1]), ca, 1);
        rig.inSlot1 = serials[1];
        rig.pending[serials[2]] = Options(serials[2]);
        return rig;
    }

    /// <summary>The serial of the SoftHSM2 token, as the daemon reports it.</summary>
    public string TokenSerial()
    {
        using var channel = new DaemonChannel(Socket);
        var client = new DaemonClient(channel);
        var backends = client.ListBackendsAsync(new Protocol.V1.ListBackendsRequest(), CallOptions.WithTimeout(TimeSpan.FromSeconds(60), default)).GetAwaiter().GetResult();
        return backends.Backends.Single(b => b.Name == "hsm").Tokens.Single(t => t.Label == TokenLabel).Serial;
    }

    /// <summary>Makes sure the YubiKey with <paramref name="serial"/> is inserted (slot 0 holds Alice's; slot 1 is swapped).</summary>
    public void Insert(uint serial)
    {
        if (serial == Serials[0] || inSlot1 == serial)
        {
            return;
        }

        if (inSlot1 is { } current)
        {
            cards[current].Remove();
            Thread.Sleep(VpcdLink.MinimumAbsence + TimeSpan.FromMilliseconds(500));
        }

        if (pending.Remove(serial, out var options))
        {
            cards[serial] = PcscRig.Insert(options, Ca, 1);
        }
        else
        {
            cards[serial].Reinsert();
        }

        inSlot1 = serial;
        Thread.Sleep(TimeSpan.FromMilliseconds(500));
    }

    /// <summary>Runs offline-signer with the daemon's socket in the environment.</summary>
    public ProcessResult Cli(params string[] args) =>
        ProcessRunner.Run(
            TestEnvironment.DotnetHost,
            ["exec", System.IO.Path.Combine(AppContext.BaseDirectory, "offline-signer.dll"), .. args],
            TimeSpan.FromMinutes(5),
            new Dictionary<string, string?> { ["OFFLINE_SIGNER_SOCKET"] = Socket });

    public ProcessResult Ok(params string[] args)
    {
        var r = Cli(args);
        Assert.True(r.ExitCode == 0, $"offline-signer {string.Join(' ', args)}\n{r}");
        return r;
    }

    /// <summary>
    /// Runs 'offline-signer ceremony run' as the people at the machine would: each prompt is read from the console,
    /// the device it names is inserted, and it is answered with <paramref name="answer"/> (default "yes"). The PINs
    /// come on descriptor 3 from a file (YubiKeys first, then the token's, in the order the ceremony asks for them).
    /// </summary>
    public CeremonyConsole RunCeremony(IReadOnlyList<string> args, string[] pins, Func<string, string>? answer = null)
    {
        var pinFile = Path("pins-" + Guid.NewGuid().ToString("N")[..8]);
        File.WriteAllText(pinFile, string.Join('\n', pins) + "\n");
        File.SetUnixFileMode(pinFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var psi = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in (string[])["-c", "exec \"$@\" 3<\"$CEREMONY_PIN_FILE\"", "sh", TestEnvironment.DotnetHost, "exec", System.IO.Path.Combine(AppContext.BaseDirectory, "offline-signer.dll"), "ceremony", "run", .. args, "--pin-fd", "3"])
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["OFFLINE_SIGNER_SOCKET"] = Socket;
        psi.Environment["CEREMONY_PIN_FILE"] = pinFile;
        using var process = Process.Start(psi)!;
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            lock (stderr)
            {
                stderr.AppendLine(e.Data);
            }
        };
        process.BeginErrorReadLine();
        var reader = new Thread(() =>
        {
            var buffer = new char[4096];
            int n;
            while ((n = process.StandardOutput.Read(buffer, 0, buffer.Length)) > 0)
            {
                lock (stdout)
                {
                    stdout.Append(buffer, 0, n);
                    Monitor.PulseAll(stdout);
                }
            }

            lock (stdout)
            {
                Monitor.PulseAll(stdout);
            }
        }) { IsBackground = true };
        reader.Start();
        const string Ask = "to confirm (anything else stops the ceremony): ";
        var answered = 0;
        var prompts = new List<string>();
        var deadline = DateTime.UtcNow.AddMinutes(8);
        while (DateTime.UtcNow < deadline)
        {
            string text;
            lock (stdout)
            {
                text = stdout.ToString();
                if (Count(text, Ask) <= answered && !process.HasExited)
                {
                    Monitor.Wait(stdout, TimeSpan.FromMilliseconds(200));
                    continue;
                }
            }

            if (Count(text, Ask) <= answered)
            {
                break;
            }

            var end = Nth(text, Ask, answered);
            var block = text[..end];
            var start = block.LastIndexOf("\n--- ", StringComparison.Ordinal);
            var lines = block[(start + 5)..].Split('\n');
            var promptId = lines[0].Trim();
            var device = lines.FirstOrDefault(l => l.StartsWith("device: YubiKey serial ", StringComparison.Ordinal));
            if (device is not null)
            {
                Insert(uint.Parse(device["device: YubiKey serial ".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture));
            }

            prompts.Add(promptId);
            var reply = answer?.Invoke(promptId) ?? "yes";
            try
            {
                process.StandardInput.WriteLine(reply);
                process.StandardInput.Flush();
            }
            catch (IOException)
            {
                break;
            }

            answered++;
        }

        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("ceremony run did not end\n" + stdout + "\n" + stderr);
        }

        process.WaitForExit();
        reader.Join(TimeSpan.FromSeconds(10));
        File.Delete(pinFile);
        lock (stdout)
        {
            lock (stderr)
            {
                return new CeremonyConsole(process.ExitCode, stdout.ToString(), stderr.ToString(), prompts);
            }
        }
    }

    public void Dispose()
    {
        foreach (var c in cards.Values)
        {
            c.Dispose();
        }

        if (!daemon.HasExited)
        {
            daemon.Kill();
            daemon.WaitForExit();
        }

        daemon.Dispose();
        Ca.Dispose();
        dir.Dispose();
    }

    /// <summary>A fingerprint of every file under a folder (names and bytes), or "absent": equal means nothing was written.</summary>
    public static string TreeHash(string folder)
    {
        if (!Directory.Exists(folder))
        {
            return "absent";
        }

        var sb = new StringBuilder();
        foreach (var f in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            sb.Append(System.IO.Path.GetRelativePath(folder, f)).Append(' ').Append(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(f)))).Append('\n');
        }

        return sb.ToString();
    }

    private static CardOptions Options(uint serial) => new() { Serial = serial, Firmware = (5, 7, 1) };

    private static int Count(string text, string what)
    {
        var n = 0;
        for (var i = text.IndexOf(what, StringComparison.Ordinal); i >= 0; i = text.IndexOf(what, i + what.Length, StringComparison.Ordinal))
        {
            n++;
        }

        return n;
    }

    private static int Nth(string text, string what, int index)
    {
        var i = -1;
        for (var k = 0; k <= index; k++)
        {
            i = text.IndexOf(what, i + 1, StringComparison.Ordinal);
        }

        return i;
    }
}

/// <summary>What a ceremony run showed and how it ended.</summary>
internal sealed record CeremonyConsole(int ExitCode, string StdOut, string StdErr, IReadOnlyList<string> Prompts)
{
    public override string ToString() => $"exit {ExitCode}\nprompts: {string.Join(", ", Prompts)}\n--- stdout\n{StdOut}\n--- stderr\n{StdErr}";
}
