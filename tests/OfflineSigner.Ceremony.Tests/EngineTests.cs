using OfflineSigner.Ceremony.Engine;
using OfflineSigner.Ceremony.Scripts;
using OfflineSigner.Ceremony.Tests.Support;
using OfflineSigner.Ceremony.Transcripts;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Json;
using Xunit;

namespace OfflineSigner.Ceremony.Tests;

public sealed class EngineTests
{
    private static List<JsonObject> Lines(byte[] transcript) =>
        [.. System.Text.Encoding.UTF8.GetString(transcript).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => (JsonObject)JsonParser.Parse(l))];

    private static string Str(JsonObject o, string key) => ((JsonString)o[key]).Value;

    [Fact]
    public void A_whole_rehearsal_runs_in_order_and_ends_sealed()
    {
        using var f = new CeremonyFixture();
        var bytes = f.RunAll();
        var v = TranscriptVerifier.Verify(bytes);
        Assert.True(v.Ok, string.Join("\n", v.Problems));
        var r = v.Record!;
        Assert.True(r.Sealed);
        Assert.Equal("rehearsal", r.Mode);
        Assert.All(r.Steps, s => Assert.Equal("completed", s.Status));
        Assert.Equal(["alice", "bob", "carol", "hsm-ops"], r.Keys.Select(k => k.Holder));
        Assert.All(r.Keys, k => Assert.True(k.Enrolled));
        Assert.Equal(["alice", "bob"], r.Items.Single(i => i.StepId == "root-v1").Signatures.Select(s => s.Holder));
        Assert.Equal(["alice", "carol"], r.Items.Single(i => i.StepId == "delegate-releases").Signatures.Select(s => s.Holder));
        Assert.Equal(["alice", "bob", "carol"], r.Seals.Select(s => s.Holder));

        // The actions ran in the script's order, and the sealed transcript went into the bundle.
        Assert.Equal(
            ["generate alice", "attest alice", "generate bob", "attest bob", "generate carol", "attest carol", "generate hsm-ops", "attest hsm-ops",
             "build-root", "sign alice", "sign bob", "build-delegation releases", "sign alice", "sign carol", "export",
             "seal alice", "seal bob", "seal carol", "attach-transcript"],
            f.Actions.Calls);
        Assert.Equal(bytes, File.ReadAllBytes(Path.Combine(f.Actions.BundleDir!, "transcript.jsonl")));

        // The root that leaves is signed to threshold and verifies with the TUF core.
        var root = Metadata<Root>.Parse(File.ReadAllBytes(Path.Combine(f.Actions.BundleDir!, "root-v1.json")));
        var result = Tuf.Verifier.VerifyTopLevel(root.Signed, root);
        Assert.True(result.Verified, string.Join("; ", result.Problems));
        Assert.Equal(CeremonyFixture.Start.AddDays(365), root.Signed.Expires);
    }

    [Fact]
    public void Every_prompt_names_who_acts_and_on_which_device_and_is_recorded_with_its_answer()
    {
        using var f = new CeremonyFixture();
        var bytes = f.RunAll();
        var first = f.Operator.Asked[0];
        Assert.Equal("enroll-alice/insert-device", first.PromptId);
        Assert.Equal("alice", first.Actor.Id);
        Assert.Equal("key-holder", first.Part);
        Assert.Equal("20000001", first.Device!.Serial);
        Assert.StartsWith("[REHEARSAL] Alice Archer: insert your YubiKey serial 20000001", first.Text, StringComparison.Ordinal);

        var fingerprint = f.Operator.Asked.Single(p => p.PromptId == "enroll-alice/confirm-fingerprint");
        Assert.Equal("ada", fingerprint.Actor.Id);
        Assert.Contains(fingerprint.Details, d => d.StartsWith("words: ", StringComparison.Ordinal) && d.Split(' ').Length == 33);

        var signBob = f.Operator.Asked.Single(p => p.PromptId == "sign-root/sign-bob");
        Assert.Equal("20000002", signBob.Device!.Serial);
        var hsm = f.Operator.Asked.Single(p => p.PromptId == "enroll-hsm/insert-device");
        Assert.Equal(DeviceKind.Pkcs11, hsm.Device!.Kind);

        var lines = Lines(bytes);
        var prompts = lines.Where(l => Str(l, "event") == "prompt").ToList();
        var answers = lines.Where(l => Str(l, "event") == "answer").ToList();
        Assert.Equal(f.Operator.Asked.Count, prompts.Count);
        Assert.Equal(prompts.Count, answers.Count);
        Assert.All(answers, a => Assert.Equal("yes", Str(a, "answer")));
        Assert.Equal("20000002", Str(prompts.Single(p => Str(p, "prompt") == "sign-root/sign-bob"), "device_serial"));

        // A fixed clock stamps every line with the same instant: rehearsals are reproducible.
        Assert.All(lines, l => Assert.Equal("2026-03-14T09:30:00.000Z", Str(l, "time")));
    }

    [Fact]
    public void A_step_out_of_order_is_refused_and_recorded_and_the_right_step_still_runs()
    {
        using var f = new CeremonyFixture();
        using var t = f.NewTranscript();
        var runner = f.Runner(t);
        var e = Assert.Throws<CeremonyOrderException>(() => runner.RunStep("sign-root"));
        Assert.Contains("\"sign-root\" is out of order: the next step is \"enroll-alice\"", e.Message, StringComparison.Ordinal);
        Assert.Empty(f.Actions.Calls);

        runner.RunStep("enroll-alice");
        e = Assert.Throws<CeremonyOrderException>(() => runner.RunStep("enroll-carol"));
        Assert.Contains("the next step is \"enroll-bob\"", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<CeremonyOrderException>(() => runner.RunStep("enroll-alice"));
        Assert.Contains("has already run", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<CeremonyOrderException>(() => runner.RunStep("no-such-step"));
        Assert.Contains("no step \"no-such-step\"", e.Message, StringComparison.Ordinal);

        Assert.Equal("enroll-bob", runner.NextStep!.Id);
        runner.RunAll();
        Assert.Equal(CeremonyState.Sealed, runner.State);
        var bytes = File.ReadAllBytes(t.Path);
        var refused = Lines(bytes).Where(l => Str(l, "event") == "step_refused").Select(l => Str(l, "step")).ToList();
        Assert.Equal(["sign-root", "enroll-carol", "enroll-alice", "no-such-step"], refused);
        var v = TranscriptVerifier.Verify(bytes);
        Assert.True(v.Ok, string.Join("\n", v.Problems));
        Assert.Throws<CeremonyOrderException>(() => runner.RunStep("seal"));
    }

    [Fact]
    public void Nothing_runs_after_a_failed_step()
    {
        using var f = new CeremonyFixture();
        f.Operator.Answers["enroll-bob/insert-device"] = "no, wrong key in hand";
        using var t = f.NewTranscript();
        var runner = f.Runner(t);
        var e = Assert.Throws<CeremonyStepFailedException>(runner.RunAll);
        Assert.Equal("enroll-bob", e.StepId);
        Assert.Contains("bob did not confirm enroll-bob/insert-device", e.Message, StringComparison.Ordinal);
        Assert.Equal(CeremonyState.Halted, runner.State);
        Assert.Null(runner.NextStep);
        var again = Assert.Throws<CeremonyOrderException>(() => runner.RunStep("enroll-carol"));
        Assert.Contains("no step can run after a failed step", again.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("generate bob", f.Actions.Calls);

        var v = TranscriptVerifier.Verify(File.ReadAllBytes(t.Path));
        Assert.False(v.Ok);
        Assert.Contains(v.Problems, p => p.Contains("not sealed: the ceremony stopped when step \"enroll-bob\" failed", StringComparison.Ordinal));
        Assert.Equal("failed", v.Record!.Steps.Single(s => s.Id == "enroll-bob").Status);
    }

    public static TheoryData<string, string> Refusals() => new()
    {
        { "untrusted-ca", "bob's key has no valid attestation: the attestation chain does not verify to the trusted root" },
        { "other-key", "bob's key has no valid attestation: the attestation is for another key than the one generated" },
        { "weak-touch", "touch policy never is weaker than the required always" },
        { "extractable", "hsm-ops's key has no valid attestation: the key is extractable" },
        { "same-serial", "device serial 20000001 already holds alice's enrolled key: one key per device serial" },
        { "wrong-device", "the key was generated on device serial 29999999, not on bob's YubiKey serial 20000002" },
        { "other-holders-key", "bob signed for carol's key" },
        { "bad-signature", "bob's signature does not verify over root version 1" },
        { "root-extra-key", "lists other keys for root than the ceremony enrolled" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void Refusals_stop_the_ceremony_with_a_clear_message_and_nothing_exported(string fault, string message)
    {
        using var f = new CeremonyFixture();
        switch (fault)
        {
            case "untrusted-ca":
                f.Actions.AttestWith["bob"] = new TestAttestationAuthority("Somebody Else's CA");
                break;
            case "other-key":
                f.Actions.AttestOtherKey.Add("bob");
                break;
            case "weak-touch":
                f.Actions.AttestTouch["bob"] = "never";
                break;
            case "extractable":
                f.Actions.ExtractableKey.Add("hsm-ops");
                break;
            case "same-serial":
                f.Actions.ReportSerial["bob"] = "20000001";
                f.Operator.Answers.Clear();
                break;
            case "wrong-device":
                f.Actions.ReportSerial["bob"] = "29999999";
                break;
            case "other-holders-key":
                f.Actions.SignWithKeyOf["bob"] = "carol";
                break;
            case "bad-signature":
                f.Actions.CorruptSignature.Add("bob");
                break;
            case "root-extra-key":
                f.Actions.RootWithExtraKey = true;
                break;
        }

        using var t = f.NewTranscript();
        var runner = f.Runner(t);
        var e = Assert.Throws<CeremonyStepFailedException>(runner.RunAll);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.Null(f.Actions.BundleDir);
        Assert.DoesNotContain("export", f.Actions.Calls);

        var lines = Lines(File.ReadAllBytes(t.Path));
        var failed = lines.Last();
        Assert.Equal("step_failed", Str(failed, "event"));
        Assert.Contains(message, Str(failed, "reason"), StringComparison.Ordinal);
        if (fault is "untrusted-ca" or "other-key" or "weak-touch" or "extractable")
        {
            Assert.DoesNotContain(lines, l => Str(l, "event") == "key_enrolled" && Str(l, "holder") == (fault == "extractable" ? "hsm-ops" : "bob"));
        }

        if (fault == "untrusted-ca")
        {
            f.Actions.AttestWith["bob"].Dispose();
        }
    }

    [Fact]
    public void A_notary_repository_ceremony_runs_and_verifies_in_notary_signature_methods()
    {
        var plain = new CeremonyFixture(j => ((JsonObject)j["repository"]).Set("dialect", "notary"));
        Assert.Contains(CeremonyScriptValidator.Validate(plain.Script).Errors, e => e.Path == "$.steps[6].name" && e.Message.Contains("\"targets/releases\"", StringComparison.Ordinal));
        plain.Dispose();
        using var f = new CeremonyFixture(j =>
        {
            ((JsonObject)j["repository"]).Set("dialect", "notary");
            ((JsonObject)((JsonArray)j["steps"])[6]).Set("name", "targets/releases");
        });
        Assert.Contains(CeremonyScriptValidator.Validate(f.Script).Warnings, w => w.Message.Contains("notary clients may refuse a root threshold above 1", StringComparison.Ordinal));
        var bytes = f.RunAll();
        var v = TranscriptVerifier.Verify(bytes);
        Assert.True(v.Ok, string.Join("\n", v.Problems));
        var sigs = Lines(bytes).Where(l => Str(l, "event") == "signature_added").ToList();
        Assert.Equal(4, sigs.Count);
        Assert.All(sigs, s => Assert.Equal("ecdsa", Str(s, "method")));
        var root = Metadata<Root>.Parse(File.ReadAllBytes(Path.Combine(f.Actions.BundleDir!, "root-v1.json")));
        Assert.Equal(Dialect.Notary, root.Dialect);
        Assert.True(Tuf.Verifier.VerifyTopLevel(root.Signed, root).Verified);
    }

    [Fact]
    public void An_invalid_script_does_not_start()
    {
        using var f = new CeremonyFixture(j => ((JsonObject)((JsonObject)j["policies"])["thresholds"]).Set("root", 3));
        using var t = f.NewTranscript();
        var runner = f.Runner(t);
        var e = Assert.Throws<CeremonyFormatException>(() => runner.RunStep("enroll-alice"));
        Assert.Contains("needs 3 signatures", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, new FileInfo(t.Path).Length);
        Assert.Empty(f.Actions.Calls);
    }
}
