using OfflineSigner.Signing;
using OfflineSigner.Tests.Shared;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Crypto;
using OfflineSigner.YubiKey.Attestation;
using OfflineSigner.YubiKey.Piv;
using Xunit;

namespace OfflineSigner.YubiKey.Hardware.Tests;

/// <summary>The backend against a real, allow-listed YubiKey on the system's pcscd; skipped, saying why, otherwise.</summary>
public sealed class RealYubiKeyTests
{
    [Fact]
    public void Reads_version_serial_and_pin_tries()
    {
        var info = RealYubiKey.Require();
        using var device = YubiKeyDevices.Open(info.Serial);
        Assert.Equal(info.Serial, device.Serial);
        Assert.True(device.Firmware >= new FirmwareVersion(5, 0, 0));
        var retries = device.PinRetries();
        Assert.True(retries is > 0, "the PIN of the allowed YubiKey is blocked; unblock it before running these tests");
    }

    [Fact]
    public void Generates_signs_tuf_metadata_and_the_attestation_chains_to_yubicos_published_root()
    {
        var info = RealYubiKey.Require();
        var rootsFolder = TestEnvironment.RequireSharedData("yubico-piv-roots");
        using var dir = TestEnvironment.CreateTempDir("yubico-roots");
        var bundle = Path.Combine(dir.Path, "roots.pem");
        File.WriteAllText(bundle, string.Concat(Directory.GetFiles(rootsFolder, "*.pem").Order(StringComparer.Ordinal).Select(File.ReadAllText)));
        var roots = PivAttestationRoots.Load(bundle, ["yubico"]);

        var slot = RealYubiKey.Slot;
        var managementKey = RealYubiKey.ManagementKey();
        var pin = RealYubiKey.Pin();
        try
        {
            using var device = YubiKeyDevices.Open(info.Serial);
            var algorithm = device.Firmware >= FirmwareVersion.EucleakFixed ? KeyAlgorithm.Ed25519 : KeyAlgorithm.Rsa2048;

            // The allowed slot is the tests' own: whatever a previous run left there is replaced.
            if (device.GetKey(slot) is not null)
            {
                device.Session.AuthenticateManagementKey(device.Session.ManagementKeyAlgorithm(), managementKey);
                device.Session.GenerateKeyPair(slot, PivAlgorithms.FromKeyAlgorithm(algorithm), PivPinPolicy.Once, PivTouchPolicy.Never);
            }
            else
            {
                device.GenerateKey(slot, algorithm, PivPinPolicy.Once, PivTouchPolicy.Never, managementKey);
            }

            var key = device.GetKey(slot)!;
            var statement = device.Attest(slot);
            var result = PivAttestationVerifier.Verify(statement, roots, new PivAttestationRequirements { PublicKey = key.SubjectPublicKeyInfo, Serial = info.Serial, Slot = slot }, DateTimeOffset.UtcNow);

            // Keys on 5.7.4 and later chain through "Yubico Attestation Root 1", which is not among ../shared's roots.
            if (result.TrustedRootFingerprint is null && device.Firmware >= new FirmwareVersion(5, 7, 4))
            {
                Assert.Contains(result.Violations, v => v.Contains("does not chain", StringComparison.Ordinal));
            }
            else
            {
                Assert.True(result.MeetsPolicy, string.Join("; ", result.Violations));
            }

            // A key generated for tests has PIN "once" and touch "never": a root key's requirements refuse it.
            var strict = PivAttestationVerifier.Verify(statement, roots, PivAttestationRequirements.RootKey, DateTimeOffset.UtcNow);
            Assert.Contains("the key's touch policy is never; it must be always", strict.Violations);

            using var signer = device.OpenSigner(slot, pin);
            var listed = Key.FromPublicKey(PublicKey.FromSubjectPublicKeyInfo(signer.SubjectPublicKeyInfo.Span), Dialect.TufSpecification);
            var root = Root.Create(Dialect.TufSpecification, DateTimeOffset.UtcNow.AddDays(30));
            foreach (var role in Root.TopLevelRoles)
            {
                root.AddKey(role, listed);
            }

            var metadata = Metadata<Root>.Create(root);
            metadata.SignWith(signer, listed);
            Assert.True(Verifier.Verify("root", metadata.Signed.Roles["root"], metadata.Signed.Keys, Metadata<Root>.Parse(metadata.ToBytes())).Verified);
        }
        finally
        {
            RealYubiKey.Wipe(managementKey);
            RealYubiKey.Wipe(pin);
        }
    }
}
