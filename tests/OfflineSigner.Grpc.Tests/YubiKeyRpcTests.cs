using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OfflineSigner.Interop.Tests.Fixtures;
using OfflineSigner.Tests.Shared;
using OfflineSigner.Tuf;
using OfflineSigner.YubiKeySimulator;
using Xunit;

namespace OfflineSigner.Grpc.Tests;

/// <summary>
/// The real offline-signerd with a "yubikey" backend, on a simulated YubiKey in this test process's pcscd (the daemon
/// is pointed at it through PCSCLITE_CSOCK_NAME), called by python3-grpcio over its Unix socket: generation with
/// attestation, the PIV chain in the Attest RPC, a signature securesystemslib verifies, and the request for the right
/// device when it is missing.
/// </summary>
public sealed class YubiKeyRpcTests
{
    [Fact]
    public void A_real_client_generates_attests_and_signs_with_a_yubikey_and_is_told_which_one_to_insert()
    {
        try
        {
            _ = PcscRig.Sandbox;
        }
        catch (PcscdUnavailableException e)
        {
            Assert.Skip("pcscd with the vpcd reader cannot run here: " + e.Message);
        }

        var serial = (uint)RandomNumberGenerator.GetInt32(10_000_000, 99_999_999);
        using var ca = SimulatorCa.Create();
        using var card = PcscRig.Insert(new CardOptions { Serial = serial, Firmware = (5, 7, 1) }, ca);
        using var dir = TestEnvironment.CreateTempDir("signerd-yubikey");
        var roots = Path.Combine(dir.Path, "roots.pem");
        File.WriteAllText(roots, ca.CertificatePem);
        var managementKey = Path.Combine(dir.Path, "management-key");
        File.WriteAllText(managementKey, "010203040506070801020304050607080102030405060708\n");
        File.SetUnixFileMode(managementKey, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var socket = Path.Combine(dir.Path, "run", "signerd.sock");
        var config = Path.Combine(dir.Path, "config.json");
        File.WriteAllText(config, $$"""
            {
              "backends": [ { "name": "holders", "type": "yubikey", "devices": [ { "serial": {{serial}}, "holder": "Alice" } ],
                              "managementKey": { "file": {{JsonSerializer.Serialize(managementKey)}} },
                              "attestation": { "roots": {{JsonSerializer.Serialize(roots)}} }, "insertTimeoutSeconds": 0 } ],
              "daemon": { "socket": {{JsonSerializer.Serialize(socket)}}, "auditLog": {{JsonSerializer.Serialize(Path.Combine(dir.Path, "audit.jsonl"))}} }
            }
            """);
        using var daemon = Start(config);
        var target = "unix://" + socket;
        var pin = Convert.ToBase64String("123456"u8);

        var generated = Ok(target, "offlinesigner.v1.KeyService/GenerateKey", new JsonObject
        {
            ["backend"] = "holders",
            ["token_label"] = "Alice",
            ["label"] = "root",
            ["id"] = Convert.ToBase64String([0x9C]),
            ["algorithm"] = "KEY_ALGORITHM_ECDSA_P256",
            ["pin"] = pin,
        }, daemon).GetProperty("key");
        var uri = generated.GetProperty("uri").GetString()!;
        Assert.Equal($"yubikey:serial={serial};slot=9c", uri);

        var attested = Ok(target, "offlinesigner.v1.AttestationService/Attest", new JsonObject { ["key_uri"] = uri }, daemon);
        Assert.True(attested.GetProperty("meets_policy").GetBoolean(), attested.ToString());
        var piv = attested.GetProperty("piv");
        Assert.Equal(2, piv.GetProperty("certificate_chain_der").GetArrayLength());
        Assert.Equal(serial, piv.GetProperty("serial").GetUInt32());
        Assert.Equal(Convert.ToHexString(SHA256.HashData(ca.Certificate.RawData)), piv.GetProperty("trusted_root_fingerprint").GetString());
        using var slotCertificate = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(Convert.FromBase64String(piv.GetProperty("certificate_chain_der")[0].GetString()!));
        Assert.Equal(Convert.FromBase64String(generated.GetProperty("subject_public_key_info").GetString()!), slotCertificate.PublicKey.ExportSubjectPublicKeyInfo());

        // Root metadata signed by the key on the YubiKey, checked by securesystemslib.
        var key = Key.FromPublicKey(Tuf.Crypto.PublicKey.FromSubjectPublicKeyInfo(slotCertificate.PublicKey.ExportSubjectPublicKeyInfo()), Dialect.TufSpecification);
        var root = Root.Create(Dialect.TufSpecification, DateTimeOffset.UtcNow.AddDays(300));
        foreach (var role in Root.TopLevelRoles)
        {
            root.AddKey(role, key);
        }

        var document = Metadata<Root>.Create(root).ToBytes();
        var request = new JsonObject { ["metadata"] = Convert.ToBase64String(document), ["role"] = "root", ["key_uri"] = uri };
        var preview = Ok(target, "offlinesigner.v1.SigningService/Preview", request, daemon);
        var signed = Ok(target, "offlinesigner.v1.SigningService/Sign", new JsonObject
        {
            ["request"] = request.DeepClone(),
            ["expected_sha256"] = preview.GetProperty("signed_sha256").GetString(),
            ["pin"] = pin,
        }, daemon);
        var metadata = Metadata<Root>.Parse(document);
        metadata.AddSignature(Signature.Create(signed.GetProperty("key_id").GetString()!, Convert.FromBase64String(signed.GetProperty("signature").GetString()!), null, Dialect.TufSpecification));
        var file = Path.Combine(dir.Path, "root.json");
        File.WriteAllBytes(file, metadata.ToBytes());
        var sslib = Securesystemslib.VerifyWithRoot(file, "root", file);
        Assert.True(sslib.Ok, "securesystemslib: " + sslib);

        // Alice's YubiKey is pulled out: the daemon asks for it by serial and holder.
        card.Remove();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        GrpcCallResult missing;
        do
        {
            missing = GrpcPeers.Call(GrpcPeer.Python, target, GrpcPeers.ProtoRoot, GrpcPeers.ProjectProtos, "offlinesigner.v1.SigningService/Sign",
                new JsonObject { ["request"] = request.DeepClone(), ["expected_sha256"] = preview.GetProperty("signed_sha256").GetString(), ["pin"] = pin }.ToJsonString());
        }
        while (missing.Ok && DateTime.UtcNow < deadline);

        Assert.Equal("FAILED_PRECONDITION", missing.CodeName);
        Assert.Equal($"insert Alice's YubiKey with serial {serial}: no YubiKey is inserted", missing.Details);
        Assert.Contains($"<5>insert Alice's YubiKey with serial {serial}", daemon.Output, StringComparison.Ordinal);
    }

    private static JsonElement Ok(string target, string method, JsonObject request, Daemon daemon)
    {
        var result = GrpcPeers.Call(GrpcPeer.Python, target, GrpcPeers.ProtoRoot, GrpcPeers.ProjectProtos, method, request.ToJsonString());
        Assert.True(result.Ok, $"{method}: {result.CodeName} {result.Details}\ndaemon:\n{daemon.Output}");
        return Assert.Single(result.Responses);
    }

    private static Daemon Start(string config)
    {
        var psi = new ProcessStartInfo(TestEnvironment.DotnetHost) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "exec", Path.Combine(AppContext.BaseDirectory, "offline-signerd.dll"), "serve", "--config", config })
        {
            psi.ArgumentList.Add(a);
        }

        // The daemon's libpcsclite talks to this process's pcscd.
        psi.Environment["PCSCLITE_CSOCK_NAME"] = PcscRig.Sandbox.SocketPath;
        psi.Environment.Remove("NOTIFY_SOCKET");
        psi.Environment.Remove("LISTEN_FDS");
        var daemon = new Daemon(Process.Start(psi)!);
        if (!daemon.Serving.Wait(TimeSpan.FromSeconds(60)))
        {
            daemon.Dispose();
            Assert.Fail("offline-signerd did not start serving\n" + daemon.Output);
        }

        return daemon;
    }

    private sealed class Daemon : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new();

        public Daemon(Process process)
        {
            _process = process;
            _process.OutputDataReceived += (_, e) => Record(e.Data);
            _process.ErrorDataReceived += (_, e) => Record(e.Data);
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public ManualResetEventSlim Serving { get; } = new();

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

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit();
            }

            _process.Dispose();
            Serving.Dispose();
        }

        private void Record(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (_output)
            {
                _output.AppendLine(line);
            }

            if (line.Contains(" serving ", StringComparison.Ordinal))
            {
                Serving.Set();
            }
        }
    }
}
