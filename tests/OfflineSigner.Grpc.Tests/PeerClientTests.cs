using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using OfflineSigner.Daemon.Tests.Support;
using OfflineSigner.Grpc.Tests.Support;
using OfflineSigner.Interop.Tests.Fixtures;
using OfflineSigner.Tuf;
using Xunit;
using static OfflineSigner.Grpc.Tests.Support.Calls;

namespace OfflineSigner.Grpc.Tests;

/// <summary>
/// Every RPC of the daemon called by gRPC implementations nobody here wrote (python3-grpcio with stubs protoc builds
/// from protos/, and @grpc/grpc-js with @grpc/proto-loader) over the Unix socket of a real offline-signerd backed by
/// a SoftHSM2 token. Signatures they receive are checked with python3-cryptography.
/// </summary>
public sealed class PeerClientTests(SoftHsm hsm)
{
    public static TheoryData<GrpcPeer> Peers => [GrpcPeer.Python, GrpcPeer.GrpcJs];

    [Theory]
    [MemberData(nameof(Peers))]
    public void Keys_preview_sign_and_attest_from_a_real_client(GrpcPeer peer)
    {
        using var daemon = DaemonProcess.Start(hsm);

        var health = Ok(peer, daemon, "grpc.health.v1.Health/Check");
        Assert.Equal("SERVING", Text(health, "status"));
        Assert.Equal("NOT_FOUND", Raw(peer, daemon, "grpc.health.v1.Health/Check", new JsonObject { ["service"] = "no.such.Service" }).CodeName);
        Assert.Equal("SERVING", Text(Ok(peer, daemon, "grpc.health.v1.Health/Check", new JsonObject { ["service"] = "offlinesigner.v1.SigningService" }), "status"));

        var backends = Ok(peer, daemon, "offlinesigner.v1.KeyService/ListBackends");
        var token = backends.GetProperty("backends")[0].GetProperty("tokens")[0];
        Assert.Equal(daemon.TokenLabel, Text(token, "label"));

        var generated = GenerateKey(peer, daemon, "targets-1", 0x01);
        var uri = Text(generated, "uri");
        var spki = Bytes(generated, "subject_public_key_info");
        Assert.StartsWith("pkcs11:", uri, StringComparison.Ordinal);

        var listed = Ok(peer, daemon, "offlinesigner.v1.KeyService/ListKeys", new JsonObject { ["backend"] = DaemonProcess.Backend });
        Assert.Contains(listed.GetProperty("keys").EnumerateArray(), k => Text(k, "uri") == uri);

        var publicKey = Ok(peer, daemon, "offlinesigner.v1.KeyService/GetPublicKey", new JsonObject { ["key_uri"] = uri, ["dialect"] = "DIALECT_TUF" });
        var key = Key.FromPublicKey(OfflineSigner.Tuf.Crypto.PublicKey.FromSubjectPublicKeyInfo(spki), Dialect.TufSpecification);
        Assert.Equal(key.KeyId, Text(publicKey, "key_id"));

        // Preview and sign targets v1 under a root that lists the key.
        var root = Root.Create(Dialect.TufSpecification, DateTimeOffset.UtcNow.AddDays(300));
        foreach (var role in Root.TopLevelRoles)
        {
            root.AddKey(role, key);
        }

        var targets = Targets.Create(Dialect.TufSpecification, DateTimeOffset.UtcNow.AddDays(60));
        targets.SetTarget("app.tar.gz", 42, new Dictionary<string, string> { ["sha256"] = new string('a', 64) });
        var signingRequest = new JsonObject
        {
            ["metadata"] = B64(Metadata<Targets>.Create(targets).ToBytes()),
            ["role"] = "targets",
            ["trusted_root"] = B64(Metadata<Root>.Create(root).ToBytes()),
            ["key_uri"] = uri,
        };
        var preview = Ok(peer, daemon, "offlinesigner.v1.SigningService/Preview", signingRequest);
        var digest = Bytes(preview, "signed_sha256");
        Assert.Equal(SHA256.HashData(targets.CanonicalBytes()), digest);
        Assert.Contains("app.tar.gz", Text(preview, "summary"), StringComparison.Ordinal);

        var signed = Ok(peer, daemon, "offlinesigner.v1.SigningService/Sign", new JsonObject
        {
            ["request"] = signingRequest.DeepClone(),
            ["expected_sha256"] = B64(digest),
            ["pin"] = B64(DaemonProcess.Pin),
        });
        var signature = Bytes(signed, "signature");
        Assert.True(PythonCryptography.Verify(spki, "ecdsa-sha256-der", signature, targets.CanonicalBytes()), "python3-cryptography rejects the signature the client received");
        Assert.False(PythonCryptography.Verify(spki, "ecdsa-sha256-der", signature, [.. targets.CanonicalBytes(), (byte)' ']), "python3-cryptography accepts the signature over other bytes");

        // A digest other than the previewed one is refused: what the operator saw is what gets signed.
        var mismatch = Fails(peer, daemon, "offlinesigner.v1.SigningService/Sign", "FAILED_PRECONDITION", new JsonObject
        {
            ["request"] = signingRequest.DeepClone(),
            ["expected_sha256"] = B64(new byte[32]),
            ["pin"] = B64(DaemonProcess.Pin),
        });
        Assert.Contains("digest-mismatch", mismatch, StringComparison.Ordinal);

        // A batch: three delegated hash bins under one delegator, previewed and signed in two calls.
        var delegator = Targets.Create(Dialect.TufSpecification, DateTimeOffset.UtcNow.AddDays(60));
        var bins = new[] { "bin-0", "bin-1", "bin-2" };
        foreach (var name in bins)
        {
            delegator.AddDelegation(name, [key], 1, [name + "/*"]);
        }

        var binDocuments = bins.Select(name =>
        {
            var bin = Targets.Create(Dialect.TufSpecification, DateTimeOffset.UtcNow.AddDays(7));
            bin.SetTarget(name + "/file.txt", 7, new Dictionary<string, string> { ["sha256"] = new string('b', 64) });
            return bin;
        }).ToList();
        var items = new JsonArray();
        for (var i = 0; i < bins.Length; i++)
        {
            items.Add(new JsonObject { ["metadata"] = B64(Metadata<Targets>.Create(binDocuments[i]).ToBytes()), ["role"] = bins[i] });
        }

        var batch = new JsonObject
        {
            ["key_uri"] = uri,
            ["trusted_root"] = B64(Metadata<Root>.Create(root).ToBytes()),
            ["delegator"] = B64(Metadata<Targets>.Create(delegator).ToBytes()),
            ["items"] = items,
        };
        var previews = Ok(peer, daemon, "offlinesigner.v1.SigningService/PreviewBatch", batch).GetProperty("previews").EnumerateArray().ToList();
        Assert.Equal(bins.Length, previews.Count);
        var digests = new JsonArray();
        for (var i = 0; i < bins.Length; i++)
        {
            var itemDigest = Bytes(previews[i], "signed_sha256");
            Assert.Equal(SHA256.HashData(binDocuments[i].CanonicalBytes()), itemDigest);
            digests.Add(B64(itemDigest));
        }

        var batchSigned = Ok(peer, daemon, "offlinesigner.v1.SigningService/SignBatch", new JsonObject
        {
            ["batch"] = batch.DeepClone(),
            ["expected_sha256"] = digests.DeepClone(),
            ["pin"] = B64(DaemonProcess.Pin),
        }).GetProperty("signatures").EnumerateArray().ToList();
        Assert.Equal(bins.Length, batchSigned.Count);
        for (var i = 0; i < bins.Length; i++)
        {
            Assert.True(PythonCryptography.Verify(spki, "ecdsa-sha256-der", Bytes(batchSigned[i], "signature"), binDocuments[i].CanonicalBytes()), $"python3-cryptography rejects the signature of {bins[i]}");
        }

        // A bin the delegator does not name refuses the whole batch, naming the item.
        ((JsonArray)batch["items"]!).Add(new JsonObject { ["metadata"] = B64(Metadata<Targets>.Create(binDocuments[0]).ToBytes()), ["role"] = "bin-9" });
        digests.Add(digests[0]!.DeepClone());
        var unknown = Fails(peer, daemon, "offlinesigner.v1.SigningService/SignBatch", "FAILED_PRECONDITION", new JsonObject
        {
            ["batch"] = batch,
            ["expected_sha256"] = digests,
            ["pin"] = B64(DaemonProcess.Pin),
        });
        Assert.Contains("item 3 (bin-9)", unknown, StringComparison.Ordinal);

        var attested = Ok(peer, daemon, "offlinesigner.v1.AttestationService/Attest", new JsonObject { ["key_uri"] = uri });
        Assert.True(attested.TryGetProperty("pkcs11", out var evidence), "no PKCS#11 evidence in " + attested);
        Assert.True(evidence.GetProperty("local").GetBoolean());
        Assert.True(attested.GetProperty("meets_policy").GetBoolean());

        var certificate = Ok(peer, daemon, "offlinesigner.v1.SigningService/SignRootCertificate", new JsonObject
        {
            ["key_uri"] = uri,
            ["gun"] = "example.com/app",
            ["validity_days"] = 365,
            ["pin"] = B64(DaemonProcess.Pin),
        });
        var der = Bytes(certificate, "certificate_der");
        using var cert = X509CertificateLoader.LoadCertificate(der);
        Assert.Equal("CN=example.com/app", cert.Subject);
        Assert.Equal(spki, cert.PublicKey.ExportSubjectPublicKeyInfo());
        var tbs = TbsOf(der, out var certSignature);
        Assert.True(PythonCryptography.Verify(der, "ecdsa-sha256-der", certSignature, tbs), "python3-cryptography rejects the self-signed root certificate");

        // Everything above is in the audit log, with the caller's uid from the socket.
        var log = File.ReadAllLines(daemon.AuditLogPath);
        var uid = Native.Uid.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains(log, l => l.Contains("\"key_generated\"", StringComparison.Ordinal) && l.Contains("\"caller_uid\":" + uid, StringComparison.Ordinal));
        Assert.Contains(log, l => l.Contains("\"signed\"", StringComparison.Ordinal) && l.Contains(Convert.ToHexStringLower(digest), StringComparison.Ordinal));
        Assert.Contains(log, l => l.Contains("\"policy_refused\"", StringComparison.Ordinal) && l.Contains("digest-mismatch", StringComparison.Ordinal));

        // The Audit RPCs: the stored lines, in order, and the chain's verdict.
        var read = Raw(peer, daemon, "offlinesigner.v1.AuditService/ReadLog");
        Assert.True(read.Ok, read.ToString());
        var entries = read.Responses.Select(r => Text(r, "json")).ToList();
        Assert.Equal(File.ReadAllLines(daemon.AuditLogPath), entries);
        var page = Raw(peer, daemon, "offlinesigner.v1.AuditService/ReadLog", new JsonObject { ["from_sequence"] = 2, ["limit"] = 2 });
        Assert.Equal(entries.Skip(1).Take(2), page.Responses.Select(r => Text(r, "json")));
        var verified = Ok(peer, daemon, "offlinesigner.v1.AuditService/VerifyLog");
        Assert.True(verified.GetProperty("ok").GetBoolean(), verified.ToString());
        Assert.Equal(entries.Count, int.Parse(verified.GetProperty("entries").ToString(), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(entries[^1]))), Text(verified, "head_sha256"));

        // One byte changed in the second entry: the RPC names it.
        using (var file = new FileStream(daemon.AuditLogPath, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite))
        {
            var offset = System.Text.Encoding.UTF8.GetByteCount(entries[0] + "\n") + entries[1].IndexOf("\"seq\"", StringComparison.Ordinal) - 3;
            file.Position = offset;
            var b = file.ReadByte();
            file.Position = offset;
            file.WriteByte((byte)(b == 'a' ? 'b' : 'a'));
        }

        var broken = Ok(peer, daemon, "offlinesigner.v1.AuditService/VerifyLog");
        Assert.False(broken.GetProperty("ok").GetBoolean(), "a tampered log verifies: " + broken);
        Assert.Equal("2", broken.GetProperty("first_bad_sequence").ToString());
    }

    [Theory]
    [MemberData(nameof(Peers))]
    public void A_root_rotation_is_cross_signed_and_a_root_without_cross_signature_is_refused(GrpcPeer peer)
    {
        using var daemon = DaemonProcess.Start(hsm);
        (string Uri, byte[] Spki, Key Key) Generate(string label, byte id)
        {
            var info = GenerateKey(peer, daemon, label, id);
            var spki = Bytes(info, "subject_public_key_info");
            return (Text(info, "uri"), spki, Key.FromPublicKey(OfflineSigner.Tuf.Crypto.PublicKey.FromSubjectPublicKeyInfo(spki), Dialect.TufSpecification));
        }

        var oldKey = Generate("root-old", 0x11);
        var newKey = Generate("root-new", 0x12);
        var root = Root.Create(Dialect.TufSpecification, DateTimeOffset.UtcNow.AddDays(300));
        foreach (var role in Root.TopLevelRoles)
        {
            root.AddKey(role, oldKey.Key);
        }

        var v1 = Metadata<Root>.Create(root).ToBytes();
        JsonObject Request(params string[] signWith) => new()
        {
            ["current_root"] = B64(v1),
            ["remove_key_ids"] = new JsonArray(oldKey.Key.KeyId),
            ["add_keys"] = new JsonArray(System.Text.Encoding.UTF8.GetString(OfflineSigner.Tuf.Json.CanonicalJson.Serialize(newKey.Key.Json))),
            ["sign_with"] = new JsonArray([.. signWith.Select(u => (JsonNode)new JsonObject { ["key_uri"] = u, ["pin"] = B64(DaemonProcess.Pin) })]),
        };

        // Signed by the new key only: no cross-signature, refused before anything is signed.
        var refused = Fails(peer, daemon, "offlinesigner.v1.RotationService/PreviewRootRotation", "FAILED_PRECONDITION", Request(newKey.Uri));
        Assert.Contains("cross-signature", refused, StringComparison.Ordinal);

        var preview = Ok(peer, daemon, "offlinesigner.v1.RotationService/PreviewRootRotation", Request(oldKey.Uri, newKey.Uri));
        var rotateRequest = Request(oldKey.Uri, newKey.Uri);
        rotateRequest["expected_sha256"] = Text(preview, "signed_sha256");
        var rotated = Ok(peer, daemon, "offlinesigner.v1.RotationService/RotateRoot", rotateRequest);
        Assert.Equal(Text(preview, "signed_sha256"), Text(rotated, "signed_sha256"));

        var v2 = Metadata<Root>.Parse(Bytes(rotated, "metadata"));
        Assert.Equal(2, v2.Signed.Version);
        Assert.Equal([newKey.Key.KeyId], v2.Signed.Roles["root"].KeyIds);
        var check = Verifier.VerifyRootUpdate(Metadata<Root>.Parse(v1), v2);
        Assert.True(check.Verified, $"by the trusted root: {check.ByTrusted}; by itself: {check.ByNew}");
        foreach (var (key, spki) in new[] { (oldKey.Key, oldKey.Spki), (newKey.Key, newKey.Spki) })
        {
            var signature = Assert.Single(v2.Signatures, x => x.KeyId == key.KeyId);
            Assert.True(PythonCryptography.Verify(spki, "ecdsa-sha256-der", signature.Value, v2.SignedBytes()), "python3-cryptography rejects the signature of " + key.KeyId);
        }

        var log = File.ReadAllLines(daemon.AuditLogPath);
        Assert.Contains(log, l => l.Contains("\"event\":\"rotated\"", StringComparison.Ordinal) && l.Contains("\"version\":2", StringComparison.Ordinal));
        Assert.Contains(log, l => l.Contains("cross-signature", StringComparison.Ordinal) && l.Contains("\"policy_refused\"", StringComparison.Ordinal));
    }

    [Fact]
    public void A_delegation_key_rotation_verifies_against_the_trusted_root()
    {
        const GrpcPeer peer = GrpcPeer.Python;
        using var daemon = DaemonProcess.Start(hsm);
        var targetsInfo = GenerateKey(peer, daemon, "targets-1", 0x21);
        var targetsKey = Key.FromPublicKey(OfflineSigner.Tuf.Crypto.PublicKey.FromSubjectPublicKeyInfo(Bytes(targetsInfo, "subject_public_key_info")), Dialect.TufSpecification);
        using var oldDelegate = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        using var newDelegate = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        Key KeyOf(System.Security.Cryptography.ECDsa k) => Key.FromPublicKey(OfflineSigner.Tuf.Crypto.PublicKey.FromSubjectPublicKeyInfo(k.ExportSubjectPublicKeyInfo()), Dialect.TufSpecification);

        var root = Root.Create(Dialect.TufSpecification, DateTimeOffset.UtcNow.AddDays(300));
        foreach (var role in Root.TopLevelRoles)
        {
            root.AddKey(role, targetsKey);
        }

        var targets = Targets.Create(Dialect.TufSpecification, DateTimeOffset.UtcNow.AddDays(30));
        targets.AddDelegation("releases", [KeyOf(oldDelegate)], 1, ["releases/*"]);
        var current = Metadata<Targets>.Create(targets).ToBytes();
        var request = new JsonObject
        {
            ["trusted_root"] = B64(Metadata<Root>.Create(root).ToBytes()),
            ["delegator"] = B64(current),
            ["delegator_role"] = "targets",
            ["delegation"] = "releases",
            ["remove_key_ids"] = new JsonArray(KeyOf(oldDelegate).KeyId),
            ["add_keys"] = new JsonArray(System.Text.Encoding.UTF8.GetString(OfflineSigner.Tuf.Json.CanonicalJson.Serialize(KeyOf(newDelegate).Json))),
            ["sign_with"] = new JsonArray(new JsonObject { ["key_uri"] = Text(targetsInfo, "uri"), ["pin"] = B64(DaemonProcess.Pin) }),
        };
        var preview = Ok(peer, daemon, "offlinesigner.v1.RotationService/PreviewDelegationRotation", request);
        request["expected_sha256"] = Text(preview, "signed_sha256");
        var rotated = Ok(peer, daemon, "offlinesigner.v1.RotationService/RotateDelegation", request);

        var next = Metadata<Targets>.Parse(Bytes(rotated, "metadata"));
        Assert.Equal(2, next.Signed.Version);
        var releases = Assert.Single(next.Signed.Delegations!.Roles!);
        Assert.Equal([KeyOf(newDelegate).KeyId], releases.KeyIds);
        var verified = Verifier.VerifyTopLevel(root, next);
        Assert.True(verified.Verified, string.Join("; ", verified.Problems));

        // The old delegate key is gone: a document it signs no longer verifies under the rotated delegation.
        var delegated = Metadata<Targets>.Create(Targets.Create(Dialect.TufSpecification, DateTimeOffset.UtcNow.AddDays(7)));
        var signature = oldDelegate.SignData(delegated.SignedBytes(), System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.DSASignatureFormat.Rfc3279DerSequence);
        delegated.AddSignature(OfflineSigner.Tuf.Signature.Create(KeyOf(oldDelegate).KeyId, signature, null, Dialect.TufSpecification));
        Assert.True(Verifier.VerifyDelegated("releases", targets, delegated).Verified, "the old delegate key did not verify under the old delegation (the check below would prove nothing)");
        Assert.False(Verifier.VerifyDelegated("releases", next.Signed, delegated).Verified);
    }

    [Theory]
    [MemberData(nameof(Peers))]
    public void The_peer_reads_the_same_methods_the_daemon_routes(GrpcPeer peer)
    {
        using var daemon = DaemonProcess.Start(hsm);
        var methods = GrpcPeers.List(peer, GrpcPeers.ProtoRoot, GrpcPeers.ProjectProtos);
        Assert.NotEmpty(methods);
        foreach (var method in methods)
        {
            // An empty request reaches the method (any status but UNIMPLEMENTED): every method of the contract is routed.
            var result = Raw(peer, daemon, method.Method, deadline: TimeSpan.FromSeconds(5));
            Assert.True(result.CodeName != "UNIMPLEMENTED", $"{method.Method} is not served: {result.Details}");
        }

        // (Unknown methods never leave these clients: they refuse them against the .proto files. AbuseTests sends them raw.)
    }

    [Theory]
    [MemberData(nameof(Peers))]
    public void Loopback_tcp_for_tests_still_checks_the_caller(GrpcPeer peer)
    {
        // TCP carries no SO_PEERCRED: the daemon finds the client socket's owner in /proc/net/tcp.
        using (var open = DaemonProcess.Start(hsm, null, "--listen-tcp", "0"))
        {
            var target = TcpTarget(open);
            var result = GrpcPeers.Call(peer, target, GrpcPeers.ProtoRoot, GrpcPeers.ProjectProtos, "grpc.health.v1.Health/Check");
            Assert.True(result.Ok, $"{target}: {result}");
        }

        using var closed = DaemonProcess.Start(hsm, "\"allowedUids\": [54321]", "--listen-tcp", "0");
        var refused = GrpcPeers.Call(peer, TcpTarget(closed), GrpcPeers.ProtoRoot, GrpcPeers.ProjectProtos, "grpc.health.v1.Health/Check");
        Assert.Equal("PERMISSION_DENIED", refused.CodeName);
        Assert.Contains($"uid {Native.Uid}", refused.Details, StringComparison.Ordinal);
    }

    private static string TcpTarget(DaemonProcess daemon)
    {
        var match = System.Text.RegularExpressions.Regex.Match(daemon.Output, @"serving \d+ methods on http://(127\.0\.0\.1:\d+)");
        Assert.True(match.Success, "no loopback address in the daemon's output:\n" + daemon.Output);
        return match.Groups[1].Value;
    }

    /// <summary>The to-be-signed part and the signature of a DER certificate.</summary>
    private static byte[] TbsOf(byte[] der, out byte[] signature)
    {
        var reader = new System.Formats.Asn1.AsnReader(der, System.Formats.Asn1.AsnEncodingRules.DER);
        var certificate = reader.ReadSequence();
        var tbs = certificate.ReadEncodedValue().ToArray();
        certificate.ReadSequence();
        signature = certificate.ReadBitString(out _);
        return tbs;
    }
}
