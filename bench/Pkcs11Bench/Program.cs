using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using OfflineSigner.Pkcs11;
using OfflineSigner.Signing;

namespace OfflineSigner.Pkcs11Bench;

/// <summary>
/// ECDSA P-256 signatures per second on one SoftHSM token: SoftHSM's raw rate (C_SignInit + C_Sign through the
/// function table, fixed digest, nothing else), our high-level binding (host SHA-256 + CKM_ECDSA), our IKeySigner
/// (the same plus locking and .NET verification), and python3-pykcs11 doing the same workloads in a child process.
/// Usage: Pkcs11Bench MODULE TOKEN_LABEL PIN_FILE PYKCS11_SCRIPT [SECONDS] [ROUNDS]
/// The environment must already point the module at the token (SOFTHSM2_CONF); run.sh does all of this.
/// </summary>
internal static class Program
{
    private static readonly byte[] Message = "{\"signed\":{\"_type\":\"timestamp\",\"version\":1}}"u8.ToArray();
    private static readonly byte[] KeyId = [0xBE, 0x01];

    public static int Main(string[] args)
    {
        if (args.Length < 4)
        {
            Console.Error.WriteLine("usage: Pkcs11Bench MODULE TOKEN_LABEL PIN_FILE PYKCS11_SCRIPT [SECONDS] [ROUNDS]");
            return 2;
        }

        var (module, label, pinFile, script) = (args[0], args[1], args[2], args[3]);
        var seconds = args.Length > 4 ? double.Parse(args[4], CultureInfo.InvariantCulture) : 3.0;
        var rounds = args.Length > 5 ? int.Parse(args[5], CultureInfo.InvariantCulture) : 2;

        var results = new Dictionary<string, List<double>>();
        using (var token = Pkcs11Token.Open(new Pkcs11TokenOptions(module, TokenSelector.ByLabel(label), new FilePinSource(pinFile))))
        {
            using var signer = OpenOrGenerate(token);
            for (var round = 0; round < rounds; round++)
            {
                // Our three workloads run interleaved in short slices, so that load from other processes on the
                // machine falls on all of them alike and their ratios stay meaningful.
                var rates = MeasureInterleaved(
                    seconds,
                    ("ours raw (C_Sign loop, ceiling)", RawLoop(token, signer)),
                    ("ours binding (hash + C_Sign)", BindingLoop(token, signer)),
                    ("ours IKeySigner (hash + sign + verify)", () => signer.Sign(Message, HashAlgorithmName.SHA256)));
                foreach (var (name, rate) in rates)
                {
                    Add(results, name, rate);
                }

                // pykcs11 runs while our session stays open, as two clients of one token would.
                foreach (var (name, rate) in RunPyKcs11(script, module, label, pinFile, seconds))
                {
                    Add(results, "pykcs11 " + name, rate);
                }
            }
        }

        var best = results.ToDictionary(kv => kv.Key, kv => kv.Value.Max());
        Console.WriteLine($"ECDSA P-256 on SoftHSM, {rounds} rounds of {seconds:0.#} s per workload, best round, one thread ({Environment.ProcessorCount} cores)");
        foreach (var (name, rate) in best)
        {
            Console.WriteLine($"  {name,-42} {rate,10:N0} signatures/s");
        }

        Ratio(best, "ours binding (hash + C_Sign)", "pykcs11 sign", "binding vs pykcs11, same work (target >= 1.0)");
        Ratio(best, "ours IKeySigner (hash + sign + verify)", "pykcs11 sign+verify", "IKeySigner vs pykcs11 sign+verify, same work (target >= 1.0)");
        Ratio(best, "ours binding (hash + C_Sign)", "ours raw (C_Sign loop, ceiling)", "binding vs raw (target >= 0.90)");
        Ratio(best, "ours IKeySigner (hash + sign + verify)", "ours raw (C_Sign loop, ceiling)", "IKeySigner vs raw");
        Ratio(best, "pykcs11 raw", "ours raw (C_Sign loop, ceiling)", "pykcs11 raw vs our raw");
        return 0;
    }

    private static Pkcs11Signer OpenOrGenerate(Pkcs11Token token)
    {
        var uri = Pkcs11Uri.ForKey(null, null, null, KeyId);
        try
        {
            return Pkcs11Signer.Open(token, uri, KeyProtectionPolicy.Strict);
        }
        catch (Pkcs11KeyException)
        {
            return Pkcs11KeyGenerator.Generate(token, KeyAlgorithm.EcdsaP256, "bench-p256", KeyId);
        }
    }

    /// <summary>C_SignInit + C_Sign on a fixed digest through the raw function table: SoftHSM's own cost.</summary>
    private static unsafe Action RawLoop(Pkcs11Token token, Pkcs11Signer signer)
    {
        var (session, functions, key) = token.Run(s => (s.RawForMeasurement.Session, s.RawForMeasurement.Functions, signer.PrivateKeyHandle(s)));
        var digest = SHA256.HashData(Message);
        return () =>
        {
            var mechanism = new OfflineSigner.Pkcs11.Interop.CkMechanism { Mechanism = 0x1041 };
            var signature = stackalloc byte[64];
            nuint length = 64;
            fixed (byte* d = digest)
            {
                if (functions.SignInit(session, &mechanism, (nuint)key.Value) != 0
                    || functions.Sign(session, d, 32, signature, &length) != 0)
                {
                    throw new InvalidOperationException("raw C_Sign failed");
                }
            }
        };
    }

    /// <summary>The high-level session API: host SHA-256, then Pkcs11Session.Sign with CKM_ECDSA, under the token's lock.</summary>
    private static Action BindingLoop(Pkcs11Token token, Pkcs11Signer signer) =>
        () => token.Run(s => s.Sign(Pkcs11Mechanism.Ecdsa, signer.PrivateKeyHandle(s), SHA256.HashData(Message)));

    /// <summary>Runs each workload for <paramref name="seconds"/> in total, in 50 ms slices taken in turn.</summary>
    private static List<(string Name, double Rate)> MeasureInterleaved(double seconds, params (string Name, Action Action)[] workloads)
    {
        foreach (var (_, action) in workloads)
        {
            for (var i = 0; i < 200; i++)
            {
                action();
            }
        }

        var slice = TimeSpan.FromMilliseconds(50);
        var slices = Math.Max(1, (int)(seconds / slice.TotalSeconds));
        var counts = new long[workloads.Length];
        var elapsed = new TimeSpan[workloads.Length];
        for (var s = 0; s < slices; s++)
        {
            for (var w = 0; w < workloads.Length; w++)
            {
                var action = workloads[w].Action;
                var sw = Stopwatch.StartNew();
                while (sw.Elapsed < slice)
                {
                    for (var i = 0; i < 20; i++)
                    {
                        action();
                    }

                    counts[w] += 20;
                }

                elapsed[w] += sw.Elapsed;
            }
        }

        return [.. workloads.Select((w, i) => (w.Name, counts[i] / elapsed[i].TotalSeconds))];
    }

    private static Dictionary<string, double> RunPyKcs11(string script, string module, string label, string pinFile, double seconds)
    {
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { script, module, label, pinFile, Convert.ToHexString(KeyId), seconds.ToString(CultureInfo.InvariantCulture) })
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start python3");
        var stdout = p.StandardOutput.ReadToEnd();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException("pykcs11 benchmark failed: " + stderr);
        }

        return JsonSerializer.Deserialize<Dictionary<string, double>>(stdout) ?? throw new InvalidOperationException("no pykcs11 result");
    }

    private static void Add(Dictionary<string, List<double>> results, string name, double rate)
    {
        if (!results.TryGetValue(name, out var list))
        {
            results[name] = list = [];
        }

        list.Add(rate);
    }

    private static void Ratio(Dictionary<string, double> best, string numerator, string denominator, string caption) =>
        Console.WriteLine($"  ratio {caption}: {best[numerator] / best[denominator]:0.00}x");
}
