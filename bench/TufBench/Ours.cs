using System.Diagnostics;
using System.Globalization;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Json;

namespace OfflineSigner.TufBench;

/// <summary>
/// Our side of the benchmark, run in a child process per workload so that timings and peak memory of one workload
/// are not disturbed by another. Every operation starts from the file's bytes in memory.
/// </summary>
internal static class Ours
{
    private static readonly TimeSpan WarmupTime = TimeSpan.FromSeconds(1);

    // Runs of the small role before a memory baseline: well past the 30 calls after which a method is recompiled.
    private const int WarmRuns = 100;

    /// <summary>
    /// Times three operations: canonicalize alone (the signed part of a tree parsed beforehand), parse +
    /// canonicalize (strict parse of the whole document, canonical bytes of signed), and verify (parse into the
    /// metadata model, canonicalize signed, ECDSA P-256 / SHA-256 signature check against the delegating role).
    /// </summary>
    public static void Time(string file, string role, string delegatorFile, int iterations, int warmup)
    {
        var bytes = File.ReadAllBytes(file);
        var options = MetadataParseOptions.Default.WithMaxBytes(bytes.Length);
        var delegator = Metadata<Targets>.Parse(File.ReadAllBytes(delegatorFile));
        var signedTree = ((JsonObject)JsonParser.Parse(bytes, options.Json))["signed"];
        var canonicalLength = 0;

        var result = new Result("ours", Path.GetFileNameWithoutExtension(file), bytes.Length);
        result.Add("canonicalize", Measure(iterations, warmup, () => canonicalLength = CanonicalJson.Serialize(signedTree).Length));
        result.Add("parse+canonicalize", Measure(iterations, warmup, () =>
        {
            var tree = (JsonObject)JsonParser.Parse(bytes, options.Json);
            _ = CanonicalJson.Serialize(tree["signed"]);
        }));
        result.Add("verify", Measure(iterations, warmup, () => Verify(bytes, options, role, delegator)));
        var signedIndex = JsonIndex.Parse(bytes, options.Json).Root.TryGetProperty("signed", out var s) ? s : throw new InvalidOperationException("no signed");
        result.Add("canonicalize-indexed", Measure(iterations, warmup, () => _ = signedIndex.CanonicalBytes()));
        result.Add("parse+canonicalize-indexed", Measure(iterations, warmup, () =>
        {
            var index = JsonIndex.Parse(bytes, options.Json);
            _ = index.Root.TryGetProperty("signed", out var signed) ? signed.CanonicalBytes() : throw new InvalidOperationException("no signed");
        }));
        result.Add("verify-indexed", Measure(iterations, warmup, () => VerifyIndexed(bytes, options, role, delegator)));
        result.Extra["canonical_bytes"] = canonicalLength;
        Console.WriteLine(result.ToJson());
    }

    /// <summary>
    /// Peak memory of one verification in a fresh process: the high-water mark of the resident set (VmHWM) after
    /// reading the file and verifying it once, next to the same mark taken just before the file was read (the
    /// runtime's own footprint, compiled code and crypto library included, since the same verification ran on the
    /// small delegating role first). <paramref name="path"/> is "model" (Metadata&lt;Targets&gt;.Parse, a tree of the
    /// whole file) or "indexed" (IndexedTargets.Parse).
    /// </summary>
    public static void Memory(string file, string role, string delegatorFile, string path)
    {
        var indexed = path switch
        {
            "model" => false,
            "indexed" => true,
            _ => throw new ArgumentException("memory path is model or indexed", nameof(path)),
        };
        var delegatorBytes = File.ReadAllBytes(delegatorFile);
        var delegator = Metadata<Targets>.Parse(delegatorBytes);
        void Run(byte[] bytes)
        {
            var options = MetadataParseOptions.Default.WithMaxBytes(bytes.Length);
            if (indexed)
            {
                VerifyIndexed(bytes, options, role, delegator);
            }
            else
            {
                Verify(bytes, options, role, delegator);
            }
        }

        // The whole verification on the small delegating role, which the same key signed, until the JIT has compiled
        // every method it needs at its final tier (tiered compilation promotes a method after 30 calls, in the
        // background, after a pause of 100 ms) and the crypto library is loaded: what rises above the baseline is the
        // document's memory, not the compiler's. The cold process, JIT included, is measured through offline-signer.
        for (var i = 0; i < WarmRuns; i++)
        {
            Run(delegatorBytes);
        }

        Thread.Sleep(TimeSpan.FromSeconds(1));
        Run(delegatorBytes);
        var baseline = PeakResidentBytes();
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);

        var bytes = File.ReadAllBytes(file);
        Run(bytes);

        var result = new Result("ours-" + path, Path.GetFileNameWithoutExtension(file), bytes.Length);
        result.Extra["peak_rss_bytes"] = PeakResidentBytes();
        result.Extra["baseline_rss_bytes"] = baseline;
        result.Extra["allocated_bytes"] = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        result.Extra["gc_count"] = GC.CollectionCount(0);
        Console.WriteLine(result.ToJson());
    }

    /// <summary>
    /// The whole-process peak of one run of a command (offline-signer verify, as an operator runs it), as GNU time
    /// reports it from wait4: the command's resident high-water mark and CPU time. time forks itself, a small
    /// program, before it starts the command; started straight from this process, the command's ru_maxrss would
    /// include this process's own peak, which the kernel carries over to a vfork-ed child when it execs. The command
    /// must succeed.
    /// </summary>
    public static void CommandMemory(string impl, string workload, long fileBytes, string[] command)
    {
        var report = Path.GetTempFileName();
        try
        {
            var psi = new ProcessStartInfo("/usr/bin/time") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in (string[])["-o", report, "-f", "%M %U %S", .. command])
            {
                psi.ArgumentList.Add(a);
            }

            using (var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start /usr/bin/time"))
            {
                var stdout = p.StandardOutput.ReadToEndAsync();
                var stderr = p.StandardError.ReadToEndAsync();
                p.WaitForExit();
                if (p.ExitCode != 0)
                {
                    throw new InvalidOperationException($"{string.Join(' ', command)} exited {p.ExitCode}: {stdout.Result}{stderr.Result}");
                }
            }

            var fields = File.ReadAllText(report).Trim().Split('\n')[^1].Split(' ');
            var result = new Result(impl, workload, fileBytes);
            result.Extra["peak_rss_bytes"] = long.Parse(fields[0], CultureInfo.InvariantCulture) * 1024;
            result.Extra["cpu_us"] = (long)((double.Parse(fields[1], CultureInfo.InvariantCulture) + double.Parse(fields[2], CultureInfo.InvariantCulture)) * 1e6);
            Console.WriteLine(result.ToJson());
        }
        finally
        {
            File.Delete(report);
        }
    }

    /// <summary>Verify through the index: no tree of the file, signed hashed as it is written.</summary>
    private static void VerifyIndexed(byte[] bytes, MetadataParseOptions options, string role, Metadata<Targets> delegator) =>
        Verifier.ThrowIfNotVerified(Verifier.VerifyDelegated(role, delegator.Signed, IndexedTargets.Parse(bytes, options)));

    private static void Verify(byte[] bytes, MetadataParseOptions options, string role, Metadata<Targets>? delegator)
    {
        var metadata = Metadata<Targets>.Parse(bytes, options);
        if (delegator is null)
        {
            // The tiny warm-up document: parse and canonicalize only.
            _ = metadata.SignedBytes();
            return;
        }

        Verifier.ThrowIfNotVerified(Verifier.VerifyDelegated(role, delegator.Signed, metadata));
    }

    /// <summary>Wall-clock and process CPU milliseconds of each run (CPU time is steadier on a busy machine).</summary>
    private static (List<double> Wall, List<double> Cpu) Measure(int iterations, int warmup, Action action)
    {
        // Warm up for at least the given runs and one second, so that tiered compilation has finished with the
        // code before it is measured (a few runs of a short operation are over before the JIT's tier-up).
        var warming = Stopwatch.StartNew();
        for (var i = 0; i < warmup || warming.Elapsed < WarmupTime; i++)
        {
            action();
        }

        var wall = new List<double>(iterations);
        var cpu = new List<double>(iterations);
        for (var i = 0; i < iterations; i++)
        {
            // Start every sample from a collected heap so one sample's garbage is not charged to the next.
            GC.Collect();
            GC.WaitForPendingFinalizers();
            var cpuBefore = Interop.ProcessCpuTime();
            var sw = Stopwatch.StartNew();
            action();
            wall.Add(sw.Elapsed.TotalMilliseconds);
            cpu.Add((Interop.ProcessCpuTime() - cpuBefore).TotalMilliseconds);
        }

        return (wall, cpu);
    }

    /// <summary>VmHWM from /proc/self/status: the most physical memory this process has held at once.</summary>
    public static long PeakResidentBytes()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                var kb = line["VmHWM:".Length..].Trim().Split(' ')[0];
                return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
            }
        }

        throw new InvalidOperationException("no VmHWM in /proc/self/status");
    }
}
