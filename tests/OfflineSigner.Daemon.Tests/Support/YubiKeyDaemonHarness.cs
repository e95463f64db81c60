using System.Security.Cryptography;
using Google.Protobuf;
using OfflineSigner.Daemon.Grpc;
using OfflineSigner.Daemon.Policy;
using OfflineSigner.Daemon.Services;
using OfflineSigner.Protocol.V1;
using OfflineSigner.Signing;
using OfflineSigner.YubiKey;
using OfflineSigner.YubiKey.Attestation;
using OfflineSigner.YubiKey.Piv;
using OfflineSigner.YubiKeySimulator;
using Xunit;
using ProtoAlgorithm = OfflineSigner.Protocol.V1.KeyAlgorithm;

namespace OfflineSigner.Daemon.Tests.Support;

/// <summary>
/// The daemon's services over a YubiKey backend whose devices are simulated YubiKeys in this test process's pcscd
/// (see <see cref="PcscRig"/>). Tests in this assembly already run one at a time.
/// </summary>
public sealed class YubiKeyDaemonHarness : IDisposable
{
    public const string Backend = "yubikeys";
    public static readonly byte[] Pin = "123456"u8.ToArray();
    public static readonly byte[] ManagementKey = Convert.FromHexString("010203040506070801020304050607080102030405060708");

    private readonly List<VirtualYubiKey> _cards = [];

    public YubiKeyDaemonHarness(IReadOnlyList<YubiKeyHolder> devices, Func<YubiKeyBackendOptions, YubiKeyBackendOptions>? adjust = null, SimulatorCa? trusted = null)
    {
        try
        {
            _ = PcscRig.Sandbox;
        }
        catch (PcscdUnavailableException e)
        {
            Assert.Skip("pcscd with the vpcd reader cannot run here: " + e.Message);
        }

        Ca = SimulatorCa.Create();
        var roots = PivAttestationRoots.FromPem((trusted ?? Ca).CertificatePem, "test-roots.pem");
        var options = new YubiKeyBackendOptions(
            devices,
            Pin: null,
            ManagementKey: () => (byte[])ManagementKey.Clone(),
            roots,
            PivAttestationRequirements.RootKey,
            PivPinPolicy.Always,
            PivTouchPolicy.Always,
            InsertTimeout: TimeSpan.Zero,
            KeyProtectionPolicy.Strict);
        Options = adjust is null ? options : adjust(options);
        Backends = new KeyBackends([new YubiKeyBackend(Backend, Options, Notices.Enqueue)]);
        KeyService = new KeyService(Backends, Directory, Audit);
        Signing = new SigningService(Backends, Directory, new SigningGate(new SigningPolicyOptions(), TimeProvider.System), Audit, TimeProvider.System);
        Attestation = new AttestationService(Backends, Directory, Audit);
    }

    public SimulatorCa Ca { get; }

    public YubiKeyBackendOptions Options { get; }

    public KeyBackends Backends { get; }

    public KeyDirectory Directory { get; } = new();

    public MemoryAuditLog Audit { get; } = new();

    public KeyService KeyService { get; }

    public SigningService Signing { get; }

    public AttestationService Attestation { get; }

    /// <summary>What the backend asked of the operator (written by the backend, read by the test's threads).</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> Notices { get; } = new();

    public static uint RandomSerial() => (uint)RandomNumberGenerator.GetInt32(10_000_000, 99_999_999);

    /// <summary>Inserts a simulated YubiKey (firmware 5.7.1 unless told otherwise) into vpcd slot <paramref name="slot"/>.</summary>
    public VirtualYubiKey Insert(uint serial, int slot = 0, (byte, byte, byte)? firmware = null)
    {
        var card = PcscRig.Insert(new CardOptions { Serial = serial, Firmware = firmware ?? (5, 7, 1) }, Ca, slot);
        _cards.Add(card);
        WaitListed(serial);
        return card;
    }

    /// <summary>Waits until the device shows in <see cref="YubiKeyDevices.List()"/>.</summary>
    public static void WaitListed(uint serial)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!YubiKeyDevices.List().Any(d => d.Serial == serial))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"simulated YubiKey {serial} did not appear");
            }

            Thread.Sleep(50);
        }
    }

    public static CallContext Context(string method) => new() { Uid = 4242, Gid = 4242, Pid = 1, Method = method };

    public KeyInfo Generate(string device, byte slot, ProtoAlgorithm algorithm = ProtoAlgorithm.EcdsaP256) =>
        KeyService.GenerateKey(
            new GenerateKeyRequest { Backend = Backend, TokenLabel = device, Label = "ceremony key", Id = ByteString.CopyFrom(slot), Algorithm = algorithm, Pin = ByteString.CopyFrom(Pin) },
            Context("/offlinesigner.v1.KeyService/GenerateKey")).Key;

    public PreviewResponse Preview(SigningRequest request) => Signing.Preview(request, Context("/offlinesigner.v1.SigningService/Preview"));

    public SignResponse Sign(SigningRequest request, ReadOnlySpan<byte> expectedSha256, byte[]? pin = null) =>
        Signing.Sign(
            new SignRequest { Request = request, ExpectedSha256 = ByteString.CopyFrom(expectedSha256), Pin = ByteString.CopyFrom(pin ?? Pin) },
            Context("/offlinesigner.v1.SigningService/Sign"));

    public AttestResponse Attest(string uri) => Attestation.Attest(new AttestRequest { KeyUri = uri }, Context("/offlinesigner.v1.AttestationService/Attest"));

    public void Dispose()
    {
        Backends.Dispose();
        foreach (var card in _cards)
        {
            card.Dispose();
        }

        Ca.Dispose();
    }
}
