using OfflineSigner.Ceremony.Engine;
using OfflineSigner.Ceremony.Tests.Support;
using OfflineSigner.Ceremony.Transcripts;
using Xunit;

namespace OfflineSigner.Ceremony.Tests;

public sealed class OperatorTests
{
    [Fact]
    public void On_a_terminal_each_prompt_names_the_person_and_device_and_only_yes_goes_on()
    {
        using var f = new CeremonyFixture();
        using var input = new StringReader(string.Concat(Enumerable.Repeat("yes\n", 200)));
        using var output = new StringWriter();
        using (var t = f.NewTranscript())
        {
            new CeremonyRunner(f.Script, f.Actions, f.Verifier, new TextCeremonyOperator(input, output), t.Writer, CeremonyMode.Rehearsal).RunAll();
            Assert.True(TranscriptVerifier.Verify(File.ReadAllBytes(t.Path)).Ok);
        }

        var text = output.ToString();
        Assert.Contains("=== step 1 of 10: enroll-alice (generate-key)", text, StringComparison.Ordinal);
        Assert.Contains("--- sign-root/sign-bob\nwho:    Bob Baker (key-holder, bob)\ndevice: YubiKey serial 20000002\n", text.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Contains("device: PKCS#11 token serial 6f1c2a9b3e5d7a10", text, StringComparison.Ordinal);
        Assert.Contains("    words: ", text, StringComparison.Ordinal);
    }

    [Fact]
    public void The_end_of_the_input_stops_the_ceremony()
    {
        using var f = new CeremonyFixture();
        using var input = new StringReader("yes\nyes\n");
        using var output = new StringWriter();
        using var t = f.NewTranscript();
        var runner = new CeremonyRunner(f.Script, f.Actions, f.Verifier, new TextCeremonyOperator(input, output), t.Writer, CeremonyMode.Ceremony);
        var e = Assert.Throws<CeremonyStepFailedException>(runner.RunAll);
        Assert.Equal("enroll-bob", e.StepId);
        Assert.Contains("answered \"\"", e.Message, StringComparison.Ordinal);
    }
}
