using System.Text;
using OfflineSigner.Ceremony.Scripts;
using OfflineSigner.Ceremony.Tests.Support;
using OfflineSigner.Tuf.Json;
using Xunit;

namespace OfflineSigner.Ceremony.Tests;

public sealed class ScriptTests
{
    private static JsonObject Sample() => (JsonObject)JsonParser.Parse(File.ReadAllBytes(CeremonyFixture.SamplePath));

    private static ScriptValidation Validate(Action<JsonObject> edit)
    {
        var json = Sample();
        edit(json);
        return CeremonyScriptValidator.Validate(CanonicalJson.Serialize(json));
    }

    private static JsonObject Step(JsonObject json, string id) =>
        ((JsonArray)json["steps"]).Cast<JsonObject>().Single(s => ((JsonString)s["id"]).Value == id);

    private static JsonObject Holder(JsonObject json, string id) =>
        ((JsonArray)((JsonObject)json["people"])["key_holders"]).Cast<JsonObject>().Single(s => ((JsonString)s["id"]).Value == id);

    private static void AssertError(ScriptValidation v, string path, string fragment)
    {
        Assert.False(v.Valid);
        Assert.True(
            v.Errors.Any(e => e.Path == path && e.Message.Contains(fragment, StringComparison.Ordinal)),
            $"expected an error at {path} containing \"{fragment}\"; got:\n{string.Join("\n", v.Findings)}");
    }

    [Fact]
    public void The_sample_script_is_valid_and_reads_as_written()
    {
        var v = CeremonyScriptValidator.Validate(File.ReadAllBytes(CeremonyFixture.SamplePath));
        Assert.True(v.Valid, string.Join("\n", v.Findings));
        Assert.Empty(v.Findings);
        var s = v.Script!;
        Assert.Equal("example-root-2026", s.CeremonyId);
        Assert.Equal(4, s.KeyHolders.Count);
        Assert.Equal(DeviceKind.Pkcs11, s.FindHolder("hsm-ops")!.Device.Kind);
        Assert.Equal(10, s.Steps.Count);
        Assert.Equal(StepAction.Seal, s.Steps[^1].Action);
        Assert.Equal(["enroll-alice", "enroll-bob", "enroll-carol"], s.FindStep("root-v1")!.RoleKeys["root"]);
        Assert.Equal(2, s.Policies.ThresholdOf("root"));
    }

    [Theory]
    [InlineData("""{"format":"offline-signer-ceremony/1","format":"x"}""", "$", "duplicate")]
    [InlineData("""{"format":"offline-signer-ceremony/2"}""", "$.format", "not a format this version reads")]
    [InlineData("""[1]""", "$", "expected an object")]
    [InlineData("""{"format":"offline-signer-ceremony/1","ceremony_id":"Bad Id"}""", "$.ceremony_id", "not an identifier")]
    [InlineData("""{"format":"offline-signer-ceremony/1","ceremony_id":"a","purpose":"p"}""", "$.repository", "missing")]
    public void Structural_errors_name_the_field(string text, string pathPrefix, string fragment)
    {
        var v = CeremonyScriptValidator.Validate(Encoding.UTF8.GetBytes(text));
        Assert.False(v.Valid);
        var e = Assert.Single(v.Findings);
        Assert.StartsWith(pathPrefix, e.Path, StringComparison.Ordinal);
        Assert.Contains(fragment, e.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Random_changes_to_a_script_give_findings_never_a_crash()
    {
        var bytes = File.ReadAllBytes(CeremonyFixture.SamplePath);
        var random = new Random(11);
        for (var i = 0; i < 500; i++)
        {
            var copy = (byte[])bytes.Clone();
            for (var n = random.Next(1, 4); n > 0; n--)
            {
                copy[random.Next(copy.Length)] = (byte)random.Next(32, 127);
            }

            var v = CeremonyScriptValidator.Validate(copy);
            Assert.All(v.Findings, f => Assert.StartsWith("$", f.Path, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Duplicate_keys_deep_inside_are_refused_with_their_path()
    {
        var text = File.ReadAllText(CeremonyFixture.SamplePath).Replace("\"holder\": \"alice\",", "\"holder\": \"alice\", \"holder\": \"bob\",", StringComparison.Ordinal);
        var v = CeremonyScriptValidator.Validate(Encoding.UTF8.GetBytes(text));
        var e = Assert.Single(v.Findings);
        Assert.Equal("$.steps[0].holder", e.Path);
        Assert.Contains("duplicate", e.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Unknown_fields_are_refused_at_every_level()
    {
        AssertError(Validate(j => j.Add("extra", 1)), "$.extra", "unknown field");
        AssertError(Validate(j => Holder(j, "bob").Add("phone", "x")), "$.people.key_holders[1].phone", "unknown field");
        AssertError(Validate(j => ((JsonObject)Holder(j, "bob")["device"]).Add("slot", "9c")), "$.people.key_holders[1].device.slot", "unknown field");
        AssertError(Validate(j => Step(j, "sign-root").Add("threshold", 1)), "$.steps[5].threshold", "unknown field");
        AssertError(Validate(j => ((JsonObject)((JsonObject)j["policies"])["yubikey"]).Add("pin", "always")), "$.policies.yubikey.pin", "unknown field");
    }

    [Fact]
    public void Wrong_types_and_values_name_the_field()
    {
        AssertError(Validate(j => Holder(j, "bob").Set("device", new JsonObject { { "kind", "yubikey" }, { "serial", "12ab" } })), "$.people.key_holders[1].device.serial", "not a YubiKey serial");
        AssertError(Validate(j => Step(j, "enroll-bob").Set("action", "make-key")), "$.steps[1].action", "not one of");
        AssertError(Validate(j => ((JsonObject)((JsonObject)j["policies"])["expiry_days"]).Set("root", "365")), "$.policies.expiry_days.root", "expected a non-negative integer");
        AssertError(Validate(j => ((JsonObject)j["policies"]).Set("algorithms", new JsonArray(["dsa"])) ), "$.policies.algorithms[0]", "not one of");
    }

    [Fact]
    public void References_between_steps_and_people_are_checked()
    {
        AssertError(Validate(j => Step(j, "enroll-bob").Set("holder", "mallory")), "$.steps[1].holder", "not a key holder");
        AssertError(Validate(j => Step(j, "sign-root").Set("item", "root-v9")), "$.steps[5].item", "no step \"root-v9\"");
        AssertError(Validate(j => Step(j, "sign-root").Set("item", "export")), "$.steps[5].item", "comes later");
        AssertError(Validate(j => Step(j, "sign-root").Set("item", "enroll-bob")), "$.steps[5].item", "builds nothing to sign");
        AssertError(Validate(j => Step(j, "delegate-releases").Set("keys", new JsonArray(["root-v1"]))), "$.steps[6].keys[0]", "not generate-key");
        AssertError(Validate(j => Step(j, "sign-root").Set("signers", new JsonArray(["alice", "hsm-ops"]))), "$.steps[5].signers[1]", "holds no key of the root role");
    }

    [Fact]
    public void Thresholds_must_be_satisfiable_by_the_listed_holders()
    {
        AssertError(Validate(j => Step(j, "sign-root").Set("signers", new JsonArray(["alice"]))), "$.steps[5].signers", "needs 2 signatures");
        AssertError(Validate(j => ((JsonObject)((JsonObject)j["policies"])["thresholds"]).Set("root", 4)), "$.steps[4].keys.root", "cannot meet the root threshold of 4");
        AssertError(Validate(j => Step(j, "sign-root").Set("signers", new JsonArray(["alice", "alice"]))), "$.steps[5].signers[1]", "listed twice");
        AssertError(Validate(j => Step(j, "delegate-releases").Set("threshold", 2)), "$.steps[6].keys", "cannot meet the delegation threshold of 2");
    }

    [Fact]
    public void One_key_per_holder_and_per_device_serial()
    {
        AssertError(Validate(j => Step(j, "enroll-bob").Set("holder", "alice")), "$.steps[1].holder", "one key per holder");
        AssertError(
            Validate(j => Holder(j, "bob").Set("device", new JsonObject { { "kind", "yubikey" }, { "serial", "20000001" } })),
            "$.people.key_holders[1].device.serial",
            "one key per device serial");
    }

    [Fact]
    public void Policies_the_steps_cannot_meet_are_errors()
    {
        AssertError(Validate(j => Step(j, "enroll-bob").Set("algorithm", "ecdsa-p384")), "$.steps[1].algorithm", "not among the policy's algorithms");
        AssertError(
            Validate(j =>
            {
                ((JsonObject)j["policies"]).Set("algorithms", new JsonArray(["ecdsa-p256", "ed25519"]));
                ((JsonObject)((JsonObject)j["policies"])["yubikey"]).Remove("min_firmware");
                Step(j, "enroll-bob").Set("algorithm", "ed25519");
            }),
            "$.steps[1].algorithm",
            "needs firmware 5.7.0");
        AssertError(Validate(j => ((JsonObject)((JsonObject)j["policies"])["yubikey"]).Set("touch_policy", "cached")), "$.policies.yubikey", "need both \"always\"");
    }

    [Fact]
    public void Expiries_are_checked_for_sanity()
    {
        AssertError(Validate(j => ((JsonObject)((JsonObject)j["policies"])["expiry_days"]).Set("root", 4000)), "$.policies.expiry_days.root", "more than ten years");
        var v = Validate(j => ((JsonObject)((JsonObject)j["policies"])["expiry_days"]).Set("targets", 500));
        Assert.True(v.Valid);
        Assert.Contains(v.Warnings, w => w.Path == "$.policies.expiry_days.targets" && w.Message.Contains("outlives root", StringComparison.Ordinal));
        AssertError(Validate(j => ((JsonObject)((JsonObject)j["policies"])["expiry_days"]).Remove("targets")), "$.policies.expiry_days", "expiry_days.targets is needed");
    }

    [Fact]
    public void The_seal_comes_last_and_exports_leave_fully_signed()
    {
        AssertError(Validate(j => ((JsonArray)j["steps"]).Add(new JsonObject { { "id", "late" }, { "action", "generate-key" }, { "holder", "hsm-ops" }, { "algorithm", "ecdsa-p256" } })), "$.steps[9]", "must be the last step");
        AssertError(
            Validate(j =>
            {
                var steps = (JsonArray)j["steps"];
                var rebuilt = new JsonArray(steps.Where(s => ((JsonString)((JsonObject)s)["id"]).Value != "sign-targets"));
                j.Set("steps", rebuilt);
            }),
            "$.steps[7].items[1]",
            "would leave with 0 of the 2 signatures");
    }

    private static ScriptValidation ValidateRotation(Action<JsonObject> edit)
    {
        var json = (JsonObject)JsonParser.Parse(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Scripts", "delegation-rotation.json")));
        edit(json);
        return CeremonyScriptValidator.Validate(CanonicalJson.Serialize(json));
    }

    [Fact]
    public void The_sample_delegation_rotation_is_valid_and_reads_as_written()
    {
        var v = ValidateRotation(_ => { });
        Assert.True(v.Valid, string.Join("\n", v.Findings));
        Assert.Empty(v.Findings);
        var s = v.Script!;
        Assert.Equal([StepAction.EnrollKey, StepAction.EnrollKey, StepAction.GenerateKey, StepAction.Delegation, StepAction.Sign, StepAction.DelegatedRole, StepAction.Sign, StepAction.ExportBundle, StepAction.Seal], s.Steps.Select(x => x.Action));
        Assert.Equal("targets", s.FindStep("bring-alice")!.Role);
        Assert.Equal("rotate-releases", s.FindStep("releases-next")!.DelegationStep);
    }

    [Fact]
    public void A_ceremony_that_brings_keys_of_the_current_root_cannot_also_build_a_root()
    {
        AssertError(
            Validate(j =>
            {
                var step = Step(j, "enroll-bob");
                step.Set("action", "enroll-key");
                step.Remove("algorithm");
                step.Set("role", "targets");
            }),
            "$.steps[1]",
            "one ceremony does one or the other");
    }

    [Fact]
    public void Rotation_steps_are_checked_against_the_keys_brought_and_generated()
    {
        // A holder who signs targets but brought no targets key.
        AssertError(ValidateRotation(j => Step(j, "sign-targets").Set("signers", new JsonArray(["alice", "hsm-ops"]))), "$.steps[4].signers[1]", "holds no key of the targets role");

        // The new delegation key signs the delegated role, not targets; and the targets threshold is not met by one.
        AssertError(ValidateRotation(j => Step(j, "sign-targets").Set("signers", new JsonArray(["alice"]))), "$.steps[4].signers", "1 short");

        // A holder brings a key and generates one: one key per holder.
        AssertError(ValidateRotation(j => Step(j, "new-releases-key").Set("holder", "alice")), "$.steps[2].holder", "one key per holder");

        // delegated-role names a delegation step, which comes earlier.
        AssertError(ValidateRotation(j => Step(j, "releases-next").Set("delegation", "sign-targets")), "$.steps[5].delegation", "not delegation");
        AssertError(ValidateRotation(j => Step(j, "releases-next").Set("delegation", "nothing")), "$.steps[5].delegation", "no step");

        // Only the delegation's new keys sign the delegated role.
        AssertError(ValidateRotation(j => Step(j, "sign-releases").Set("signers", new JsonArray(["alice"]))), "$.steps[6].signers[0]", "holds no key of the releases role");

        // enroll-key names a top-level role.
        var v = ValidateRotation(j => Step(j, "bring-alice").Set("role", "releases"));
        Assert.False(v.Valid);
        Assert.Contains(v.Errors, e => e.Path == "$.steps[0].role");
    }
}
