using Google.Protobuf;
using OfflineSigner.Audit;
using OfflineSigner.Daemon.Configuration;
using OfflineSigner.Daemon.Hosting;
using OfflineSigner.Daemon.Services;
using OfflineSigner.Daemon.Tests.Support;
using OfflineSigner.Protocol.V1;
using OfflineSigner.Tests.Shared;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Crypto;
using OfflineSigner.YubiKey.Piv;
using OfflineSigner.YubiKeySimulator;
using Xunit;
using ProtoAlgorithm = OfflineSigner.Protocol.V1.KeyAlgorithm;
using RpcException = OfflineSigner.Daemon.Grpc.RpcException;
using StatusCode = OfflineSigner.Protocol.Grpc.StatusCode;
using TufDialect = OfflineSigner.Tuf.Dialect;

namespace OfflineSigner.Daemon.Tests;

/// <summary>
/// <c>yubikey:serial=N;slot=9c</c> keys through KeyService, SigningService and AttestationService, on simulated
/// YubiKeys in a real pcscd: generation with attestation, signing after the right device is found, the operator asked
/// for it by serial and holder, and the PIV attestation chain in the Attest RPC.
/// </summary>
public sealed class YubiKeyServiceTests
{
    private static SigningRequest RootRequest(KeyInfo key, TufDialect dialect, out Root root)
    {
        var listed = Key.FromPublicKey(PublicKey.FromSubjectPublicKeyInfo(key.SubjectPublicKeyInfo.Span), dialect);
        root = Root.Create(dialect, DateTimeOffset.UtcNow.AddDays(300));
        foreach (var role in Root.TopLevelRoles)
        {
            root.AddKey(role, listed);
        }

        var targets = Targets.Create(dialect, DateTimeOffset.UtcNow.AddDays(90));
        targets.SetTarget("release.tar.gz", 42, new Dictionary<string, string> { ["sha256"] = dialect == TufDialect.Notary ? "AAAA" : "abcd" });
        return new SigningRequest
        {
            Metadata = ByteString.CopyFrom(Metadata<Targets>.Create(targets).ToBytes()),
            Role = "targets",
            TrustedRoot = ByteString.CopyFrom(Metadata<Root>.Create(root).ToBytes()),
            KeyUri = key.Uri,
        };
    }

    [Fact]
    public void A_key_generated_on_the_yubikey_is_attested_and_signs_metadata_in_both_dialects()
    {
        var serial = YubiKeyDaemonHarness.RandomSerial();
        using var daemon = new YubiKeyDaemonHarness([new YubiKeyHolder(serial, "Alice")]);
        var card = daemon.Insert(serial);

        var backends = daemon.KeyService.ListBackends(new ListBackendsRequest(), YubiKeyDaemonHarness.Context("/offlinesigner.v1.KeyService/ListBackends"));
        var token = Assert.Single(Assert.Single(backends.Backends).Tokens);
        Assert.Equal("yubikey", backends.Backends[0].Kind);
        Assert.Equal("Alice", token.Label);
        Assert.Equal(serial.ToString(System.Globalization.CultureInfo.InvariantCulture), token.Serial);

        var key = daemon.Generate("Alice", 0x9C);
        Assert.Equal($"yubikey:serial={serial};slot=9c", key.Uri);
        Assert.Equal(serial.ToString(System.Globalization.CultureInfo.InvariantCulture), key.DeviceSerial);
        Assert.Empty(key.Pkcs11Protection.Violations);
        Assert.True(key.Pkcs11Protection.Local);
        Assert.Contains(daemon.Audit.Events, e => e.Kind == AuditEventKind.KeyGenerated && e.KeyUri == key.Uri && e.DeviceSerial == key.DeviceSerial);

        var listed = daemon.KeyService.ListKeys(new ListKeysRequest { Backend = YubiKeyDaemonHarness.Backend }, YubiKeyDaemonHarness.Context("/offlinesigner.v1.KeyService/ListKeys"));
        Assert.Contains(listed.Keys, k => k.Uri == key.Uri && k.Fingerprint == key.Fingerprint);

        foreach (var dialect in new[] { TufDialect.TufSpecification, TufDialect.Notary })
        {
            var request = RootRequest(key, dialect, out var root);
            var preview = daemon.Preview(request);
            var before = card.Card.ApduCount;
            var signed = daemon.Sign(request, preview.SignedSha256.Span);

            // The whole call on the card: SELECT, GET VERSION, GET SERIAL, GET METADATA, VERIFY, GENERAL AUTHENTICATE
            // (the attestation was verified at generation and is remembered).
            Assert.Equal([0xA4, 0xFD, 0xF8, 0xF7, 0x20, 0x87], card.Card.Log.Skip(before).Select(r => (int)r.Ins));
            var md = Metadata<Targets>.Parse(request.Metadata.ToByteArray());
            md.AddSignature(Signature.Create(signed.KeyId, signed.Signature.ToByteArray(), signed.Method.Length == 0 ? null : signed.Method, dialect));
            var result = Verifier.VerifyTopLevel(root, Metadata<Targets>.Parse(md.ToBytes()));
            Assert.True(result.Verified, string.Join("; ", result.Problems));
        }

        Assert.Equal(2, daemon.Audit.Events.Count(e => e.Kind == AuditEventKind.Signed && e.KeyUri == key.Uri));
        Assert.Contains(daemon.Notices, n => n == $"touch Alice's YubiKey serial {serial} now (slot 9c)");
    }

    [Fact]
    public void The_attest_rpc_returns_the_piv_chain_verified_to_the_configured_root()
    {
        var serial = YubiKeyDaemonHarness.RandomSerial();
        using var daemon = new YubiKeyDaemonHarness([new YubiKeyHolder(serial, "Alice")]);
        daemon.Insert(serial);
        var key = daemon.Generate(serial.ToString(System.Globalization.CultureInfo.InvariantCulture), 0x9A, ProtoAlgorithm.Ed25519);

        var response = daemon.Attest(key.Uri);
        Assert.True(response.MeetsPolicy, string.Join("; ", response.Violations));
        Assert.Equal(AttestResponse.EvidenceOneofCase.Piv, response.EvidenceCase);
        Assert.Equal(2, response.Piv.CertificateChainDer.Count);
        using var slotCertificate = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(response.Piv.CertificateChainDer[0].Span);
        using var device = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(response.Piv.CertificateChainDer[1].Span);
        Assert.Equal("CN=YubiKey PIV Attestation 9a", slotCertificate.Subject);
        Assert.Equal(device.Subject, slotCertificate.Issuer);
        Assert.Equal(serial, response.Piv.Serial);
        Assert.Equal("5.7.1", response.Piv.Firmware);
        Assert.Equal(3u, response.Piv.PinPolicy);
        Assert.Equal(2u, response.Piv.TouchPolicy);
        Assert.Equal(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(daemon.Ca.Certificate.RawData)), response.Piv.TrustedRootFingerprint);
        Assert.Contains($"YubiKey serial {serial}, firmware 5.7.1, slot 9a", response.Summary, StringComparison.Ordinal);
        var attested = Assert.Single(daemon.Audit.Events, e => e.Kind == AuditEventKind.Attested);
        Assert.Equal(Convert.ToHexStringLower(response.EvidenceSha256.Span), attested.PayloadSha256);
        Assert.Equal(key.Uri, attested.KeyUri);
    }

    [Fact]
    public void The_wrong_device_is_detected_before_signing_and_the_operator_is_asked_for_the_right_one()
    {
        var alice = YubiKeyDaemonHarness.RandomSerial();
        var bob = alice + 1;
        using var daemon = new YubiKeyDaemonHarness([new YubiKeyHolder(alice, "Alice"), new YubiKeyHolder(bob, "Bob")], o => o with { InsertTimeout = TimeSpan.FromSeconds(30) });
        var aliceCard = daemon.Insert(alice);
        var key = daemon.Generate("Alice", 0x9C);
        var request = RootRequest(key, TufDialect.TufSpecification, out _);
        var preview = daemon.Preview(request);

        // Alice's key is pulled out and Bob's goes in: nothing is signed with Bob's, and the daemon asks for Alice's.
        aliceCard.Remove();
        var bobCard = daemon.Insert(bob, slot: 1);
        var answer = new Thread(() =>
        {
            while (!daemon.Notices.Any(n => n.StartsWith("insert Alice's", StringComparison.Ordinal)))
            {
                Thread.Sleep(50);
            }

            bobCard.Remove();
            aliceCard.Reinsert();
        });
        answer.Start();
        var signed = daemon.Sign(request, preview.SignedSha256.Span);
        answer.Join();
        Assert.Equal($"insert Alice's YubiKey with serial {alice}: inserted: YubiKey serial {bob}, which is not the right one", daemon.Notices.First(n => n.StartsWith("insert", StringComparison.Ordinal)));
        Assert.Equal(preview.KeyId, signed.KeyId);
    }

    [Fact]
    public void Without_time_to_wait_the_refusal_names_the_device_and_its_holder()
    {
        var alice = YubiKeyDaemonHarness.RandomSerial();
        var bob = alice + 1;
        using var daemon = new YubiKeyDaemonHarness([new YubiKeyHolder(alice, "Alice"), new YubiKeyHolder(bob, "Bob")]);
        var aliceCard = daemon.Insert(alice);
        var key = daemon.Generate("Alice", 0x9C);
        var request = RootRequest(key, TufDialect.TufSpecification, out _);
        var preview = daemon.Preview(request);
        aliceCard.Remove();
        daemon.Insert(bob, slot: 1);
        var e = Assert.Throws<RpcException>(() => daemon.Sign(request, preview.SignedSha256.Span));
        Assert.Equal(StatusCode.FailedPrecondition, e.Status);
        Assert.Equal($"insert Alice's YubiKey with serial {alice}: inserted: YubiKey serial {bob}, which is not the right one", e.Message);
        Assert.DoesNotContain(daemon.Audit.Events, a => a.Kind == AuditEventKind.Signed);
    }

    [Fact]
    public void Keys_with_weaker_policies_or_an_untrusted_attestation_are_refused_at_signing()
    {
        var serial = YubiKeyDaemonHarness.RandomSerial();
        using (var weak = new YubiKeyDaemonHarness([new YubiKeyHolder(serial, "Alice")], o => o with { GeneratePinPolicy = PivPinPolicy.Once, GenerateTouchPolicy = PivTouchPolicy.Never }))
        {
            weak.Insert(serial);
            var key = weak.Generate("Alice", 0x9C);
            Assert.Contains("the key's PIN policy is once; it must be always", key.Pkcs11Protection.Violations);
            Assert.Contains("the key's touch policy is never; it must be always", key.Pkcs11Protection.Violations);
            var request = RootRequest(key, TufDialect.TufSpecification, out _);
            var preview = weak.Preview(request);
            var refused = Assert.Throws<RpcException>(() => weak.Sign(request, preview.SignedSha256.Span));
            Assert.Equal(StatusCode.FailedPrecondition, refused.Status);
            Assert.Contains("policy rule 'key-protection'", refused.Message, StringComparison.Ordinal);
            Assert.Contains("PIN policy is once", refused.Message, StringComparison.Ordinal);
            var attest = weak.Attest(key.Uri);
            Assert.False(attest.MeetsPolicy);
        }

        using var other = SimulatorCa.Create("a root that made no YubiKey here");
        var serial2 = YubiKeyDaemonHarness.RandomSerial();
        using var untrusted = new YubiKeyDaemonHarness([new YubiKeyHolder(serial2, "Alice")], trusted: other);
        untrusted.Insert(serial2);
        var unproven = untrusted.Generate("Alice", 0x9C);
        Assert.Contains(unproven.Pkcs11Protection.Violations, v => v.Contains("does not chain to a trusted root", StringComparison.Ordinal));
        Assert.False(unproven.Pkcs11Protection.Local);
        var request2 = RootRequest(unproven, TufDialect.TufSpecification, out _);
        var preview2 = untrusted.Preview(request2);
        Assert.Equal(StatusCode.FailedPrecondition, Assert.Throws<RpcException>(() => untrusted.Sign(request2, preview2.SignedSha256.Span)).Status);
        Assert.Equal(string.Empty, untrusted.Attest(unproven.Uri).Piv.TrustedRootFingerprint);
    }

    [Fact]
    public void A_wrong_pin_is_refused_with_the_tries_left_and_audited()
    {
        var serial = YubiKeyDaemonHarness.RandomSerial();
        using var daemon = new YubiKeyDaemonHarness([new YubiKeyHolder(serial, "Alice")]);
        daemon.Insert(serial);
        var key = daemon.Generate("Alice", 0x9C);
        var request = RootRequest(key, TufDialect.TufSpecification, out _);
        var preview = daemon.Preview(request);
        var e = Assert.Throws<RpcException>(() => daemon.Sign(request, preview.SignedSha256.Span, "000000"u8.ToArray()));
        Assert.Equal(StatusCode.Unauthenticated, e.Status);
        Assert.Equal("the PIN was rejected; 2 tries left", e.Message);
        Assert.Contains(daemon.Audit.Events, a => a.Kind == AuditEventKind.LoginFailed && a.Detail == "PIV PIN rejected, 2 left");
        daemon.Sign(request, preview.SignedSha256.Span);
    }

    [Fact]
    public void Generation_into_an_occupied_slot_is_refused()
    {
        var serial = YubiKeyDaemonHarness.RandomSerial();
        using var daemon = new YubiKeyDaemonHarness([new YubiKeyHolder(serial, "Alice")]);
        daemon.Insert(serial);
        daemon.Generate("Alice", 0x9C);
        var e = Assert.Throws<RpcException>(() => daemon.Generate("Alice", 0x9C));
        Assert.Equal(StatusCode.FailedPrecondition, e.Status);
        Assert.Contains("already holds", e.Message, StringComparison.Ordinal);
        Assert.Equal(StatusCode.NotFound, Assert.Throws<RpcException>(() => daemon.Generate("Carol", 0x9D)).Status);
    }

    [Fact]
    public void A_yubikey_backend_is_configured_by_serial_holder_and_attestation_roots()
    {
        using var dir = TestEnvironment.CreateTempDir("yubikey-config");
        using var ca = SimulatorCa.Create();
        var roots = Path.Combine(dir.Path, "roots.pem");
        File.WriteAllText(roots, ca.CertificatePem);
        var path = Path.Combine(dir.Path, "daemon.json");
        File.WriteAllText(path, $$"""
            {"backends":[{"name":"holders","type":"yubikey",
              "devices":[{"serial":12345678,"holder":"Alice"},{"serial":23456789,"holder":"Bob"}],
              "managementKey":{"file":"/etc/offline-signer/piv-management-key"},
              "attestation":{"roots":"{{roots}}","requirePinAlways":true,"requireTouchAlways":true,"allowEucleakFirmware":false},
              "generate":{"pinPolicy":"always","touchPolicy":"always"},
              "insertTimeoutSeconds":90,
              "keys":[{"name":"root-alice","uri":"yubikey:serial=12345678;slot=9c"}]}]}
            """);
        var config = DaemonConfiguration.Load(path);
        using var services = new DaemonServices(config, new Policy.SigningPolicyOptions(), new MemoryAuditLog(), TimeProvider.System);
        var backend = Assert.IsType<YubiKeyBackend>(Assert.Single(services.Backends.All));
        Assert.Equal(TimeSpan.FromSeconds(90), backend.Options.InsertTimeout);
        Assert.Equal(["Alice", "Bob"], backend.Options.Devices.Select(d => d.Holder));
        Assert.True(backend.Owns("yubikey:serial=23456789;slot=9a"));
        Assert.False(backend.Owns("yubikey:serial=99999999;slot=9a"));

        // The documented example is valid too.
        var example = DaemonConfiguration.Load(Path.Combine(TestEnvironment.RepoRoot, "hsm-config", "examples", "yubikey.json"));
        Assert.True(Assert.Single(example.Backends!).IsYubiKey);

        // A pinned fingerprint the roots file does not match stops the daemon from starting.
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"allowEucleakFirmware\":false", "\"allowEucleakFirmware\":false,\"pinnedRootFingerprints\":[\"yubico\"]", StringComparison.Ordinal));
        var pinned = Assert.Throws<ConfigurationException>(() => new DaemonServices(DaemonConfiguration.Load(path), new Policy.SigningPolicyOptions(), new MemoryAuditLog(), TimeProvider.System));
        Assert.Contains("not among the pinned fingerprints", pinned.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"name":"y","type":"yubikey"}""", "'devices' must list the YubiKeys")]
    [InlineData("""{"name":"y","type":"yubikey","devices":[{"serial":1},{"serial":1}]}""", "devices[1] needs a unique 'serial'")]
    [InlineData("""{"name":"y","type":"yubikey","module":"/usr/lib/x.so","devices":[{"serial":1}]}""", "has no 'module' or 'token'")]
    [InlineData("""{"name":"y","type":"yubikey","devices":[{"serial":1}],"keys":[{"name":"k","uri":"yubikey:serial=2;slot=9c"}]}""", "YubiKey serial 2 is not among 'devices'")]
    [InlineData("""{"name":"y","type":"yubikey","devices":[{"serial":1}],"keys":[{"name":"k","uri":"yubikey:serial=1;slot=f9"}]}""", "slot f9 holds the device's attestation key")]
    [InlineData("""{"name":"y","type":"yubikey","devices":[{"serial":1}],"generate":{"touchPolicy":"sometimes"}}""", "'generate.touchPolicy' is always, cached or never")]
    [InlineData("""{"name":"y","type":"yubikey","devices":[{"serial":1}],"attestation":{"roots":"roots.pem"}}""", "'attestation.roots' must be an absolute path")]
    [InlineData("""{"name":"y","type":"yubikey","devices":[{"serial":1}],"attestation":{"pinnedRootFingerprints":["63:EC"]}}""", "is not a SHA-256 fingerprint")]
    [InlineData("""{"name":"p","type":"pkcs11","module":"/usr/lib/softhsm/libsofthsm2.so","token":{"label":"t"},"devices":[{"serial":1}]}""", "belong to \"yubikey\" backends")]
    public void Mistakes_in_a_yubikey_backend_are_named(string backend, string expected)
    {
        using var dir = TestEnvironment.CreateTempDir("yubikey-config");
        var path = Path.Combine(dir.Path, "daemon.json");
        File.WriteAllText(path, "{\"backends\":[" + backend + "]}");
        var e = Assert.Throws<ConfigurationException>(() => DaemonConfiguration.Load(path));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }
}

/// <summary><c>offline-signerd check</c> on a yubikey backend: the inserted devices, their keys' attestation, the configured keys.</summary>
public sealed class YubiKeyCheckTests
{
    [Fact]
    public void Check_lists_the_inserted_yubikeys_and_their_attested_keys_and_self_tests_the_configured_ones()
    {
        var serial = YubiKeyDaemonHarness.RandomSerial();
        var missing = serial + 1;
        using var harness = new YubiKeyDaemonHarness([new YubiKeyHolder(serial, "Alice")]);
        harness.Insert(serial);
        using (var device = OfflineSigner.YubiKey.YubiKeyDevices.Open(serial))
        {
            device.GenerateKey(PivSlot.Signature, OfflineSigner.Signing.KeyAlgorithm.EcdsaP256, PivPinPolicy.Always, PivTouchPolicy.Always, YubiKeyDaemonHarness.ManagementKey);
            device.GenerateKey(PivSlot.Authentication, OfflineSigner.Signing.KeyAlgorithm.EcdsaP256, PivPinPolicy.Once, PivTouchPolicy.Never, YubiKeyDaemonHarness.ManagementKey);
        }

        using var dir = TestEnvironment.CreateTempDir("yubikey-check");
        var roots = Path.Combine(dir.Path, "roots.pem");
        File.WriteAllText(roots, harness.Ca.CertificatePem);
        var pin = Path.Combine(dir.Path, "piv-pin");
        File.WriteAllText(pin, "123456\n");
        File.SetUnixFileMode(pin, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var path = Path.Combine(dir.Path, "daemon.json");
        File.WriteAllText(path, $$"""
            {"backends":[{"name":"holders","type":"yubikey",
              "devices":[{"serial":{{serial}},"holder":"Alice"},{"serial":{{missing}},"holder":"Bob"}],
              "pin":{"file":"{{pin}}"},"attestation":{"roots":"{{roots}}"},"insertTimeoutSeconds":0,
              "keys":[{"name":"root-alice","uri":"yubikey:serial={{serial}};slot=9c"},{"name":"root-bob","uri":"yubikey:serial={{missing}};slot=9c"}]}]}
            """);
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = OfflineSigner.Daemon.Check.CheckCommand.Run(path, selfTest: true, output, error);
        var text = output.ToString();
        Assert.Contains($"YubiKey serial {serial} (Alice): YubiKey PIV, firmware 5.7.1; PIN: ok", text, StringComparison.Ordinal);
        Assert.Contains($"YubiKey serial {missing} (Bob): not inserted", text, StringComparison.Ordinal);
        Assert.Contains($"yubikey:serial={serial};slot=9c EcdsaP256, public key SHA-256 ", text, StringComparison.Ordinal);
        Assert.Contains("attested, meets policy", text, StringComparison.Ordinal);
        Assert.Contains("key root-alice: self-test passed", text, StringComparison.Ordinal);

        // The 9a key falls short of the default (root key) requirements, and Bob's device is not there.
        Assert.Contains($"yubikey:serial={serial};slot=9a", text, StringComparison.Ordinal);
        Assert.Contains("the key's PIN policy is once; it must be always", text, StringComparison.Ordinal);
        Assert.Contains($"error: backend holders: key root-bob (yubikey:serial={missing};slot=9c): insert Bob's YubiKey with serial {missing}", error.ToString(), StringComparison.Ordinal);
        Assert.Equal(1, exit);
    }
}
