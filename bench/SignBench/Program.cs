using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Text.Json;
using Google.Protobuf;
using OfflineSigner.Pkcs11;
using OfflineSigner.Protocol.Health.V1;
using OfflineSigner.Protocol.V1;
using OfflineSigner.Signing;
using OfflineSigner.Tuf;
using Dialect = OfflineSigner.Tuf.Dialect;
using Notary = OfflineSigner.SignBench.NotarySigner;

namespace OfflineSigner.SignBench;

/// <summary>
/// Sign RPC throughput and latency, in one run, driven by one client (<see cref="GrpcClient"/>):
/// offline-signerd (ECDSA P-256 on SoftHSM2, a targets document with the PIN in every request, Unix socket) and
/// notary-signer (ECDSA P-256 in its memory store, its own gRPC API over TLS on loopback), at concurrency 1 and 8, beside
/// an empty call to the daemon (its transport's floor), interleaved in slices so that load from other processes falls
/// on all of them alike. Then, with the daemon stopped, the
/// PKCS#11 backend's direct in-process rate on the same token and key, and where one daemon Sign call's time goes.
/// Usage: SignBench WORKDIR TOKEN_LABEL USER_PIN_FILE TLS_DIR NOTARY_PORT NOTARY_PID [MIN_SECONDS] [MIN_CALLS]
/// run.sh prepares all of it (token, SOFTHSM2_CONF, certificates, notary-signer).
/// </summary>
[SupportedOSPlatform("linux")]
internal static class Program
{
    private const string Module = "/usr/lib/softhsm/libsofthsm2.so";
    private const string SignPath = "/offlinesigner.v1.SigningService/Sign";
    private const string NotarySignPath = "/proto.Signer/Sign";
    private const string HealthPath = "/grpc.health.v1.Health/Check";
    private const string Ours = "offline-signerd (SoftHSM2, Unix socket)";
    private const string OursTmpfs = "offline-signerd, audit log on tmpfs (not the headline)";
    private const string Theirs = "notary-signer (memory store, TLS loopback)";
    private const string Direct = "PKCS#11 backend in-process, one session";
    private const string DirectPool = "PKCS#11 backend in-process, session pool";
    private const string Empty = "offline-signerd empty call (Health/Check)";
    private const string RawFsync = "floor: raw append + fsync of one line, same fs";
    private const string AuditAppend = "audit log: AuditLogWriter.Append, same fs";
    private const int WarmUpCalls = 200;
    private static readonly TimeSpan WarmUpTime = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan Slice = TimeSpan.FromSeconds(2);

    public static async Task<int> Main(string[] args)
    {
        if (args.Length < 6)
        {
            Console.Error.WriteLine("usage: SignBench WORKDIR TOKEN_LABEL USER_PIN_FILE TLS_DIR NOTARY_PORT NOTARY_PID [MIN_SECONDS] [MIN_CALLS]");
            return 2;
        }

        var (work, label, pinFile, tls) = (args[0], args[1], args[2], args[3]);
        var notaryPort = int.Parse(args[4], CultureInfo.InvariantCulture);
        var notaryPid = int.Parse(args[5], CultureInfo.InvariantCulture);
        var seconds = args.Length > 6 ? double.Parse(args[6], CultureInfo.InvariantCulture) : 10;
        var minCalls = args.Length > 7 ? int.Parse(args[7], CultureInfo.InvariantCulture) : 2000;
        var budget = new Budget(minCalls, TimeSpan.FromSeconds(seconds), TimeSpan.FromSeconds(seconds * 6));
        var pin = File.ReadAllBytes(pinFile).TakeWhile(b => b != '\n').ToArray();

        // offline-signerd on the token; the PIN comes with each request (none in the configuration). The default
        // pkcs11 settings: the login is kept (300 s idle timeout), and every request's PIN is checked against it.
        var socket = Path.Combine(work, "run", "signerd.sock");
        var config = WriteConfig(work, "signerd", label, socket, Path.Combine(work, "audit.jsonl"));
        using var daemon = StartDaemon(config);
        using var signerd = GrpcClient.ForUnixSocket(socket);
        var generated = GenerateKeyResponse.Parser.ParseFrom(await signerd.CallAsync("/offlinesigner.v1.KeyService/GenerateKey", GrpcClient.Frame(new GenerateKeyRequest
        {
            Backend = "softhsm",
            TokenLabel = label,
            Label = "bench-p256",
            Id = ByteString.CopyFrom(0x42),
            Algorithm = OfflineSigner.Protocol.V1.KeyAlgorithm.EcdsaP256,
            Pin = ByteString.CopyFrom(pin),
        })));
        var (signRequest, signedBytes) = SignRequestFor(generated.Key, pin);

        // The same daemon with its audit log on tmpfs (/dev/shm), started once the key exists: what the software costs
        // without the disk's fsync latency. Shown beside the headline, never instead of it.
        var shm = Directory.CreateDirectory(Path.Combine("/dev/shm", "signbench-audit-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture)));
        var tmpfsSocket = Path.Combine(work, "run-tmpfs", "signerd.sock");
        using var tmpfsDaemon = StartDaemon(WriteConfig(work, "signerd-tmpfs", label, tmpfsSocket, Path.Combine(shm.FullName, "audit.jsonl")));
        using var signerdTmpfs = GrpcClient.ForUnixSocket(tmpfsSocket);
        var signFrame = GrpcClient.Frame(signRequest);
        var healthFrame = GrpcClient.Frame(new HealthCheckRequest());

        // notary-signer: a P-256 key made through its KeyManagement API; it signs the same bytes the daemon signs.
        using var notary = GrpcClient.ForTls(new Uri($"https://127.0.0.1:{notaryPort}"), Path.Combine(tls, "ca.pem"));
        var notaryKey = Notary.PublicKey.Parser.ParseFrom(await notary.CallAsync("/proto.KeyManagement/CreateKey",
            GrpcClient.Frame(new Notary.CreateKeyRequest { Algorithm = "ecdsa", Gun = "example.com/bench", Role = "targets" })));
        var notaryFrame = GrpcClient.Frame(new Notary.SignatureRequest
        {
            KeyID = new Notary.KeyID { ID = notaryKey.KeyInfo.KeyID.ID },
            Content = ByteString.CopyFrom(signedBytes),
        });

        // Both answer with a signature that verifies before anything is timed.
        var signed = SignResponse.Parser.ParseFrom(await signerd.CallAsync(SignPath, signFrame));
        Check("offline-signerd", generated.Key.SubjectPublicKeyInfo.Span, signedBytes, signed.Signature.Span, DSASignatureFormat.Rfc3279DerSequence);
        var signedTmpfs = SignResponse.Parser.ParseFrom(await signerdTmpfs.CallAsync(SignPath, signFrame));
        Check("offline-signerd (tmpfs audit log)", generated.Key.SubjectPublicKeyInfo.Span, signedBytes, signedTmpfs.Signature.Span, DSASignatureFormat.Rfc3279DerSequence);

        // A wrong PIN is refused while the login is kept (the check the kept login must not lose), and audited.
        var wrongPin = signRequest.Clone();
        wrongPin.Pin = ByteString.CopyFrom("0000"u8);
        var refused = await signerd.CallStatusAsync(SignPath, GrpcClient.Frame(wrongPin));
        if (refused != 16)
        {
            throw new InvalidOperationException($"offline-signerd answered a wrong PIN with grpc-status {refused}, not UNAUTHENTICATED (16)");
        }
        var notarySigned = Notary.Signature.Parser.ParseFrom(await notary.CallAsync(NotarySignPath, notaryFrame));
        Check("notary-signer", notaryKey.PublicKey_.Span, signedBytes, notarySigned.Content.Span, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Sign RPC, ECDSA P-256, {signedBytes.Length}-byte signed document; per workload: {WarmUpCalls} warm-up calls (and >= {WarmUpTime.TotalSeconds:0} s), then >= {minCalls} calls and >= {seconds:0.#} s (cap {seconds * 6:0.#} s), in {Slice.TotalSeconds:0.#} s slices"));
        Console.WriteLine($"{Environment.ProcessorCount} cores, load average {Workload.LoadAverage():0.00} at start");
        Console.WriteLine();
        var results = new List<Result>();
        foreach (var concurrency in new[] { 1, 8 })
        {
            // The empty call is the daemon's transport alone (HTTP/2, framing, caller check, dispatch): the floor under Sign.
            var workloads = new (Workload Workload, Func<Task> Call)[]
            {
                (new Workload(Ours, concurrency, daemon.Id), () => signerd.CallAsync(SignPath, signFrame)),
                (new Workload(Theirs, concurrency, notaryPid), () => notary.CallAsync(NotarySignPath, notaryFrame)),
                (new Workload(Empty, concurrency, daemon.Id), () => signerd.CallAsync(HealthPath, healthFrame)),
                (new Workload(OursTmpfs, concurrency, tmpfsDaemon.Id), () => signerdTmpfs.CallAsync(SignPath, signFrame)),
            };
            foreach (var (workload, call) in workloads)
            {
                await workload.WarmUpAsync(call, WarmUpCalls, WarmUpTime);
            }

            while (!workloads.All(w => budget.Met(w.Workload)))
            {
                foreach (var (workload, call) in workloads)
                {
                    await workload.SliceAsync(call, Slice);
                }
            }

            results.AddRange(workloads.Select(w => w.Workload.Result()));
        }

        // The token to this process alone from here on.
        Stop(daemon);
        Stop(tmpfsDaemon);
        shm.Delete(recursive: true);
        var profile = CallProfile.Run(Module, label, pin, generated.Key, signRequest, work, TimeSpan.FromSeconds(2));
        using (var token = Pkcs11Token.Open(new Pkcs11TokenOptions(Module, TokenSelector.ByLabel(label), new FilePinSource(pinFile))))
        using (var direct = Pkcs11Signer.Open(token, Pkcs11Uri.Parse(generated.Key.Uri), KeyProtectionPolicy.Strict))
        {
            MeasureInProcess(Direct, () => direct.Sign(signedBytes, HashAlgorithmName.SHA256), [1, 8], budget, results);
        }

        // The pool the daemon signs through (one session per core, at least 2), with the request's PIN checked each time.
        using (var pinSource = new BytesPinSource(pin))
        using (var pooled = Pkcs11Token.OpenDeferred(new Pkcs11TokenOptions(Module, TokenSelector.ByLabel(label), null, Pkcs11LoginOptionsSessions(), null)))
        using (var direct = Pkcs11Signer.Open(pooled, Pkcs11Uri.Parse(generated.Key.Uri), KeyProtectionPolicy.Strict, pinSource))
        {
            MeasureInProcess(DirectPool, () => direct.Sign(signedBytes, HashAlgorithmName.SHA256, pinSource), [1, 8], budget, results);
        }

        // The disk's own floor at concurrency 1: one line appended and fsync'ed, in a loop, on the daemon's file system;
        // and the audit log writer itself (group commit at concurrency 8).
        var line = System.Text.Encoding.UTF8.GetBytes(new string('x', 330) + "\n");
        using (var raw = new FileStream(Path.Combine(work, "fsync-floor.jsonl"), FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 0))
        {
            MeasureInProcess(RawFsync, () =>
            {
                raw.Write(line);
                raw.Flush(flushToDisk: true);
            }, [1], budget, results);
        }

        using (var audit = new OfflineSigner.Audit.AuditLogWriter(Path.Combine(work, "audit-bench.jsonl")))
        {
            var entry = new OfflineSigner.Audit.AuditEvent(OfflineSigner.Audit.AuditEventKind.Signed)
            {
                KeyId = new string('a', 64), KeyUri = generated.Key.Uri, Role = "targets", Version = 1,
                PayloadSha256 = new string('b', 64), Backend = "softhsm", CallerUid = 1000,
            };
            MeasureInProcess(AuditAppend, () => audit.Append(entry), [1, 8], budget, results);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"audit log writer: {audit.HeadSequence} entries, {audit.Flushes} fsyncs ({(double)audit.HeadSequence / audit.Flushes:0.00} entries per fsync over both concurrencies)"));
        }

        Print(results, profile);
        return 0;
    }

    private static int Pkcs11LoginOptionsSessions() => OfflineSigner.Daemon.Services.Pkcs11LoginOptions.Default.Sessions;

    private static void MeasureInProcess(string name, Action call, int[] concurrencies, Budget budget, List<Result> results)
    {
        foreach (var concurrency in concurrencies)
        {
            var inProcess = new Workload(name, concurrency, Environment.ProcessId);
            var warm = Stopwatch.StartNew();
            for (var i = 0; i < WarmUpCalls || warm.Elapsed < WarmUpTime; i++)
            {
                call();
            }

            while (!budget.Met(inProcess))
            {
                inProcess.SliceThreads(call, Slice);
            }

            results.Add(inProcess.Result());
        }
    }

    private static string WriteConfig(string work, string name, string label, string socket, string auditLog)
    {
        var config = Path.Combine(work, name + ".json");
        File.WriteAllText(config, $$"""
            { "backends": [ { "name": "softhsm", "type": "pkcs11", "module": {{JsonSerializer.Serialize(Module)}}, "token": { "label": {{JsonSerializer.Serialize(label)}} } } ],
              "daemon": { "socket": {{JsonSerializer.Serialize(socket)}}, "auditLog": {{JsonSerializer.Serialize(auditLog)}} } }
            """);
        return config;
    }

    private static void Print(List<Result> results, IReadOnlyList<(string Step, double Ms)> profile)
    {
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine($"{"workload",-48} {"conc",4} {"calls",7} {"calls/s",9} {"p50 ms",8} {"p99 ms",8} {"CPU ms/call",11} {"load",5}");
        foreach (var r in results)
        {
            Console.WriteLine(string.Create(inv, $"{r.Name,-48} {r.Concurrency,4} {r.Calls,7} {r.Rate,9:0} {r.P50,8:0.00} {r.P99,8:0.00} {r.CpuMsPerCall,11:0.000} {r.Load,5:0.0}"));
        }

        Console.WriteLine("(CPU ms/call: the serving process's user + system time per call; for the in-process rows, this whole process)");
        Console.WriteLine();
        var targetsMet = true;
        foreach (var concurrency in new[] { 1, 8 })
        {
            // The direct rate the target is judged against: the better of one session and the pool.
            var directRate = Math.Max(Find(results, Direct, concurrency).Rate, Find(results, DirectPool, concurrency).Rate);
            var vsNotary = Find(results, Ours, concurrency).Rate / Find(results, Theirs, concurrency).Rate;
            var vsDirect = Find(results, Ours, concurrency).Rate / directRate;
            targetsMet &= vsNotary >= 1 && vsDirect >= 0.5;
            Console.WriteLine(string.Create(inv, $"concurrency {concurrency}: offline-signerd / notary-signer = {vsNotary:0.000}x (target >= 1.0: {Verdict(vsNotary >= 1)}); offline-signerd / direct PKCS#11 (best of one session and the pool, {directRate:0}/s) = {vsDirect:0.000}x (target >= 0.5: {Verdict(vsDirect >= 0.5)})"));
            var tmpfs = Find(results, OursTmpfs, concurrency).Rate;
            Console.WriteLine(string.Create(inv, $"  not the headline: with the audit log on tmpfs, offline-signerd / notary-signer = {tmpfs / Find(results, Theirs, concurrency).Rate:0.000}x, / direct PKCS#11 = {tmpfs / directRate:0.000}x"));
        }

        var floor = Find(results, RawFsync, 1);
        Console.WriteLine(string.Create(inv, $"disk floor at concurrency 1: one append + fsync takes {floor.P50:0.000} ms (p50), at most {floor.Rate:0} calls/s for any server that makes each call durable before it answers; notary-signer at concurrency 1 answers in {Find(results, Theirs, 1).P50:0.000} ms"));

        Console.WriteLine();
        var p50 = Find(results, Ours, 1).P50;
        var empty = Find(results, Empty, 1).P50;
        Console.WriteLine("Where one offline-signerd Sign call's time goes (each step alone, in process, same token, key and request; rows marked 'once' are not in the sum):");
        foreach (var (step, ms) in profile)
        {
            Console.WriteLine(string.Create(inv, $"  {ms,8:0.000} ms  {step}"));
        }

        Console.WriteLine(string.Create(inv, $"  {empty,8:0.000} ms  RPC round trip of an empty call (Health/Check p50 at concurrency 1, from the table)"));
        var sum = profile.Where(p => !p.Step.StartsWith("once", StringComparison.Ordinal)).Sum(p => p.Ms) + empty;
        Console.WriteLine(string.Create(inv, $"  {sum,8:0.000} ms  sum; the measured Sign p50 at concurrency 1 is {p50:0.000} ms, {p50 - sum:0.000} ms not accounted for by the steps alone"));
        Console.WriteLine(targetsMet ? "All targets met." : "Targets NOT all met.");
    }

    private static Result Find(List<Result> results, string name, int concurrency) =>
        results.Single(r => r.Concurrency == concurrency && r.Name == name);

    private static string Verdict(bool met) => met ? "met" : "NOT met";

    /// <summary>A targets document listing 20 files, the root that trusts the key for every top-level role, and the signed bytes.</summary>
    private static (SignRequest Request, byte[] SignedBytes) SignRequestFor(KeyInfo key, byte[] pin)
    {
        var tufKey = Key.FromPublicKey(OfflineSigner.Tuf.Crypto.PublicKey.FromSubjectPublicKeyInfo(key.SubjectPublicKeyInfo.Span), Dialect.TufSpecification);
        var root = Root.Create(Dialect.TufSpecification, DateTimeOffset.UtcNow.AddDays(300));
        foreach (var role in Root.TopLevelRoles)
        {
            root.AddKey(role, tufKey);
        }

        var targets = Targets.Create(Dialect.TufSpecification, DateTimeOffset.UtcNow.AddDays(30));
        for (var i = 0; i < 20; i++)
        {
            targets.SetTarget($"releases/app-{i}.tar.gz", 1000 + i, new Dictionary<string, string> { ["sha256"] = Convert.ToHexStringLower(SHA256.HashData(BitConverter.GetBytes(i))) });
        }

        var signedBytes = targets.CanonicalBytes();
        var request = new SignRequest
        {
            Request = new SigningRequest
            {
                Metadata = ByteString.CopyFrom(Metadata<Targets>.Create(targets).ToBytes()),
                Role = "targets",
                TrustedRoot = ByteString.CopyFrom(Metadata<Root>.Create(root).ToBytes()),
                KeyUri = key.Uri,
            },
            ExpectedSha256 = ByteString.CopyFrom(SHA256.HashData(signedBytes)),
            Pin = ByteString.CopyFrom(pin),
        };
        return (request, signedBytes);
    }

    private static void Check(string who, ReadOnlySpan<byte> subjectPublicKeyInfo, byte[] message, ReadOnlySpan<byte> signature, DSASignatureFormat format)
    {
        using var key = ECDsa.Create();
        key.ImportSubjectPublicKeyInfo(subjectPublicKeyInfo, out _);
        if (key.KeySize != 256 || !key.VerifyData(message, signature, HashAlgorithmName.SHA256, format))
        {
            throw new InvalidOperationException($"{who}'s signature does not verify with its P-256 key");
        }
    }

    private static Process StartDaemon(string config)
    {
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
        var psi = new ProcessStartInfo(dotnet) { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in (string[])["exec", Path.Combine(AppContext.BaseDirectory, "offline-signerd.dll"), "serve", "--config", config])
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment.Remove("NOTIFY_SOCKET");
        psi.Environment.Remove("LISTEN_FDS");
        var process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start offline-signerd");
        string? line;
        while ((line = process.StandardOutput.ReadLine()) is not null && !line.Contains(" serving ", StringComparison.Ordinal))
        {
        }

        if (line is null)
        {
            process.WaitForExit();
            throw new InvalidOperationException($"offline-signerd exited with {process.ExitCode} before serving");
        }

        _ = process.StandardOutput.ReadToEndAsync();
        return process;
    }

    /// <summary>SIGTERM (a clean stop closes the token's sessions), SIGKILL if it does not stop within 30 s.</summary>
    private static void Stop(Process daemon)
    {
        using (var kill = Process.Start("kill", ["-TERM", daemon.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            kill.WaitForExit();
        }

        if (!daemon.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            daemon.Kill();
            daemon.WaitForExit();
        }
    }
}
