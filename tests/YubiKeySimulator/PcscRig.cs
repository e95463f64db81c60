using System.Runtime.InteropServices;

namespace OfflineSigner.YubiKeySimulator;

/// <summary>
/// The pcscd of this test process, and the simulated YubiKeys in its reader.
/// <para>
/// Why one per process and not one per fixture: libpcsclite reads $PCSCLITE_CSOCK_NAME once per process (pcsc-lite
/// 1.9.9 winscard_msg.c: SocketName_init under pthread_once), so every PC/SC client inside one process, ours and
/// ykcs11 alike, talks to the first pcscd it found. Each test process (test assembly) therefore gets its own pcscd on
/// its own socket (see <see cref="PcscdSandbox"/>), and the tests of one process that use it run one at a time (the
/// "pcscd" collection of each test assembly disables parallelization), each with a fresh card. Child processes
/// (yubico-piv-tool, ykman, pkcs11-tool) are pointed at the same socket through their environment.
/// </para>
/// </summary>
public static partial class PcscRig
{
    private static readonly Lazy<PcscdSandbox> Instance = new(Start, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>This process's pcscd; throws <see cref="PcscdUnavailableException"/> when it cannot run here.</summary>
    public static PcscdSandbox Sandbox => Instance.Value;

    /// <summary>The environment that points a child process at this process's pcscd.</summary>
    public static IDictionary<string, string?> ClientEnvironment => Sandbox.ClientEnvironment;

    /// <summary>The reader name of vpcd slot <paramref name="slot"/>.</summary>
    public static string ReaderName(int slot = 0) => Sandbox.ReaderName(slot);

    /// <summary>Inserts a fresh simulated YubiKey into vpcd slot <paramref name="slot"/> (0 or 1).</summary>
    public static VirtualYubiKey Insert(CardOptions options, SimulatorCa? ca, int slot = 0) => VirtualYubiKey.Insert(Sandbox, options, ca, slot);

    private static PcscdSandbox Start()
    {
        var sandbox = PcscdSandbox.Start();

        // .NET's Environment.SetEnvironmentVariable does not reach the C library's environment, which libpcsclite reads.
        if (SetEnv("PCSCLITE_CSOCK_NAME", sandbox.SocketPath, 1) != 0)
        {
            sandbox.Dispose();
            throw new PcscdUnavailableException("setenv(PCSCLITE_CSOCK_NAME) failed");
        }

        Environment.SetEnvironmentVariable("PCSCLITE_CSOCK_NAME", sandbox.SocketPath);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => sandbox.Dispose();
        return sandbox;
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);
}
