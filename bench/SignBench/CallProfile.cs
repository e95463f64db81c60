using System.Diagnostics;
using System.Runtime.Versioning;
using OfflineSigner.Audit;
using OfflineSigner.Daemon.Policy;
using OfflineSigner.Daemon.Services;
using OfflineSigner.Pkcs11;
using OfflineSigner.Protocol.V1;
using OfflineSigner.Signing;
using OfflineSigner.Tuf.Crypto;

namespace OfflineSigner.SignBench;

/// <summary>
/// Where one Sign call's time goes: the steps SigningService runs for each call, each timed alone in this process
/// with the daemon's own types, on the same token, key and request, with nothing else holding the token. What the
/// steps do not cover is the RPC itself (HTTP/2, protobuf, the caller check, the thread hops).
/// </summary>
[SupportedOSPlatform("linux")]
internal static class CallProfile
{
    public static IReadOnlyList<(string Step, double Ms)> Run(string module, string tokenLabel, byte[] pin, KeyInfo key, SignRequest request, string workDir, TimeSpan perStep)
    {
        // The daemon keeps the module initialized between calls; so does this.
        using var resident = Pkcs11Module.Load(module);
        var options = new Pkcs11TokenOptions(module, TokenSelector.ByLabel(tokenLabel), new BytesPin(pin));
        var uri = Pkcs11Uri.Parse(key.Uri);
        var signing = request.Request;
        var input = new SigningInput(signing.Metadata.Memory, signing.Role, signing.TrustedRoot.Memory, signing.Previous.Memory,
            signing.Delegator.Memory, signing.KeyUri, string.IsNullOrEmpty(signing.Gun) ? null : signing.Gun);
        var gate = new SigningGate(new SigningPolicyOptions(), TimeProvider.System);
        var decision = gate.Evaluate(input, PublicKey.FromSubjectPublicKeyInfo(key.SubjectPublicKeyInfo.Span));
        var listed = decision.SigningKey;
        var dialect = decision.Metadata.Dialect;

        var steps = new List<(string, double)>
        {
            // As SigningService: the known key's PublicKey (decoded once, then reused), one evaluation of the gate,
            // whose decision stands when the token's key is that key.
            ("policy gate: parse and check the request, once (the decision is reused after the PIN check when the token's key is the one it was made for)", Time(perStep, () =>
                _ = gate.Evaluate(input, PublicKey.FromSubjectPublicKeyInfo(key.SubjectPublicKeyInfo.Span)))),

            // No other session of this process is open here: C_Login really logs in. The daemon does this on the first
            // call, after the idle timeout, and after the token dropped the login; with pkcs11.loginIdleSeconds 0, on every call.
            ("once per login: find the token, C_OpenSession + C_Login with the request's PIN, C_CloseSession", Time(perStep, () =>
            {
                using var once = Pkcs11Token.Open(options);
            })),
        };

        using (var token = Pkcs11Token.Open(options))
        {
            steps.Add(("once per key and login: find the key and read its attributes and protection evidence", Time(perStep, () =>
            {
                using var once = Pkcs11Signer.Open(token, uri, KeyProtectionPolicy.Strict);
            })));
        }

        // The daemon's own backend, as SigningService calls it: OpenSigner checks the request's PIN against the kept
        // login (HMAC-SHA256, fixed-time compare) and lends the kept signer; the signature checks the PIN again.
        using (var backend = new Pkcs11Backend("softhsm", module, TokenSelector.ByLabel(tokenLabel), null, KeyProtectionPolicy.Strict))
        {
            using (backend.OpenSigner(key.Uri, pin))
            {
            }

            steps.Add(("token: the request's PIN checked against the kept login, the kept signer lent (Pkcs11Backend.OpenSigner)", Time(perStep, () =>
            {
                using var lent = backend.OpenSigner(key.Uri, pin);
            })));
            using var signer = backend.OpenSigner(key.Uri, pin);
            steps.Add(("sign: SHA-256 + C_Sign on a pooled session + verify, then the daemon's check against the listed key", Time(perStep, () =>
            {
                var (signature, method) = MetadataSigner.Sign(signer, dialect, listed.Json, decision.SignedBytes);
                if (!SignatureVerifier.Verify(listed.PublicKey!, dialect, listed.KeyType, listed.Scheme, method, decision.SignedBytes, signature))
                {
                    throw new InvalidOperationException("the signature does not verify");
                }
            })));
        }

        using (var audit = new AuditLogWriter(Path.Combine(workDir, "profile-audit.jsonl")))
        {
            var sha = Convert.ToHexStringLower(decision.SignedSha256);
            steps.Add(("audit: one entry appended and fsync'ed, alone (same file system as the daemon's log)", Time(perStep, () =>
                audit.Append(new AuditEvent(AuditEventKind.Signed)
                {
                    KeyId = listed.KeyId,
                    KeyUri = signing.KeyUri,
                    Role = signing.Role,
                    Version = decision.Metadata.Signed.Version,
                    PayloadSha256 = sha,
                    Backend = "softhsm",
                    CallerUid = 0,
                }))));
        }

        return steps;
    }

    /// <summary>
    /// Median milliseconds per run of <paramref name="step"/> over <paramref name="duration"/>, after a short warm-up:
    /// the median, as the call's p50 it is compared with, and because preemption by other processes inflates a mean.
    /// </summary>
    private static double Time(TimeSpan duration, Action step)
    {
        for (var i = 0; i < 20; i++)
        {
            step();
        }

        var times = new List<double>();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration || times.Count < 20)
        {
            var start = Stopwatch.GetTimestamp();
            step();
            times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }

        times.Sort();
        return times[times.Count / 2];
    }

    /// <summary>A PIN given as bytes, as the daemon holds a PIN that arrived in a request.</summary>
    private sealed class BytesPin(byte[] pin) : IPinSource
    {
        public string Description => "the benchmark's PIN";

        public byte[] ReadPin() => (byte[])pin.Clone();
    }
}
