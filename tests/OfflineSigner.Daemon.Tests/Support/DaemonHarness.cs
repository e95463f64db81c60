using Google.Protobuf;
using OfflineSigner.Daemon.Grpc;
using OfflineSigner.Daemon.Policy;
using OfflineSigner.Daemon.Services;
using OfflineSigner.Pkcs11;
using OfflineSigner.Protocol.V1;
using OfflineSigner.Signing;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Crypto;
using ProtoAlgorithm = OfflineSigner.Protocol.V1.KeyAlgorithm;

namespace OfflineSigner.Daemon.Tests.Support;

/// <summary>The daemon's services over a fresh SoftHSM token, called directly with a context the test builds.</summary>
public sealed class DaemonHarness : IDisposable
{
    public const string Backend = "softhsm";

    public DaemonHarness(SoftHsm hsm, SigningPolicyOptions? policy = null, Pkcs11LoginOptions? login = null)
    {
        ArgumentNullException.ThrowIfNull(hsm);
        TokenLabel = hsm.CreateToken("daemon");
        Pkcs11 = new Pkcs11Backend(Backend, SoftHsm.ModulePath, TokenSelector.ByLabel(TokenLabel), null, KeyProtectionPolicy.Strict, login);
        Backends = new KeyBackends([Pkcs11]);
        Policy = policy ?? new SigningPolicyOptions();
        Gate = new SigningGate(Policy, TimeProvider.System);
        KeyService = new KeyService(Backends, Directory, Audit);
        Signing = new SigningService(Backends, Directory, Gate, Audit, TimeProvider.System);
        Rotation = new RotationService(Signing, Policy, Audit, TimeProvider.System);
    }

    public string TokenLabel { get; }

    /// <summary>The one PKCS#11 backend.</summary>
    public Pkcs11Backend Pkcs11 { get; }

    public KeyBackends Backends { get; }

    public KeyDirectory Directory { get; } = new();

    public MemoryAuditLog Audit { get; } = new();

    public SigningPolicyOptions Policy { get; }

    public SigningGate Gate { get; }

    public KeyService KeyService { get; }

    public SigningService Signing { get; }

    /// <summary>Rotation over the same signing service, gate and audit log.</summary>
    public RotationService Rotation { get; }

    public static CallContext Context(string method) => new() { Uid = 4242, Gid = 4242, Pid = 1, Method = method };

    /// <summary>Generates a key on the token through KeyService.</summary>
    public KeyInfo Generate(string label, byte id, ProtoAlgorithm algorithm = ProtoAlgorithm.EcdsaP256) =>
        KeyService.GenerateKey(
            new GenerateKeyRequest { Backend = Backend, TokenLabel = TokenLabel, Label = label, Id = ByteString.CopyFrom(id), Algorithm = algorithm, Pin = ByteString.CopyFrom(SoftHsm.UserPin) },
            Context("/offlinesigner.v1.KeyService/GenerateKey")).Key;

    /// <summary>The key object a dialect lists for a generated key.</summary>
    public static Key KeyOf(KeyInfo info, OfflineSigner.Tuf.Dialect dialect) =>
        Key.FromPublicKey(PublicKey.FromSubjectPublicKeyInfo(info.SubjectPublicKeyInfo.Span), dialect);

    public PreviewResponse Preview(SigningRequest request) =>
        Signing.Preview(request, Context("/offlinesigner.v1.SigningService/Preview"));

    public SignResponse Sign(SigningRequest request, ReadOnlySpan<byte> expectedSha256, byte[]? pin = null) =>
        Signing.Sign(
            new SignRequest { Request = request, ExpectedSha256 = ByteString.CopyFrom(expectedSha256), Pin = ByteString.CopyFrom(pin ?? SoftHsm.UserPin) },
            Context("/offlinesigner.v1.SigningService/Sign"));

    public void Dispose() => Backends.Dispose();
}
