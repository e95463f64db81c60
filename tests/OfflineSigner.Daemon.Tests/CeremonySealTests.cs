using Google.Protobuf;
using OfflineSigner.Audit;
using OfflineSigner.Ceremony.Transcripts;
using OfflineSigner.Daemon.Grpc;
using OfflineSigner.Protocol.Grpc;
using OfflineSigner.Daemon.Services;
using OfflineSigner.Daemon.Tests.Support;
using OfflineSigner.Protocol.V1;
using OfflineSigner.Tuf.Crypto;
using Xunit;
using JsonArray = OfflineSigner.Tuf.Json.JsonArray;
using JsonObject = OfflineSigner.Tuf.Json.JsonObject;

namespace OfflineSigner.Daemon.Tests;

/// <summary>
/// CeremonyService/SealTranscript on a SoftHSM token: the daemon seals only a transcript whose chain verifies, of a
/// ceremony that has not failed, with a key that ceremony enrolled; it builds the statement itself over the last line.
/// </summary>
public sealed class CeremonySealTests(SoftHsm hsm)
{
    private const string SealedAt = "2026-03-14T10:00:00.000Z";

    [Fact]
    public void An_enrolled_key_seals_the_transcript_over_its_last_line_and_the_seal_is_audited()
    {
        using var h = new DaemonHarness(hsm);
        var key = h.Generate("alice", 0x01);
        var service = new CeremonyService(h.Backends, h.Directory, h.Audit);
        var transcript = Transcript(key);
        var response = service.SealTranscript(Request(transcript, key.Uri), Ctx());

        var lines = System.Text.Encoding.UTF8.GetString(transcript).TrimEnd('\n').Split('\n');
        var last = System.Text.Encoding.UTF8.GetBytes(lines[^1]);
        Assert.Equal(lines.Length, response.CoversSeq);
        Assert.Equal(Audit.ChainedLine.Hash(last), response.CoversSha256);
        Assert.Equal("seal-test", response.CeremonyId);
        Assert.Equal(SealStatement.Bytes("seal-test", lines.Length, response.CoversSha256, SealedAt), response.Statement.ToByteArray());
        var keyObject = KeyFormats.Encode(PublicKey.FromSubjectPublicKeyInfo(key.SubjectPublicKeyInfo.Span), Tuf.Dialect.TufSpecification);
        Assert.True(SealStatement.Verify(keyObject, "seal-test", lines.Length, response.CoversSha256, SealedAt, response.Signature.Span));
        Assert.False(SealStatement.Verify(keyObject, "seal-test", lines.Length - 1, response.CoversSha256, SealedAt, response.Signature.Span));
        var audited = Assert.Single(h.Audit.Events, e => e.Kind == AuditEventKind.Signed);
        Assert.Equal("ceremony-seal", audited.Role);
        Assert.Equal(key.Uri, audited.KeyUri);
    }

    [Fact]
    public void The_daemon_refuses_to_seal_with_a_key_the_ceremony_did_not_enroll_a_broken_chain_or_a_failed_ceremony()
    {
        using var h = new DaemonHarness(hsm);
        var alice = h.Generate("alice", 0x01);
        var mallory = h.Generate("mallory", 0x02);
        var service = new CeremonyService(h.Backends, h.Directory, h.Audit);
        var transcript = Transcript(alice);

        var notEnrolled = Assert.Throws<RpcException>(() => service.SealTranscript(Request(transcript, mallory.Uri), Ctx()));
        Assert.Equal(StatusCode.FailedPrecondition, notEnrolled.Status);
        Assert.Contains($"is not enrolled in ceremony seal-test", notEnrolled.Message, StringComparison.Ordinal);

        var tampered = (byte[])transcript.Clone();
        var at = Array.IndexOf(tampered, (byte)'a', 40);
        tampered[at] = (byte)'b';
        var broken = Assert.Throws<RpcException>(() => service.SealTranscript(Request(tampered, alice.Uri), Ctx()));
        Assert.Equal(StatusCode.FailedPrecondition, broken.Status);
        Assert.Contains("hash chain does not verify", broken.Message, StringComparison.Ordinal);

        var failed = Transcript(alice, fail: true);
        var halted = Assert.Throws<RpcException>(() => service.SealTranscript(Request(failed, alice.Uri), Ctx()));
        Assert.Contains("a failed ceremony is not sealed", halted.Message, StringComparison.Ordinal);

        var badTime = Assert.Throws<RpcException>(() => service.SealTranscript(new SealTranscriptRequest { Transcript = ByteString.CopyFrom(transcript), KeyUri = alice.Uri, SealedAt = "yesterday" }, Ctx()));
        Assert.Contains("is not a transcript time", badTime.Message, StringComparison.Ordinal);

        Assert.DoesNotContain(h.Audit.Events, e => e.Kind == AuditEventKind.Signed);
        Assert.Equal(4, h.Audit.Events.Count(e => e.Kind == AuditEventKind.PolicyRefused && e.Detail == "ceremony-seal"));
    }

    private static SealTranscriptRequest Request(byte[] transcript, string uri) => new()
    {
        Transcript = ByteString.CopyFrom(transcript),
        KeyUri = uri,
        SealedAt = SealedAt,
        Pin = ByteString.CopyFrom(SoftHsm.UserPin),
    };

    private static CallContext Ctx() => DaemonHarness.Context("/offlinesigner.v1.CeremonyService/SealTranscript");

    private static byte[] Transcript(KeyInfo enrolled, bool fail = false)
    {
        using var stream = new MemoryStream();
        using (var w = new TranscriptWriter(stream, new Clock()))
        {
            w.Append(TranscriptEvents.CeremonyStarted, new JsonObject { { "format", TranscriptEvents.TranscriptFormat }, { "ceremony_id", "seal-test" }, { "mode", "rehearsal" } });
            w.Append(TranscriptEvents.StepStarted, new JsonObject { { "step", "enroll-alice" }, { "index", 1 }, { "action", "generate-key" } });
            w.Append(TranscriptEvents.KeyEnrolled, new JsonObject { { "step", "enroll-alice" }, { "holder", "alice" }, { "fingerprint", enrolled.Fingerprint }, { "key_id", enrolled.TufKeyId } });
            if (fail)
            {
                w.Append(TranscriptEvents.StepFailed, new JsonObject { { "step", "sign" }, { "reason", "bob did not confirm" } });
            }

            w.Append(TranscriptEvents.StepStarted, new JsonObject { { "step", "seal" }, { "index", 2 }, { "action", "seal" }, { "details", new JsonArray() } });
        }

        return stream.ToArray();
    }

    private sealed class Clock : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => new(2026, 3, 14, 9, 30, 0, TimeSpan.Zero);
    }
}
