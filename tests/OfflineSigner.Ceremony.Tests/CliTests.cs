using System.Text;
using OfflineSigner.Ceremony.Tests.Support;
using OfflineSigner.Tests.Shared;
using OfflineSigner.Tuf.Json;
using Xunit;
using StjNode = System.Text.Json.Nodes.JsonNode;

namespace OfflineSigner.Ceremony.Tests;

/// <summary>offline-signer ceremony ... run as a user runs it: the built CLI in its own process.</summary>
public sealed class CliTests
{
    private static ProcessResult Cli(params string[] args) =>
        ProcessRunner.Run(TestEnvironment.DotnetHost, ["exec", Path.Combine(AppContext.BaseDirectory, "offline-signer.dll"), .. args], TimeSpan.FromMinutes(1));

    [Fact]
    public void Validate_reports_valid_invalid_and_unreadable_with_the_documented_exit_codes()
    {
        using var dir = TestEnvironment.CreateTempDir();
        var ok = Cli("ceremony", "validate", CeremonyFixture.SamplePath);
        Assert.True(ok.ExitCode == 0, ok.ToString());
        Assert.Contains("valid: ceremony example-root-2026, 4 key holder(s), 2 witness(es), 10 steps", ok.StdOut, StringComparison.Ordinal);

        var json = (JsonObject)JsonParser.Parse(File.ReadAllBytes(CeremonyFixture.SamplePath));
        var steps = (JsonArray)json["steps"];
        ((JsonObject)steps[5]).Set("signers", new JsonArray(["alice"]));
        ((JsonObject)steps[1]).Set("holder", "alice");
        var bad = Path.Combine(dir.Path, "bad.json");
        File.WriteAllBytes(bad, JsonText.Serialize(json, indented: true));
        var invalid = Cli("ceremony", "validate", bad);
        Assert.True(invalid.ExitCode == 1, invalid.ToString());
        Assert.Contains("error: $.steps[1].holder: alice already has a key in step \"enroll-alice\" (generate-key)", invalid.StdOut, StringComparison.Ordinal);
        Assert.Contains("INVALID: ", invalid.StdOut, StringComparison.Ordinal);

        var asJson = Cli("ceremony", "validate", bad, "--json");
        Assert.Equal(1, asJson.ExitCode);
        var doc = StjNode.Parse(asJson.StdOut)!;
        Assert.False(doc["valid"]!.GetValue<bool>());
        Assert.Contains(doc["errors"]!.AsArray(), e => e!["path"]!.GetValue<string>() == "$.steps[5].signers");

        var notJson = Path.Combine(dir.Path, "broken.json");
        File.WriteAllText(notJson, "{\"format\": ");
        var broken = Cli("ceremony", "validate", notJson);
        Assert.Equal(1, broken.ExitCode);
        Assert.Contains("error: $", broken.StdOut, StringComparison.Ordinal);

        var missing = Cli("ceremony", "validate", Path.Combine(dir.Path, "nope.json"));
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("no such file", missing.StdErr, StringComparison.Ordinal);
        Assert.Equal(2, Cli("ceremony", "validate").ExitCode);
    }

    [Fact]
    public void Witness_verify_and_report_from_the_command_line()
    {
        using var f = new CeremonyFixture();
        var transcript = Path.Combine(f.Dir, "sealed.jsonl");
        File.WriteAllBytes(transcript, f.RunAll());
        var key = Path.Combine(f.Dir, "wendy.key");
        f.WitnessKeys["wendy"].SavePkcs8Pem(key);
        var statement = Path.Combine(f.Dir, "wendy.statement.json");

        var signed = Cli("ceremony", "witness", transcript, "--witness-id", "wendy", "--key", key, "--out", statement);
        Assert.True(signed.ExitCode == 0, signed.ToString());
        Assert.Equal(2, Cli("ceremony", "witness", transcript, "--witness-id", "wendy", "--key", key, "--out", statement).ExitCode); // never overwritten
        Assert.Equal(2, Cli("ceremony", "witness", transcript, "--witness-id", "mallory", "--key", key, "--out", statement + ".2").ExitCode);

        var verified = Cli("ceremony", "verify", transcript, "--witness", statement);
        Assert.True(verified.ExitCode == 0, verified.ToString());
        Assert.Contains("sealed by alice, bob, carol", verified.StdOut, StringComparison.Ordinal);
        Assert.Contains("witness: " + statement + ": Wendy Walker (wendy) signed this transcript", verified.StdOut, StringComparison.Ordinal);
        Assert.Contains("no statement from: victor", verified.StdOut, StringComparison.Ordinal);
        Assert.Equal(1, Cli("ceremony", "verify", transcript, "--witness", statement, "--require-witnesses").ExitCode);

        var json = StjNode.Parse(Cli("ceremony", "verify", transcript, "--json").StdOut)!;
        Assert.True(json["ok"]!.GetValue<bool>());
        Assert.Equal(4, json["keys"]!.AsArray().Count);

        // A tampered transcript is refused, naming the line; a statement over it no longer applies either.
        var lines = File.ReadAllLines(transcript);
        lines[3] = lines[3].Replace("\"yes\"", "\"no\"", StringComparison.Ordinal);
        var tampered = Path.Combine(f.Dir, "tampered.jsonl");
        File.WriteAllText(tampered, string.Join("\n", lines) + "\n");
        var refused = Cli("ceremony", "verify", tampered, "--witness", statement);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("REFUSED: hash chain broken at line 5", refused.StdOut, StringComparison.Ordinal);
        Assert.Contains("statement is over another transcript", refused.StdOut, StringComparison.Ordinal);
        Assert.Equal(1, Cli("ceremony", "witness", tampered, "--witness-id", "victor", "--key", key, "--out", statement + ".3").ExitCode);

        var html = Path.Combine(f.Dir, "report.html");
        var text = Path.Combine(f.Dir, "report.txt");
        var report = Cli("ceremony", "report", transcript, "--witness", statement, "--html", html, "--text", text);
        Assert.True(report.ExitCode == 0, report.ToString());
        Assert.Contains("Wendy Walker", File.ReadAllText(text), StringComparison.Ordinal);
        Assert.StartsWith("<!DOCTYPE html>", File.ReadAllText(html, Encoding.UTF8), StringComparison.Ordinal);
        Assert.Equal(2, Cli("ceremony", "report", transcript).ExitCode);
    }
}
