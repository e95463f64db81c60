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
        result.Extra["canonical_bytes"] = canonicalLength;
        Console.WriteLine(result.ToJson());
    }

    /// <summary>
    /// Peak memory of one verification in a fresh process: the high-water mark of the resident set (VmHWM) after
    /// reading the file and verifying it once, next to the same mark taken before the file was read (the runtime's
    /// own footprint, JIT included, since the code ran once on a tiny document first).
    /// </summary>
    public static void Memory(string file, string role, string delegatorFile)
    {
        var delegator = Metadata<Targets>.Parse(File.ReadAllBytes(delegatorFile));
        Verify(File.ReadAllBytes(delegatorFile), MetadataParseOptions.Default, "targets", null);
        var baseline = PeakResidentBytes();
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);

        var bytes = File.ReadAllBytes(file);
        Verify(bytes, MetadataParseOptions.Default.WithMaxBytes(bytes.Length), role, delegator);

        var result = new Result("ours", Path.GetFileNameWithoutExtension(file), bytes.Length);
        result.Extra["peak_rss_bytes"] = PeakResidentBytes();
        result.Extra["baseline_rss_bytes"] = baseline;
        result.Extra["allocated_bytes"] = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        result.Extra["gc_count"] = GC.CollectionCount(0);
        Console.WriteLine(result.ToJson());
    }

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
