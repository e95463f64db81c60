using OfflineSigner.Signing;
using OfflineSigner.Tests.Shared;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Crypto;
using OfflineSigner.Tuf.Json;
using OfflineSigner.YubiKey.Piv;
using OfflineSigner.YubiKey.Tests.Support;
using OfflineSigner.YubiKeySimulator;
using Xunit;

namespace OfflineSigner.YubiKey.Tests;

/// <summary>
/// TUF metadata signed with keys in the simulated YubiKey through pcscd, in both dialects, verified by our TUF core and
/// by peers nobody here wrote: securesystemslib for the specification dialect, python3-cryptography for notary's.
/// </summary>
[Collection(SimulatedCard.Collection)]
public sealed class TufSigningTests
{
    private static readonly DateTimeOffset Expires = DateTimeOffset.UtcNow.AddDays(30);

    public static TheoryData<KeyAlgorithm, byte, int> Keys => new()
    {
        { KeyAlgorithm.EcdsaP256, 0x9C, 4 },
        { KeyAlgorithm.EcdsaP384, 0x9D, 4 },
        { KeyAlgorithm.Rsa2048, 0x9A, 4 },
        { KeyAlgorithm.Ed25519, 0x82, 7 },
        { KeyAlgorithm.Rsa3072, 0x83, 7 },
    };

    [Theory]
    [MemberData(nameof(Keys))]
    public void Metadata_signed_on_the_yubikey_verifies_in_both_dialects(KeyAlgorithm algorithm, byte slotByte, int firmwareMinor)
    {
        using var card = SimulatedCard.Insert(new CardOptions { Firmware = (5, (byte)firmwareMinor, 1) });
        var slot = new PivSlot(slotByte);
        using (var device = YubiKeyDevices.Open(card.Serial))
        {
            device.GenerateKey(slot, algorithm, PivPinPolicy.Always, PivTouchPolicy.Never, PivBackendTests.ManagementKey);
        }

        using var signer = YubiKeyDevices.Open(card.Serial).OpenSigner(slot, PivBackendTests.Pin);
        Assert.Equal($"yubikey:serial={card.Serial};slot={slot}", signer.KeyReference);
        foreach (var dialect in new[] { Dialect.TufSpecification, Dialect.Notary })
        {
            var key = Key.FromPublicKey(PublicKey.FromSubjectPublicKeyInfo(signer.SubjectPublicKeyInfo.Span), dialect);
            var root = Root.Create(dialect, Expires);
            foreach (var role in Root.TopLevelRoles)
            {
                root.AddKey(role, key);
            }

            var targets = Targets.Create(dialect, Expires);
            targets.SetTarget("releases/app-1.2.3.tar.gz", 1234, new Dictionary<string, string> { ["sha256"] = dialect == Dialect.Notary ? "q83v" : "abcdef01" });
            var metadata = Metadata<Targets>.Create(targets);
            metadata.SignWith(signer, key);
            var written = metadata.ToBytes();
            var result = Verifier.VerifyTopLevel(root, Metadata<Targets>.Parse(written));
            Assert.True(result.Verified, string.Join("; ", result.Problems));

            var dir = card.Directory.Path;
            var file = Path.Combine(dir, $"targets-{dialect}.json");
            File.WriteAllBytes(file, written);
            if (dialect == Dialect.TufSpecification)
            {
                var keyFile = Path.Combine(dir, "key.json");
                File.WriteAllBytes(keyFile, JsonText.Serialize(key.Json));
                var python = TestEnvironment.RequirePythonModule("securesystemslib", "python3-securesystemslib");
                var verdict = ProcessRunner.Run(python, [Path.Combine(TestEnvironment.RepoRoot, "tests", "peers", "sslib_verify.py"), "--key", keyFile, file]);
                Assert.True(verdict.ExitCode == 0, "securesystemslib: " + verdict);
            }
            else
            {
                var spki = Path.Combine(dir, "public.der");
                File.WriteAllBytes(spki, signer.SubjectPublicKeyInfo.ToArray());
                var signed = Path.Combine(dir, "signed.bin");
                File.WriteAllBytes(signed, metadata.SignedBytes());
                var signature = Assert.Single(Metadata<Targets>.Parse(written).Signatures);
                var scheme = algorithm switch
                {
                    KeyAlgorithm.EcdsaP256 or KeyAlgorithm.EcdsaP384 => "ecdsa-sha256-raw",
                    KeyAlgorithm.Ed25519 => "ed25519",
                    _ => "rsa-pss-sha256",
                };
                var python = TestEnvironment.RequirePythonModule("cryptography", "python3-cryptography");
                var verdict = ProcessRunner.Run(python, [Path.Combine(TestEnvironment.RepoRoot, "tests", "peers", "crypto_verify.py"),
                    "--public-key", spki, "--scheme", scheme, "--signature", Convert.ToHexString(signature.Value), "--data", signed]);
                Assert.True(verdict.ExitCode == 0, "python3-cryptography: " + verdict);
            }

            // One changed byte in the signed part and the signature no longer counts.
            var tampered = System.Text.Encoding.UTF8.GetString(written).Replace("app-1.2.3", "app-6.6.6", StringComparison.Ordinal);
            Assert.False(Verifier.VerifyTopLevel(root, Metadata<Targets>.Parse(System.Text.Encoding.UTF8.GetBytes(tampered))).Verified);
        }
    }
}
