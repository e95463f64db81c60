using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;
using OfflineSigner.Pkcs11;
using OfflineSigner.Protocol.V1;
using OfflineSigner.Signing;
using OfflineSigner.Tuf;
using Dialect = OfflineSigner.Tuf.Dialect;
using Notary = OfflineSigner.SignBench.NotarySigner;

namespace OfflineSigner.SignBench;

/// <summary>
/// Sign RPC throughput and latency: offline-signerd (ECDSA P-256 on SoftHSM2, Unix socket) and notary-signer
/// (ECDSA P-256 in its memory store, gRPC over TLS on loopback), driven by the same HTTP/2 client in one run, plus the
/// PKCS#11 backend's direct in-process signing rate on the same token and key.
/// Usage: SignBench WORKDIR SOFTHSM_LABEL USER_PIN_FILE TLS_DIR NOTARY_PORT SECONDS
/// </summary>
internal static class Program
{
    private const string Module = "/usr/lib/softhsm/libsofthsm2.so";

    public static async Task<int> Main(string[] args)
    {
        var (work, label, pinFile, tls, notaryPort, seconds) = (args[0], args[1], args[2], args[3], int.Parse(args[4], CultureInfo.InvariantCulture), double.Parse(args[5], CultureInfo.InvariantCulture));
        var pin = File.ReadAllBytes(pinFile).TakeWhile(b => b != '\n').ToArray();
        var duration = TimeSpan.FromSeconds(seconds);

        // offline-signerd on the token.
        var socket = Path.Combine(work, "run", "signerd.sock");
        var config = Path.Combine(work, "signerd.json");
        File.WriteAllText(config, $$"""
            { "backends": [ { "name": "softhsm", "type": "pkcs11", "module": "{{Module}}", "token": { "label": "{{label}}" } } ],
              "daemon": { "socket": "{{socket}}", "auditLog": "{{Path.Combine(work, "audit.jsonl")}}" } }
            """);
        using var daemon = StartDaemon(config);
        using var signerd = new GrpcClient(new Uri("http://localhost"), UnixHandler(socket));
        var generated = GenerateKeyResponse.Parser.ParseFrom(await signerd.CallAsync("/offlinesigner.v1.KeyService/GenerateKey", new GenerateKeyRequest
        {
            Backend = "softhsm",
            TokenLabel = label,
            Label = "bench-p256",
            Id = ByteString.CopyFrom(0x42),
            Algorithm = OfflineSigner.Protocol.V1.KeyAlgorithm.EcdsaP256,
            Pin = ByteString.CopyFrom(pin),
        }));
        var signRequest = SignRequestFor(generated.Key, pin);

        // notary-signer with its memory store.
        using var notaryClient = new GrpcClient(new Uri($"https://127.0.0.1:{notaryPort}"), TlsHandler(Path.Combine(tls, "ca.pem")));
        var notaryKey = Notary.PublicKey.Parser.ParseFrom(await notaryClient.CallAsync("/proto.KeyManagement/CreateKey", new Notary.CreateKeyRequest { Algorithm = "ecdsa", Gun = "bench/app", Role = "targets" }));
        var content = new byte[signRequest.Request.Metadata.Length];
        RandomNumberGenerator.Fill(content);
        var notaryRequest = new Notary.SignatureRequest { KeyID = new Notary.KeyID { ID = notaryKey.KeyInfo.KeyID.ID }, Content = ByteString.CopyFrom(content) };

        // Both answer correctly before anything is timed.
        var signed = SignResponse.Parser.ParseFrom(await signerd.CallAsync("/offlinesigner.v1.SigningService/Sign", signRequest));
        using (var verify = ECDsa.Create())
        {
            verify.ImportSubjectPublicKeyInfo(generated.Key.SubjectPublicKeyInfo.Span, out _);
            if (!verify.VerifyData(signRequest.Request.Metadata.Length == 0 ? [] : Metadata<Targets>.Parse(signRequest.Request.Metadata.Span).SignedBytes(), signed.Signature.Span, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence))
            {
                throw new InvalidOperationException("offline-signerd's signature does not verify");
            }
        }

        var notarySignature = Notary.Signature.Parser.ParseFrom(await notaryClient.CallAsync("/proto.Signer/Sign", notaryRequest));
        if (notarySignature.Content.Length != 64)
        {
            throw new InvalidOperationException($"notary-signer returned a {notarySignature.Content.Length}-byte signature");
        }

        Console.WriteLine($"Sign RPC, ECDSA P-256, {seconds:0.#} s per workload, {Environment.ProcessorCount} cores, load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
        Console.WriteLine($"{"workload",-44} {"conc",4} {"calls/s",9} {"p50 ms",8} {"p99 ms",8}");
        var results = new Dictionary<(string, int), Result>();
        foreach (var concurrency in new[] { 1, 8 })
        {
            results[("signerd", concurrency)] = Report("offline-signerd Sign (Unix socket, SoftHSM2)", concurrency,
                await Measure(() => signerd.CallAsync("/offlinesigner.v1.SigningService/Sign", signRequest), concurrency, duration));
            results[("notary", concurrency)] = Report("notary-signer Sign (TLS loopback, memory)", concurrency,
                await Measure(() => notaryClient.CallAsync("/proto.Signer/Sign", notaryRequest), concurrency, duration));
        }

        // Direct in-process rate on the same token and key (the daemon stopped, so nothing else uses the token).
        daemon.Kill();
        daemon.WaitForExit();
        using (var token = Pkcs11Token.Open(new Pkcs11TokenOptions(Module, TokenSelector.ByLabel(label), new FilePinSource(pinFile))))
        using (var direct = Pkcs11Signer.Open(token, Pkcs11Uri.Parse(generated.Key.Uri), KeyProtectionPolicy.Strict))
        {
            var message = Metadata<Targets>.Parse(signRequest.Request.Metadata.Span).SignedBytes();
            foreach (var concurrency in new[] { 1, 8 })
            {
                results[("direct", concurrency)] = Report("PKCS#11 backend in-process (no RPC)", concurrency,
                    await Measure(() => Task.Run(() => direct.Sign(message, HashAlgorithmName.SHA256)), concurrency, duration));
            }
        }

        Console.WriteLine();
        foreach (var concurrency in new[] { 1, 8 })
        {
            var vsNotary = results[("signerd", concurrency)].Rate / results[("notary", concurrency)].Rate;
            var vsDirect = results[("signerd", concurrency)].Rate / results[("direct", concurrency)].Rate;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"concurrency {concurrency}: offline-signerd / notary-signer = {vsNotary:0.00}x (target >= 1.00: {(vsNotary >= 1 ? "met" : "NOT met")}); offline-signerd / direct PKCS#11 = {vsDirect:0.00} (target >= 0.50: {(vsDirect >= 0.5 ? "met" : "NOT met")})"));
        }

        return 0;
    }

    private static SignRequest SignRequestFor(KeyInfo key, byte[] pin)
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

        return new SignRequest
        {
            Request = new SigningRequest
            {
                Metadata = ByteString.CopyFrom(Metadata<Targets>.Create(targets).ToBytes()),
                Role = "targets",
                TrustedRoot = ByteString.CopyFrom(Metadata<Root>.Create(root).ToBytes()),
                KeyUri = key.Uri,
            },
            ExpectedSha256 = ByteString.CopyFrom(SHA256.HashData(targets.CanonicalBytes())),
            Pin = ByteString.CopyFrom(pin),
        };
    }

    private sealed record Result(double Rate, double P50, double P99);

    private static Result Report(string name, int concurrency, Result r)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-44} {concurrency,4} {r.Rate,9:0} {r.P50,8:0.00} {r.P99,8:0.00}"));
        return r;
    }

    private static async Task<Result> Measure(Func<Task> call, int concurrency, TimeSpan duration)
    {
        for (var i = 0; i < 50; i++)
        {
            await call();
        }

        var latencies = new List<double>[concurrency];
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async w =>
        {
            var mine = latencies[w] = [];
            while (clock.Elapsed < duration)
            {
                var start = Stopwatch.GetTimestamp();
                await call().ConfigureAwait(false);
                mine.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
        }));
        var elapsed = clock.Elapsed.TotalSeconds;
        var all = latencies.SelectMany(l => l).Order().ToArray();
        return new Result(all.Length / elapsed, all[all.Length / 2], all[Math.Min(all.Length - 1, (int)(all.Length * 0.99))]);
    }

    private static Process StartDaemon(string config)
    {
        var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in (string[])["exec", Path.Combine(AppContext.BaseDirectory, "offline-signerd.dll"), "serve", "--config", config])
        {
            psi.ArgumentList.Add(a);
        }

        var process = Process.Start(psi)!;
        string? line;
        while ((line = process.StandardOutput.ReadLine()) is not null && !line.Contains(" serving ", StringComparison.Ordinal))
        {
        }

        if (line is null)
        {
            throw new InvalidOperationException("offline-signerd did not start");
        }

        _ = process.StandardOutput.ReadToEndAsync();
        return process;
    }

    private static SocketsHttpHandler UnixHandler(string path) => new()
    {
        ConnectCallback = async (_, ct) =>
        {
            var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await s.ConnectAsync(new UnixDomainSocketEndPoint(path), ct);
            return new NetworkStream(s, ownsSocket: true);
        },
    };

    private static SocketsHttpHandler TlsHandler(string caFile)
    {
        var ca = X509CertificateLoader.LoadCertificateFromFile(caFile);
        return new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                {
                    if (certificate is null)
                    {
                        return false;
                    }

                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.CustomTrustStore.Add(ca);
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    return chain.Build(X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
                },
            },
        };
    }
}

/// <summary>The one client both servers are measured with: unary gRPC over HTTP/2, 5-byte framing, grpc-status from the trailers.</summary>
internal sealed class GrpcClient(Uri baseAddress, HttpMessageHandler handler) : IDisposable
{
    private readonly HttpMessageInvoker _http = new(handler);

    public async Task<byte[]> CallAsync(string path, IMessage request)
    {
        var payload = request.ToByteArray();
        var body = new byte[5 + payload.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(body.AsSpan(1), (uint)payload.Length);
        payload.CopyTo(body, 5);
        using var message = new HttpRequestMessage(HttpMethod.Post, new Uri(baseAddress, path))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(body),
        };
        message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        message.Headers.TryAddWithoutValidation("te", "trailers");
        using var response = await _http.SendAsync(message, CancellationToken.None).ConfigureAwait(false);
        var bytes = await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
        var status = response.TrailingHeaders.TryGetValues("grpc-status", out var t) ? t.First()
            : response.Headers.TryGetValues("grpc-status", out var h) ? h.First() : "missing";
        if (status != "0")
        {
            var detail = response.TrailingHeaders.TryGetValues("grpc-message", out var m) ? m.First() : response.Headers.TryGetValues("grpc-message", out var hm) ? hm.First() : string.Empty;
            throw new InvalidOperationException($"{path}: grpc-status {status} {Uri.UnescapeDataString(detail)}");
        }

        return bytes.AsSpan(5).ToArray();
    }

    public void Dispose() => _http.Dispose();
}
