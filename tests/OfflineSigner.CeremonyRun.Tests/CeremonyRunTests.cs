using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using OfflineSigner.Ceremony.Tests.Support;
using OfflineSigner.Ceremony.Transcripts;
using OfflineSigner.CeremonyRun.Tests.Support;
using OfflineSigner.Daemon.Tests.Support;
using OfflineSigner.Interop.Tests.Fixtures;
using OfflineSigner.Tuf;
using Xunit;

namespace OfflineSigner.CeremonyRun.Tests;

/// <summary>
/// 'offline-signer ceremony run' end to end, as issue 7 asks: three key holders with simulated YubiKeys (distinct
/// serials) and one SoftHSM2 key, threshold 2, attested enrollment, root and targets signed, a delegation created,
/// the transcript sealed by the ceremony's keys inside the daemon, the bundle imported on the online side into a TUF
/// repository that tuf-js accepts, the transcript verified with the witnesses' statements, the report rendered.
/// </summary>
public sealed class CeremonyRunTests(SoftHsm hsm)
{
    private static readonly string[] Pins = [CeremonyRig.YubiKeyPin, CeremonyRig.YubiKeyPin, CeremonyRig.YubiKeyPin, "1234", CeremonyRig.YubiKeyPin];

    [Fact]
    public void A_rehearsed_ceremony_on_three_yubikeys_and_an_hsm_key_is_sealed_imported_and_accepted_by_tuf_js()
    {
        using var rig = CeremonyRig.Start(hsm);
        var tokenSerial = rig.TokenSerial();
        var script = CeremonyScripts.Write(rig, "ceremony.json", tokenSerial);
        rig.Ok("ceremony", "validate", script);
        var repo = rig.Path("repo");
        var bundle = rig.Path("bundle");
        rig.Ok("export", "--repo", repo, "--new", "--online-key", rig.OnlineKey, "--out", bundle);
        var at = Rfc3339.Format(DateTimeOffset.UtcNow);
        var run = rig.RunCeremony([script, "--bundle", bundle, "--attestation-roots", rig.RootsPem, "--rehearsal", "--at", at, "--out", rig.Path("out")], Pins);
        Assert.True(run.ExitCode == 0, run + "\n--- daemon\n" + rig.DaemonOutput);

        // Every step asked who acts and on which device, in the script's order.
        Assert.Equal(
        [
            "enroll-alice/insert-device", "enroll-alice/confirm-fingerprint", "enroll-bob/insert-device", "enroll-bob/confirm-fingerprint",
            "enroll-carol/insert-device", "enroll-carol/confirm-fingerprint", "enroll-hsm/insert-device", "enroll-hsm/confirm-fingerprint",
            "root-v1/confirm-root", "sign-root/sign-alice", "sign-root/sign-bob", "delegate-releases/confirm-delegation",
            "sign-targets/sign-alice", "sign-targets/sign-carol", "export/export", "seal/seal-alice", "seal/seal-bob", "seal/seal-carol",
        ], run.Prompts);
        Assert.Contains("[REHEARSAL]", run.StdOut, StringComparison.Ordinal);
        Assert.Contains($"device: YubiKey serial {rig.Serials[2]}", run.StdOut, StringComparison.Ordinal);
        Assert.Contains($"device: PKCS#11 token serial {tokenSerial}", run.StdOut, StringComparison.Ordinal);

        // The transcript verifies, and names the devices, attestation and seals.
        var transcript = rig.Path("out/transcript.jsonl");
        var bytes = File.ReadAllBytes(transcript);
        var v = TranscriptVerifier.Verify(bytes);
        Assert.True(v.Ok, string.Join("\n", v.Problems));
        var record = v.Record!;
        Assert.Equal("rehearsal", record.Mode);
        Assert.True(record.Sealed);
        Assert.Equal(3, record.Seals.Count);
        Assert.Equal(4, record.Keys.Count(k => k.Enrolled));
        Assert.Equal([.. rig.Serials.Select(s => s.ToString(CultureInfo.InvariantCulture)), tokenSerial], record.Keys.Select(k => k.DeviceSerial));
        Assert.Equal(["piv-attestation", "piv-attestation", "piv-attestation", "pkcs11-attributes"], record.Keys.Select(k => k.AttestationFormat));
        Assert.All(record.Keys.Take(3), k => Assert.Contains("chain to trusted root", k.AttestationSummary, StringComparison.Ordinal));

        // The daemon audited each seal, and only after the chain and the enrolled key checked out.
        var audit = File.ReadAllLines(rig.Path("audit.jsonl"));
        Assert.Equal(3, audit.Count(l => l.Contains("\"role\":\"ceremony-seal\"", StringComparison.Ordinal) && l.Contains("\"event\":\"signed\"", StringComparison.Ordinal)));

        // The bundle carries the sealed transcript and every key's evidence.
        Assert.Equal(bytes, File.ReadAllBytes(Path.Combine(bundle, "context", "ceremony.transcript.jsonl")));
        foreach (var k in record.Keys)
        {
            var file = Directory.GetFiles(Path.Combine(bundle, "context"), $"attestation.{k.Holder}.*").Single();
            Assert.Equal(k.AttestationSha256, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file))));
        }

        rig.Ok("status", "--bundle", bundle);

        // The witnesses sign their statements; verify checks chain, seals and both statements.
        var statements = new List<string>();
        foreach (var w in new[] { "wendy", "victor" })
        {
            var statement = rig.Path($"{w}.statement.json");
            rig.Ok("ceremony", "witness", transcript, "--witness-id", w, "--key", rig.Path(w + ".pem"), "--out", statement);
            statements.Add(statement);
        }

        var verified = rig.Ok("ceremony", "verify", transcript, "--witness", statements[0], "--witness", statements[1], "--require-witnesses", "--json");
        using (var doc = JsonDocument.Parse(verified.StdOut))
        {
            Assert.True(doc.RootElement.GetProperty("ok").GetBoolean(), verified.StdOut);
        }

        // Online side: the import verifies the transcript and the root's provenance, then writes the repository.
        var imported = rig.Ok("import", "--bundle", bundle, "--repo", repo, "--online-key", rig.OnlineKey);
        Assert.Contains("root version 1", imported.StdOut, StringComparison.Ordinal);
        var root = Metadata<Root>.Parse(File.ReadAllBytes(Path.Combine(repo, "metadata", "1.root.json")));
        Assert.Equal(2, root.Signed.Roles["root"].Threshold);
        Assert.Equal(3, root.Signed.Roles["root"].KeyIds.Count);
        Assert.Equal(2, root.Signatures.Count);
        var targets = Metadata<Targets>.Parse(File.ReadAllBytes(Directory.GetFiles(Path.Combine(repo, "metadata"), "*.targets.json").Single()));
        Assert.Equal("releases", Assert.Single(targets.Signed.Delegations!.Roles!).Name);

        var trusted = rig.Path("trusted-root.json");
        File.Copy(Path.Combine(repo, "metadata", "1.root.json"), trusted);
        var tufjs = TufJs.Refresh(repo, trusted);
        Assert.True(tufjs.Ok, tufjs.ToString());
        Assert.Equal(1, tufjs.RootVersion);

        // The calendar: nothing due now; 280 days on, the root's ceremony is to be scheduled and targets has expired.
        var today = rig.Ok("status", "--repo", repo, "--json");
        using (var doc = JsonDocument.Parse(today.StdOut))
        {
            Assert.False(doc.RootElement.GetProperty("due").GetBoolean(), today.StdOut);
            Assert.Equal(["root", "snapshot", "targets", "timestamp"], doc.RootElement.GetProperty("calendar").EnumerateArray().Select(c => c.GetProperty("role").GetString()!).Order(StringComparer.Ordinal));
            Assert.All(doc.RootElement.GetProperty("calendar").EnumerateArray(), c => Assert.Equal("ok", c.GetProperty("status").GetString()));
        }

        var later = rig.Cli("status", "--repo", repo, "--at", Rfc3339.Format(DateTimeOffset.UtcNow.AddDays(280)));
        Assert.True(later.ExitCode == 1, later.ToString());
        Assert.Contains("WARNING root version 1 expires in", later.StdOut, StringComparison.Ordinal);
        Assert.Contains("schedule the root ceremony", later.StdOut, StringComparison.Ordinal);
        Assert.Contains("EXPIRED targets version 1", later.StdOut, StringComparison.Ordinal);
        Assert.Contains("warning: root version 1", later.StdErr, StringComparison.Ordinal);

        // The printed report from the real transcript, in headless Chromium.
        var html = rig.Path("report.html");
        rig.Ok("ceremony", "report", transcript, "--witness", statements[0], "--witness", statements[1], "--html", html, "--text", rig.Path("report.txt"));
        var text = File.ReadAllText(rig.Path("report.txt"));
        Assert.StartsWith("*** REHEARSAL", text, StringComparison.Ordinal);
        foreach (var s in rig.Serials)
        {
            Assert.Contains(s.ToString(CultureInfo.InvariantCulture), text, StringComparison.Ordinal);
        }

        ReportScreenshot.Check(rig.Dir, html, keys: 4);

        // Refused: a witness statement over another transcript (here: the transcript with one more line).
        var other = rig.Path("other-transcript.jsonl");
        File.WriteAllBytes(other, [.. bytes, .. "{}\n"u8]);
        var foreign = rig.Path("foreign.statement.json");
        using (var wendy = Signing.SoftwareKeySigner.LoadPkcs8Pem(rig.Path("wendy.pem")))
        {
            File.WriteAllBytes(foreign, WitnessStatement.Create(File.ReadAllBytes(other), record.Script.CeremonyId, record.Script.Witnesses.Single(w => w.Id == "wendy"), wendy, DateTimeOffset.UtcNow));
        }

        var refusedWitness = rig.Cli("ceremony", "verify", transcript, "--witness", foreign);
        Assert.True(refusedWitness.ExitCode == 1, refusedWitness.ToString());
        Assert.Contains(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(other))), refusedWitness.StdOut + refusedWitness.StdErr, StringComparison.Ordinal);
        Assert.Contains(v.TranscriptSha256, refusedWitness.StdOut + refusedWitness.StdErr, StringComparison.Ordinal);

        // Refused: a tampered transcript, by 'ceremony verify' and by the online side's import (the bundle's file and
        // manifest entry rewritten to match, so that only the ceremony's own checks can catch it).
        var tampered = rig.Path("tampered.jsonl");
        var edited = System.Text.Encoding.UTF8.GetString(bytes).Replace("\"holder\":\"bob\"", "\"holder\":\"mallory\"", StringComparison.Ordinal);
        Assert.NotEqual(System.Text.Encoding.UTF8.GetString(bytes), edited);
        File.WriteAllText(tampered, edited);
        var refusedVerify = rig.Cli("ceremony", "verify", tampered);
        Assert.True(refusedVerify.ExitCode == 1, refusedVerify.ToString());
        Assert.Contains("line", refusedVerify.StdOut + refusedVerify.StdErr, StringComparison.Ordinal);

        var copy = rig.Path("bundle-tampered");
        CopyTree(bundle, copy);
        var editedBytes = System.Text.Encoding.UTF8.GetBytes(edited);
        File.WriteAllBytes(Path.Combine(copy, "context", "ceremony.transcript.jsonl"), editedBytes);
        var manifestPath = Path.Combine(copy, "manifest.json");
        var manifest = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(manifestPath))!;
        var entry = manifest["context"]!.AsArray().Single(c => c!["kind"]!.GetValue<string>() == "ceremony-transcript")!;
        entry["length"] = editedBytes.Length;
        entry["sha256"] = Convert.ToHexStringLower(SHA256.HashData(editedBytes));
        File.WriteAllText(manifestPath, manifest.ToJsonString());
        var repo2 = rig.Path("repo2");
        rig.Ok("export", "--repo", repo2, "--new", "--online-key", rig.OnlineKey, "--out", rig.Path("unused-request"));
        var before = CeremonyRig.TreeHash(repo2);
        var refusedImport = rig.Cli("import", "--bundle", copy, "--repo", repo2, "--online-key", rig.OnlineKey);
        Assert.True(refusedImport.ExitCode == 1, refusedImport.ToString());
        Assert.Contains("ceremony: the bundle's ceremony transcript", refusedImport.StdErr, StringComparison.Ordinal);
        Assert.Contains("nothing was written", refusedImport.StdErr, StringComparison.Ordinal);
        Assert.Equal(before, CeremonyRig.TreeHash(repo2));
    }

    [Fact]
    public void A_rehearsed_notary_ceremony_is_published_to_a_notary_server_and_listed_by_the_notary_cli()
    {
        const string Gun = "example.com/offlinesigner/ceremony";
        using var server = NotaryServer.Start();
        using var rig = CeremonyRig.Start(hsm);
        var tokenSerial = rig.TokenSerial();
        var script = CeremonyScripts.Write(rig, "notary-ceremony.json", tokenSerial, json =>
        {
            json["repository"] = new System.Text.Json.Nodes.JsonObject { ["dialect"] = "notary", ["name"] = Gun };
            json["steps"]!.AsArray().Single(s => s!["id"]!.GetValue<string>() == "delegate-releases")!["name"] = "targets/releases";
        });
        rig.Ok("ceremony", "validate", script);
        var bundle = rig.Path("bundle");
        rig.Ok("export", "--notary", server.Url, "--gun", Gun, "--new", "--out", bundle);

        // Each key's generation is followed by its x509 root certificate (CN = GUN), on the same device: two PINs each.
        string[] pins = [.. Enumerable.Repeat(CeremonyRig.YubiKeyPin, 6), "1234", "1234", CeremonyRig.YubiKeyPin];
        var run = rig.RunCeremony([script, "--bundle", bundle, "--attestation-roots", rig.RootsPem, "--rehearsal", "--at", Rfc3339.Format(DateTimeOffset.UtcNow), "--out", rig.Path("out")], pins);
        Assert.True(run.ExitCode == 0, run + "\n--- daemon\n" + rig.DaemonOutput);
        var v = TranscriptVerifier.Verify(File.ReadAllBytes(rig.Path("out/transcript.jsonl")));
        Assert.True(v.Ok, string.Join("\n", v.Problems));

        rig.Ok("import", "--bundle", bundle, "--notary", server.Url, "--gun", Gun);
        var root = Metadata<Root>.Parse(server.GetTrustFile(Gun, "root.json"));
        Assert.Equal(2, root.Signed.Roles["root"].Threshold);
        Assert.Equal(3, root.Signed.Roles["root"].KeyIds.Count);
        Assert.All(root.Signed.RoleKeys("root"), k => Assert.Equal("ecdsa-x509", k.KeyType));
        Assert.True(RootProvenance.Check(v, root).Ok);

        // The real notary client, from a fresh trust directory, walks root, targets, snapshot and timestamp.
        var notary = new NotaryCli(server, rig.Path("trust"));
        Assert.Empty(notary.List(Gun));
    }

    [Fact]
    public void A_key_without_valid_attestation_and_a_script_with_two_keys_on_one_device_are_refused_and_nothing_is_written()
    {
        using var rig = CeremonyRig.Start(hsm);
        var tokenSerial = rig.TokenSerial();
        var repo = rig.Path("repo");
        var bundle = rig.Path("bundle");
        rig.Ok("export", "--repo", repo, "--new", "--online-key", rig.OnlineKey, "--out", bundle);
        var bundleBefore = CeremonyRig.TreeHash(bundle);
        var at = Rfc3339.Format(DateTimeOffset.UtcNow);

        // Two holders on one YubiKey: the script is refused before anything is recorded or generated.
        var shared = CeremonyScripts.Write(rig, "shared-device.json", tokenSerial, json =>
            json["people"]!["key_holders"]![1]!["device"]!["serial"] = rig.Serials[0].ToString(CultureInfo.InvariantCulture));
        var refusedScript = rig.RunCeremony([shared, "--bundle", bundle, "--attestation-roots", rig.RootsPem, "--rehearsal", "--at", at, "--out", rig.Path("out-shared")], Pins);
        Assert.True(refusedScript.ExitCode == 1, refusedScript.ToString());
        Assert.Contains($"serial {rig.Serials[0]}", refusedScript.StdErr, StringComparison.Ordinal);
        Assert.Contains("nothing was done", refusedScript.StdErr, StringComparison.Ordinal);
        Assert.Empty(refusedScript.Prompts);
        Assert.Equal("absent", CeremonyRig.TreeHash(rig.Path("out-shared")));

        // Attestation roots that are not the devices' CA: Alice's key has no valid attestation; the ceremony stops there.
        using var otherCa = YubiKeySimulator.SimulatorCa.Create("Another PIV Root CA (tests only)");
        var otherRoots = rig.Path("other-roots.pem");
        File.WriteAllText(otherRoots, otherCa.CertificatePem);
        var script = CeremonyScripts.Write(rig, "ceremony.json", tokenSerial);
        var run = rig.RunCeremony([script, "--bundle", bundle, "--attestation-roots", otherRoots, "--rehearsal", "--at", at, "--out", rig.Path("out")], Pins);
        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains("step \"enroll-alice\" failed: alice's key has no valid attestation", run.StdErr, StringComparison.Ordinal);
        Assert.Contains("does not chain to a trusted root", run.StdErr, StringComparison.Ordinal);
        Assert.Equal(["enroll-alice/insert-device"], run.Prompts);
        Assert.Equal(bundleBefore, CeremonyRig.TreeHash(bundle));

        // The transcript records the failure, and cannot be sealed, verified or imported.
        var transcript = rig.Path("out/transcript.jsonl");
        var v = TranscriptVerifier.Verify(File.ReadAllBytes(transcript));
        Assert.False(v.Ok);
        Assert.Contains(File.ReadAllLines(transcript), l => l.Contains("\"event\":\"step_failed\"", StringComparison.Ordinal));
        Assert.Equal(1, rig.Cli("ceremony", "verify", transcript).ExitCode);

        // A real ceremony runs on the machine's clock, and YubiKey holders need the trusted attestation roots.
        var fixedClock = rig.RunCeremony([script, "--bundle", bundle, "--attestation-roots", rig.RootsPem, "--at", at, "--out", rig.Path("out-clock")], Pins);
        Assert.Equal(2, fixedClock.ExitCode);
        Assert.Contains("--at sets a fixed clock, which only a rehearsal has", fixedClock.StdErr, StringComparison.Ordinal);
        var noRoots = rig.RunCeremony([script, "--bundle", bundle, "--rehearsal", "--out", rig.Path("out-roots")], Pins);
        Assert.Equal(2, noRoots.ExitCode);
        Assert.Contains("--attestation-roots FILE", noRoots.StdErr, StringComparison.Ordinal);
        Assert.Equal("absent", CeremonyRig.TreeHash(rig.Path("out-clock")));
        Assert.Equal("absent", CeremonyRig.TreeHash(rig.Path("out-roots")));

        // A new run with the same --out is refused: every ceremony gets a new transcript.
        var again = rig.RunCeremony([script, "--bundle", bundle, "--attestation-roots", rig.RootsPem, "--rehearsal", "--at", at, "--out", rig.Path("out")], Pins);
        Assert.Equal(2, again.ExitCode);
        Assert.Contains("every ceremony (and every rehearsal) gets a new transcript", again.StdErr, StringComparison.Ordinal);
        Assert.Equal(bundleBefore, CeremonyRig.TreeHash(bundle));
    }

    [Fact]
    public void A_holder_who_does_not_confirm_stops_the_ceremony_and_nothing_after_runs()
    {
        using var rig = CeremonyRig.Start(hsm);
        var tokenSerial = rig.TokenSerial();
        var bundle = rig.Path("bundle");
        rig.Ok("export", "--repo", rig.Path("repo"), "--new", "--online-key", rig.OnlineKey, "--out", bundle);
        var bundleBefore = CeremonyRig.TreeHash(bundle);
        var script = CeremonyScripts.Write(rig, "ceremony.json", tokenSerial);
        var run = rig.RunCeremony(
            [script, "--bundle", bundle, "--attestation-roots", rig.RootsPem, "--rehearsal", "--at", Rfc3339.Format(DateTimeOffset.UtcNow), "--out", rig.Path("out")],
            Pins,
            prompt => prompt == "sign-root/sign-bob" ? "no" : "yes");
        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains("step \"sign-root\" failed: bob did not confirm sign-root/sign-bob (answered \"no\")", run.StdErr, StringComparison.Ordinal);
        Assert.Equal("sign-root/sign-bob", run.Prompts[^1]);
        Assert.Equal(bundleBefore, CeremonyRig.TreeHash(bundle));
        var lines = File.ReadAllLines(rig.Path("out/transcript.jsonl"));
        Assert.Contains("step_failed", lines[^1], StringComparison.Ordinal);
        Assert.DoesNotContain(lines, l => l.Contains("\"step\":\"delegate-releases\"", StringComparison.Ordinal));
    }

    private static void CopyTree(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var d in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, d)));
        }

        foreach (var f in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            File.Copy(f, Path.Combine(to, Path.GetRelativePath(from, f)));
        }
    }
}
