using System.Security.Cryptography;
using System.Text;
using OfflineSigner.Audit;
using OfflineSigner.Ceremony.Tests.Support;
using OfflineSigner.Ceremony.Transcripts;
using OfflineSigner.Signing;
using OfflineSigner.Tests.Shared;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Crypto;
using OfflineSigner.Tuf.Json;
using Xunit;
using StjNode = System.Text.Json.Nodes.JsonNode;

namespace OfflineSigner.Ceremony.Tests;

public sealed class TranscriptTests
{
    private static List<string> Lines(byte[] transcript) => [.. Encoding.UTF8.GetString(transcript).Split('\n', StringSplitOptions.RemoveEmptyEntries)];

    private static byte[] Join(IEnumerable<string> lines) => Encoding.UTF8.GetBytes(string.Concat(lines.Select(l => l + "\n")));

    // Renumbers and rewrites every prev (and every seal's covers) after an edit, as someone who can write the file
    // would: the chain is whole again, so only the seal signatures can tell.
    private static byte[] Rechain(List<string> lines)
    {
        var prev = ChainedLine.GenesisPrev;
        var output = new List<string>();
        foreach (var line in lines)
        {
            var o = (JsonObject)JsonParser.Parse(line);
            o.Set("seq", output.Count + 1);
            o.Set("prev", prev);
            if (((JsonString)o["event"]).Value == "seal_signature")
            {
                o.Set("covers_seq", output.Count);
                o.Set("covers_sha256", prev);
            }

            var bytes = CanonicalJson.Serialize(o);
            output.Add(Encoding.UTF8.GetString(bytes));
            prev = ChainedLine.Hash(bytes);
        }

        return Join(output);
    }

    // Renumbers, rechains and signs every seal again with the holders' own keys after an edit: what key holders
    // who collude could do. The seals then verify, so only the ceremony's rules can tell.
    private static byte[] Reseal(List<string> lines, CeremonyFixture f)
    {
        var prev = ChainedLine.GenesisPrev;
        var output = new List<string>();
        foreach (var line in lines)
        {
            var o = (JsonObject)JsonParser.Parse(line);
            o.Set("seq", output.Count + 1);
            o.Set("prev", prev);
            if (((JsonString)o["event"]).Value == "seal_signature")
            {
                var key = f.Actions.KeyOf(((JsonString)o["holder"]).Value);
                var keyObject = KeyFormats.Encode(key.PublicKey, Dialect.TufSpecification);
                var (sig, _) = MetadataSigner.Sign(key, Dialect.TufSpecification, keyObject, SealStatement.Bytes(f.Script.CeremonyId, output.Count, prev, ((JsonString)o["time"]).Value));
                o.Set("covers_seq", output.Count);
                o.Set("covers_sha256", prev);
                o.Set("sig", Convert.ToHexStringLower(sig));
            }

            var bytes = CanonicalJson.Serialize(o);
            output.Add(Encoding.UTF8.GetString(bytes));
            prev = ChainedLine.Hash(bytes);
        }

        return Join(output);
    }

    [Fact]
    public void Resealed_by_colluding_holders_a_transcript_is_still_held_to_the_ceremonys_rules()
    {
        using var f = new CeremonyFixture();
        var lines = Lines(f.RunAll());
        var resealed = TranscriptVerifier.Verify(Reseal(lines, f));
        Assert.True(resealed.Ok, string.Join("\n", resealed.Problems)); // the helper itself changes nothing

        // A root key nobody enrolled, slipped into the root recorded.
        var index = lines.FindIndex(l => l.Contains("\"event\":\"metadata_built\"", StringComparison.Ordinal));
        var built = (JsonObject)JsonParser.Parse(lines[index]);
        var md = Metadata<Root>.Parse(Convert.FromBase64String(((JsonString)built["document"]).Value));
        using var stranger = SoftwareKeySigner.Generate(KeyAlgorithm.EcdsaP256);
        var strangerKey = Tuf.Key.FromPublicKey(stranger.PublicKey, Dialect.TufSpecification);
        md.Signed.AddKey("root", strangerKey);
        built.Set("document", Convert.ToBase64String(md.ToBytes()));
        built.Set("signed_sha256", Convert.ToHexStringLower(SHA256.HashData(md.SignedBytes())));
        var withStranger = new List<string>(lines) { [index] = Encoding.UTF8.GetString(CanonicalJson.Serialize(built)) };
        var v = TranscriptVerifier.Verify(Reseal(withStranger, f));
        Assert.False(v.Ok);
        Assert.Contains(v.Problems, p => p.Contains($"root lists key(s) {strangerKey.KeyId} that no key holder enrolled in this ceremony", StringComparison.Ordinal));

        // A signature without its signer's confirmation.
        var noPrompt = lines.Where(l => !l.Contains("\"prompt\":\"sign-root/sign-bob\"", StringComparison.Ordinal)).ToList();
        v = TranscriptVerifier.Verify(Reseal(noPrompt, f));
        Assert.Contains(v.Problems, p => p.Contains("signature_added for bob without bob's confirmation just before it", StringComparison.Ordinal));

        // A step that went on after someone said no.
        var said = lines.Select(l => l.Contains("\"prompt\":\"root-v1/confirm-root\"", StringComparison.Ordinal) && l.Contains("\"event\":\"answer\"", StringComparison.Ordinal)
            ? l.Replace("\"answer\":\"yes\"", "\"answer\":\"no\"", StringComparison.Ordinal) : l).ToList();
        v = TranscriptVerifier.Verify(Reseal(said, f));
        Assert.Contains(v.Problems, p => p.Contains("step \"root-v1\" went on after a prompt was not confirmed", StringComparison.Ordinal));
    }

    private static StjNode Peer(string transcriptPath, params string[] statements)
    {
        var python = TestEnvironment.RequirePythonModule("securesystemslib", "python3-securesystemslib");
        TestEnvironment.RequirePythonModule("cryptography", "python3-cryptography");
        var script = Path.Combine(TestEnvironment.RepoRoot, "tests", "peers", "ceremony_verify.py");
        var result = ProcessRunner.Run(python, [script, transcriptPath, .. statements]);
        Assert.True(result.ExitCode is 0 or 1, result.ToString());
        return StjNode.Parse(result.StdOut)!;
    }

    [Fact]
    public void A_sealed_transcript_and_both_witness_statements_verify()
    {
        using var f = new CeremonyFixture();
        var transcript = f.RunAll();
        var statements = new[] { ("wendy.json", f.WitnessStatement(transcript, "wendy")), ("victor.json", f.WitnessStatement(transcript, "victor")) };
        var v = TranscriptVerifier.Verify(transcript, statements, requireAllWitnesses: true);
        Assert.True(v.Ok, string.Join("\n", v.Problems));
        Assert.Empty(v.MissingWitnesses);
        Assert.All(v.Witnesses, w => Assert.True(w.Ok, w.Message));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(transcript)), v.TranscriptSha256);

        // Without statements the transcript still verifies, naming who has not signed; requiring them fails.
        var alone = TranscriptVerifier.Verify(transcript);
        Assert.True(alone.Ok);
        Assert.Equal(["wendy", "victor"], alone.MissingWitnesses);
        var required = TranscriptVerifier.Verify(transcript, [statements[0]], requireAllWitnesses: true);
        Assert.False(required.Ok);
        Assert.Contains("no valid statement from witness(es) victor", required.Problems.Single(), StringComparison.Ordinal);
    }

    [Fact]
    public void An_edited_line_breaks_the_chain_at_the_line_after_it()
    {
        using var f = new CeremonyFixture();
        var lines = Lines(f.RunAll());
        var index = lines.FindIndex(l => l.Contains("\"prompt\":\"sign-root/sign-bob\"", StringComparison.Ordinal) && l.Contains("\"event\":\"answer\"", StringComparison.Ordinal));
        lines[index] = lines[index].Replace("\"answer\":\"yes\"", "\"answer\":\"YES\"", StringComparison.Ordinal);
        var v = TranscriptVerifier.Verify(Join(lines));
        Assert.False(v.Ok);
        Assert.Equal($"hash chain broken at line {index + 2}: prev of seq {index + 2} does not match the previous line's SHA-256", v.Problems[0]);
    }

    [Fact]
    public void A_rewritten_chain_is_caught_by_the_seals()
    {
        using var f = new CeremonyFixture();
        var lines = Lines(f.RunAll());
        var index = lines.FindIndex(l => l.Contains("\"event\":\"key_enrolled\"", StringComparison.Ordinal));
        lines[index] = lines[index].Replace("\"holder\":\"alice\"", "\"holder\":\"alice\",\"note\":\"edited\"", StringComparison.Ordinal);
        var tampered = Rechain(lines);
        Assert.True(AuditLogVerifier.Verify(tampered).Ok); // the chain alone cannot tell

        var v = TranscriptVerifier.Verify(tampered);
        Assert.False(v.Ok);
        Assert.Contains(v.Problems, p => p.Contains("alice's seal signature does not verify", StringComparison.Ordinal));
        Assert.Contains(v.Problems, p => p.Contains("bob's seal signature does not verify", StringComparison.Ordinal));

        using var dir = TestEnvironment.CreateTempDir();
        var path = Path.Combine(dir.Path, "tampered.jsonl");
        File.WriteAllBytes(path, tampered);
        var peer = Peer(path);
        Assert.True(peer["chain_ok"]!.GetValue<bool>());
        Assert.All(peer["seals"]!.AsArray(), s => Assert.False(s!["ok"]!.GetValue<bool>()));
    }

    [Fact]
    public void Dropping_the_last_seal_or_a_line_in_the_middle_is_refused()
    {
        using var f = new CeremonyFixture();
        var lines = Lines(f.RunAll());
        var truncated = TranscriptVerifier.Verify(Join(lines.Take(lines.Count - 1)));
        Assert.False(truncated.Ok);
        Assert.Contains("not sealed: 2 of the 3 seal signatures the script asks for", truncated.Problems, StringComparer.Ordinal);

        var withoutBob = lines.Where(l => !(l.Contains("\"event\":\"signature_added\"", StringComparison.Ordinal) && l.Contains("\"holder\":\"bob\"", StringComparison.Ordinal))).ToList();
        var dropped = TranscriptVerifier.Verify(Rechain(withoutBob));
        Assert.False(dropped.Ok);
        Assert.Contains(dropped.Problems, p => p.Contains("seal signature does not verify", StringComparison.Ordinal));
    }

    [Fact]
    public void Steps_recorded_out_of_the_scripts_order_are_refused_even_when_rechained()
    {
        using var f = new CeremonyFixture();
        var lines = Lines(f.RunAll());
        var text = lines.Select(l => l.Replace("\"step\":\"enroll-bob\"", "\"step\":\"enroll-xxx\"", StringComparison.Ordinal)
            .Replace("\"step\":\"enroll-carol\"", "\"step\":\"enroll-bob\"", StringComparison.Ordinal)
            .Replace("\"step\":\"enroll-xxx\"", "\"step\":\"enroll-carol\"", StringComparison.Ordinal)).ToList();
        var v = TranscriptVerifier.Verify(Rechain(text));
        Assert.False(v.Ok);
        Assert.Contains(v.Problems, p => p.Contains("step \"enroll-carol\" out of order: the script's next step is \"enroll-bob\"", StringComparison.Ordinal));
    }

    [Fact]
    public void A_witness_statement_over_another_transcript_is_refused_naming_both_digests()
    {
        using var f = new CeremonyFixture();
        var first = f.RunAll();
        var statement = f.WitnessStatement(first, "wendy");
        using var g = new CeremonyFixture();
        var second = g.RunAll();

        var v = TranscriptVerifier.Verify(second, [("wendy.json", statement)]);
        Assert.False(v.Ok);
        var sha1 = Convert.ToHexStringLower(SHA256.HashData(first));
        var sha2 = Convert.ToHexStringLower(SHA256.HashData(second));
        Assert.Equal($"witness statement wendy.json: wendy's statement is over another transcript (SHA-256 {sha1}, this one is {sha2})", v.Problems.Single());
    }

    [Fact]
    public void Witness_statements_that_are_edited_or_not_by_a_witness_are_refused()
    {
        using var f = new CeremonyFixture();
        var transcript = f.RunAll();
        var edited = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(f.WitnessStatement(transcript, "wendy")).Replace("from start to end", "in part", StringComparison.Ordinal));
        var check = WitnessStatement.Verify(edited, Convert.ToHexStringLower(SHA256.HashData(transcript)), f.Script.CeremonyId, f.Script.Witnesses);
        Assert.False(check.Ok);
        Assert.Contains("carries no valid signature by their key", check.Message, StringComparison.Ordinal);

        var stranger = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(f.WitnessStatement(transcript, "wendy")).Replace("\"wendy\"", "\"mallory\"", StringComparison.Ordinal));
        check = WitnessStatement.Verify(stranger, Convert.ToHexStringLower(SHA256.HashData(transcript)), f.Script.CeremonyId, f.Script.Witnesses);
        Assert.Equal("\"mallory\" is not a witness of this ceremony's script", check.Message);

        // Signing needs the witness's own key.
        Assert.Throws<Signing.SigningException>(() => WitnessStatement.Create(transcript, f.Script.CeremonyId, f.Script.Witnesses[0], f.WitnessKeys["victor"], f.Clock.GetUtcNow()));
    }

    [Fact]
    public void Random_byte_changes_are_refused_and_never_crash_the_verifier()
    {
        using var f = new CeremonyFixture();
        var transcript = f.RunAll();
        var lastLineStart = Array.LastIndexOf(transcript, (byte)'\n', transcript.Length - 2) + 1;
        var random = new Random(7);
        for (var i = 0; i < 400; i++)
        {
            var copy = (byte[])transcript.Clone();

            // Half the changes in the last line, which no later line chains: the last seal must cover it.
            var at = i % 2 == 0 ? random.Next(lastLineStart) : random.Next(lastLineStart, transcript.Length - 1);
            copy[at] ^= (byte)(1 << random.Next(8));
            var v = TranscriptVerifier.Verify(copy);
            Assert.False(v.Ok, $"a change at byte {at} went unnoticed");
            Assert.NotEmpty(v.Problems);
        }

        // Truncated anywhere: refused, never a crash.
        for (var n = 0; n < transcript.Length; n += 97)
        {
            Assert.False(TranscriptVerifier.Verify(transcript.AsSpan(0, n)).Ok);
        }
    }

    [Fact]
    public void An_independent_verifier_accepts_the_chain_seals_signatures_and_statements()
    {
        using var f = new CeremonyFixture();
        var transcript = f.RunAll();
        var path = Path.Combine(f.Dir, "sealed.jsonl");
        File.WriteAllBytes(path, transcript);
        var wendy = Path.Combine(f.Dir, "wendy.json");
        File.WriteAllBytes(wendy, f.WitnessStatement(transcript, "wendy"));
        var victor = Path.Combine(f.Dir, "victor.json");
        File.WriteAllBytes(victor, f.WitnessStatement(transcript, "victor"));

        var peer = Peer(path, wendy, victor);
        Assert.True(peer["chain_ok"]!.GetValue<bool>(), peer.ToJsonString());
        Assert.Equal(Lines(transcript).Count, peer["lines"]!.GetValue<int>());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(transcript)), peer["transcript_sha256"]!.GetValue<string>());
        Assert.Equal(["alice", "bob", "carol"], peer["seals"]!.AsArray().Select(s => s!["holder"]!.GetValue<string>()));
        Assert.All(peer["seals"]!.AsArray(), s => Assert.True(s!["ok"]!.GetValue<bool>(), s.ToJsonString()));
        Assert.Equal(4, peer["signatures"]!.AsArray().Count);
        Assert.All(peer["signatures"]!.AsArray(), s => Assert.True(s!["ok"]!.GetValue<bool>(), s.ToJsonString()));
        Assert.All(peer["witnesses"]!.AsArray(), w => Assert.True(w!["ok"]!.GetValue<bool>(), w.ToJsonString()));

        // And it refuses a statement over another transcript, as ours does.
        using var g = new CeremonyFixture();
        var other = Path.Combine(f.Dir, "other.json");
        File.WriteAllBytes(other, f.WitnessStatement(g.RunAll(), "wendy"));
        var refused = Peer(path, other);
        Assert.Contains("another transcript", refused["witnesses"]![0]!["error"]!.GetValue<string>(), StringComparison.Ordinal);
    }
}
