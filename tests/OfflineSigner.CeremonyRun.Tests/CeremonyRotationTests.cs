using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using OfflineSigner.Ceremony.Transcripts;
using OfflineSigner.CeremonyRun.Tests.Support;
using OfflineSigner.Daemon.Tests.Support;
using OfflineSigner.Interop.Tests.Fixtures;
using OfflineSigner.Tuf;
using Xunit;

namespace OfflineSigner.CeremonyRun.Tests;

/// <summary>
/// A delegation rotated as the steps of a ceremony on the repository an earlier ceremony made: two targets key
/// holders bring the keys the trusted root lists for them (attested again), the HSM holder generates the new
/// delegation key, targets is rebuilt with it and signed to threshold, the delegated role's next version is signed
/// by the new key, the bundle is exported, sealed and witnessed; the online side imports it and tuf-js follows the
/// new key. A holder whose device holds no targets key of the trusted root is refused, and nothing is written.
/// </summary>
public sealed class CeremonyRotationTests(SoftHsm hsm)
{
    private static readonly string[] FirstPins = [CeremonyRig.YubiKeyPin, CeremonyRig.YubiKeyPin, CeremonyRig.YubiKeyPin, "1234", CeremonyRig.YubiKeyPin];

    // Generating the new key (token), alice and carol sign targets, the new key signs releases, then the three seals.
    private static readonly string[] RotationPins = ["1234", CeremonyRig.YubiKeyPin, CeremonyRig.YubiKeyPin, "1234", CeremonyRig.YubiKeyPin, CeremonyRig.YubiKeyPin, "1234"];

    [Fact]
    public void A_delegation_rotated_in_a_ceremony_on_the_existing_repository_is_imported_and_tuf_js_follows_the_new_key()
    {
        using var rig = CeremonyRig.Start(hsm);
        var tokenSerial = rig.TokenSerial();
        var repo = rig.Path("repo");

        // The repository, from the first ceremony: targets (2 of alice, bob, carol) delegates releases to the HSM key.
        var first = rig.Path("first-bundle");
        rig.Ok("export", "--repo", repo, "--new", "--online-key", rig.OnlineKey, "--out", first);
        var firstRun = rig.RunCeremony([CeremonyScripts.Write(rig, "ceremony.json", tokenSerial), "--bundle", first, "--attestation-roots", rig.RootsPem, "--rehearsal", "--out", rig.Path("first")], FirstPins);
        Assert.True(firstRun.ExitCode == 0, firstRun + "\n--- daemon\n" + rig.DaemonOutput);
        rig.Ok("import", "--bundle", first, "--repo", repo, "--online-key", rig.OnlineKey);
        var targets1 = Metadata<Targets>.Parse(File.ReadAllBytes(Path.Combine(repo, "metadata", "1.targets.json")));
        var oldKeyId = Assert.Single(targets1.Signed.Delegations!.FindRole("releases")!.KeyIds);
        var trustedRootBytes = File.ReadAllBytes(Path.Combine(repo, "metadata", "1.root.json"));

        // The online side: the next targets and the first releases, against root version 1.
        var request = rig.Path("request");
        rig.Ok("export", "--repo", repo, "--role", "targets", "--delegation", "releases", "--out", request);
        var requestBefore = CeremonyRig.TreeHash(request);
        var repoBefore = CeremonyRig.TreeHash(repo);

        // Refused: the HSM holder brings a "targets key", but the token holds only the releases key.
        var wrong = CeremonyScripts.Write(rig, CeremonyScripts.RotationSamplePath, "rotation-wrong.json", tokenSerial, json =>
        {
            var steps = json["steps"]!.AsArray();
            steps.Clear();
            steps.Add(System.Text.Json.Nodes.JsonNode.Parse("""{ "id": "bring-alice", "action": "enroll-key", "holder": "alice", "role": "targets" }"""));
            steps.Add(System.Text.Json.Nodes.JsonNode.Parse("""{ "id": "bring-hsm", "action": "enroll-key", "holder": "hsm-ops", "role": "targets" }"""));
            steps.Add(System.Text.Json.Nodes.JsonNode.Parse("""{ "id": "seal", "action": "seal", "keys": ["bring-alice"] }"""));
        });
        rig.Ok("ceremony", "validate", wrong);
        var wrongOut = rig.Path("rotated-wrong");
        var refused = rig.RunCeremony([wrong, "--bundle", request, "--bundle-out", wrongOut, "--attestation-roots", rig.RootsPem, "--rehearsal", "--out", rig.Path("wrong")], []);
        Assert.True(refused.ExitCode == 1, refused.ToString());
        Assert.Contains("step \"bring-hsm\" failed", refused.StdErr, StringComparison.Ordinal);
        Assert.Contains("none of them a targets key of the trusted root version 1", refused.StdErr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(wrongOut));
        Assert.Equal(requestBefore, CeremonyRig.TreeHash(request));
        var refusedRecord = TranscriptVerifier.Verify(File.ReadAllBytes(rig.Path("wrong/transcript.jsonl")));
        Assert.False(refusedRecord.Ok);
        Assert.Contains(refusedRecord.Problems, p => p.Contains("not sealed: the ceremony stopped when step \"bring-hsm\" failed", StringComparison.Ordinal));

        // The rotation ceremony.
        var script = CeremonyScripts.Write(rig, CeremonyScripts.RotationSamplePath, "rotation.json", tokenSerial);
        rig.Ok("ceremony", "validate", script);
        var rotated = rig.Path("rotated");
        var run = rig.RunCeremony([script, "--bundle", request, "--bundle-out", rotated, "--attestation-roots", rig.RootsPem, "--rehearsal", "--out", rig.Path("rotation")], RotationPins);
        Assert.True(run.ExitCode == 0, run + "\n--- daemon\n" + rig.DaemonOutput);
        Assert.Equal(
        [
            "bring-alice/insert-device", "bring-alice/confirm-fingerprint", "bring-carol/insert-device", "bring-carol/confirm-fingerprint",
            "new-releases-key/insert-device", "new-releases-key/confirm-fingerprint", "rotate-releases/confirm-delegation",
            "sign-targets/sign-alice", "sign-targets/sign-carol", "releases-next/confirm-delegated-role", "sign-releases/sign-hsm-ops",
            "export/export", "seal/seal-alice", "seal/seal-carol", "seal/seal-hsm-ops",
        ], run.Prompts);
        Assert.Equal(requestBefore, CeremonyRig.TreeHash(request));

        // The transcript names the trusted root it worked against, and each key with fresh evidence.
        var transcript = rig.Path("rotation/transcript.jsonl");
        var v = TranscriptVerifier.Verify(File.ReadAllBytes(transcript));
        Assert.True(v.Ok, string.Join("\n", v.Problems));
        var record = v.Record!;
        Assert.True(record.Sealed);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(trustedRootBytes)), record.TrustedRootSha256);
        Assert.Equal([rig.Serials[0].ToString(CultureInfo.InvariantCulture), rig.Serials[2].ToString(CultureInfo.InvariantCulture), tokenSerial], record.Keys.Select(k => k.DeviceSerial));
        Assert.All(record.Keys, k => Assert.True(k.Enrolled));
        Assert.Equal(["piv-attestation", "piv-attestation", "pkcs11-attributes"], record.Keys.Select(k => k.AttestationFormat));
        Assert.Equal(2, record.Items.Count);

        var statements = new List<string>();
        foreach (var w in new[] { "wendy", "victor" })
        {
            var statement = rig.Path($"rotation.{w}.statement.json");
            rig.Ok("ceremony", "witness", transcript, "--witness-id", w, "--key", rig.Path(w + ".pem"), "--out", statement);
            statements.Add(statement);
        }

        var verified = rig.Ok("ceremony", "verify", transcript, "--witness", statements[0], "--witness", statements[1], "--require-witnesses", "--json");
        using (var doc = JsonDocument.Parse(verified.StdOut))
        {
            Assert.True(doc.RootElement.GetProperty("ok").GetBoolean(), verified.StdOut);
        }

        // The report names the trusted root the ceremony worked against and the devices of the keys brought.
        rig.Ok("ceremony", "report", transcript, "--witness", statements[0], "--witness", statements[1], "--html", rig.Path("rotation.html"), "--text", rig.Path("rotation.txt"));
        var report = File.ReadAllText(rig.Path("rotation.txt"));
        Assert.Contains("KEY CEREMONY: example-releases-rotation-2026", report, StringComparison.Ordinal);
        Assert.Contains("Trusted root: SHA-256 " + record.TrustedRootSha256, report, StringComparison.Ordinal);
        Assert.Contains(rig.Serials[2].ToString(CultureInfo.InvariantCulture), report, StringComparison.Ordinal);

        // The repository did not change until the import, which checks the ceremony and writes targets 2 and releases 1.
        Assert.Equal(repoBefore, CeremonyRig.TreeHash(repo));
        rig.Ok("status", "--bundle", rotated);
        rig.Ok("import", "--bundle", rotated, "--repo", repo, "--online-key", rig.OnlineKey);
        var targets2 = Metadata<Targets>.Parse(File.ReadAllBytes(Path.Combine(repo, "metadata", "2.targets.json")));
        var newKeyId = Assert.Single(targets2.Signed.Delegations!.FindRole("releases")!.KeyIds);
        Assert.NotEqual(oldKeyId, newKeyId);
        Assert.Equal(record.Keys.Single(k => k.Holder == "hsm-ops").KeyId, newKeyId);
        Assert.Equal(2, targets2.Signatures.Count);
        var releases1 = Metadata<Targets>.Parse(File.ReadAllBytes(Path.Combine(repo, "metadata", "1.releases.json")));
        Assert.True(Verifier.VerifyDelegated("releases", targets2.Signed, releases1).Verified);
        Assert.False(Verifier.VerifyDelegated("releases", targets1.Signed, releases1).Verified);

        // tuf-js, trusting root 1, walks to releases under the new key to say that no such target is published.
        var trusted = rig.Path("trusted-root.json");
        File.WriteAllBytes(trusted, trustedRootBytes);
        var lookup = TufJs.Refresh(repo, trusted, ["releases/app-1.0.tgz"], infoOnly: true);
        Assert.Contains("200 /metadata/1.releases.json", lookup.Requests);
        Assert.False(lookup.Ok);
        Assert.StartsWith("TargetNotFoundError", lookup.Error, StringComparison.Ordinal);
        var refreshed = TufJs.Refresh(repo, trusted);
        Assert.True(refreshed.Ok, refreshed.ToString());
        Assert.Equal(2, refreshed.TargetsVersion);

        // Refused: the same ceremony bundle a second time (its signatures are already in the repository).
        var after = CeremonyRig.TreeHash(repo);
        var again = rig.Cli("import", "--bundle", rotated, "--repo", repo, "--online-key", rig.OnlineKey);
        Assert.True(again.ExitCode != 0, again.ToString());
        Assert.Equal(after, CeremonyRig.TreeHash(repo));
    }
}
