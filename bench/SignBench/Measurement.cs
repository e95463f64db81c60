using System.Diagnostics;
using System.Globalization;

namespace OfflineSigner.SignBench;

/// <summary>When a workload has been measured enough: enough calls and time, or the time cap.</summary>
internal sealed record Budget(int MinCalls, TimeSpan MinTime, TimeSpan MaxTime)
{
    public bool Met(Workload w) => (w.Calls >= MinCalls && w.Elapsed >= MinTime) || w.Elapsed >= MaxTime;
}

/// <summary>What one workload measured: calls per second, latency percentiles, the serving process's CPU per call.</summary>
internal sealed record Result(string Name, int Concurrency, long Calls, double Seconds, double Rate, double P50, double P99, double CpuMsPerCall, double Load);

/// <summary>
/// One workload (a server and a concurrency) measured in slices: each slice runs <see cref="Concurrency"/> workers that
/// each make one call after another until the slice ends; latencies, calls, wall time and the serving process's CPU
/// time add up across slices.
/// </summary>
internal sealed class Workload(string name, int concurrency, int serverPid)
{
    // /proc/PID/stat counts CPU time in clock ticks; USER_HZ is 100 on Linux.
    private const double MsPerTick = 10;

    private readonly List<double> _latencies = [];
    private readonly List<double> _loads = [];
    private long _cpuTicks;

    public string Name => name;

    public int Concurrency => concurrency;

    public long Calls => _latencies.Count;

    public TimeSpan Elapsed { get; private set; }

    public Result Result()
    {
        var sorted = _latencies.Order().ToArray();
        return new Result(name, concurrency, sorted.Length, Elapsed.TotalSeconds, sorted.Length / Elapsed.TotalSeconds,
            Percentile(sorted, 0.50), Percentile(sorted, 0.99), _cpuTicks * MsPerTick / sorted.Length, _loads.Average());
    }

    /// <summary>
    /// Calls, <see cref="Concurrency"/> at a time, until <paramref name="count"/> calls are done and at least
    /// <paramref name="minimum"/> has passed (so that the runtime's tiered compilation has settled); nothing recorded.
    /// </summary>
    public async Task WarmUpAsync(Func<Task> call, int count, TimeSpan minimum)
    {
        var left = count;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            while (Interlocked.Decrement(ref left) >= 0 || clock.Elapsed < minimum)
            {
                await call().ConfigureAwait(false);
            }
        })));
    }

    /// <summary>One slice of asynchronous calls (an RPC client).</summary>
    public async Task SliceAsync(Func<Task> call, TimeSpan slice)
    {
        var cpu = CpuTicks(serverPid);
        var start = Stopwatch.GetTimestamp();
        var end = start + (long)(slice.TotalSeconds * Stopwatch.Frequency);
        var perWorker = new List<double>[concurrency];
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(w => Task.Run(async () =>
        {
            var mine = perWorker[w] = [];
            while (Stopwatch.GetTimestamp() < end)
            {
                var t = Stopwatch.GetTimestamp();
                await call().ConfigureAwait(false);
                mine.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            }
        })));
        Record(start, cpu, perWorker);
    }

    /// <summary>One slice of blocking calls, one thread per worker (in-process signing).</summary>
    public void SliceThreads(Action call, TimeSpan slice)
    {
        var cpu = CpuTicks(serverPid);
        var start = Stopwatch.GetTimestamp();
        var end = start + (long)(slice.TotalSeconds * Stopwatch.Frequency);
        var perWorker = new List<double>[concurrency];
        var threads = Enumerable.Range(0, concurrency).Select(w => new Thread(() =>
        {
            var mine = perWorker[w] = [];
            while (Stopwatch.GetTimestamp() < end)
            {
                var t = Stopwatch.GetTimestamp();
                call();
                mine.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Record(start, cpu, perWorker);
    }

    public static double LoadAverage() =>
        double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);

    private void Record(long start, long cpuBefore, List<double>[] perWorker)
    {
        Elapsed += Stopwatch.GetElapsedTime(start);
        _cpuTicks += CpuTicks(serverPid) - cpuBefore;
        _loads.Add(LoadAverage());
        foreach (var list in perWorker)
        {
            _latencies.AddRange(list);
        }
    }

    /// <summary>User + system CPU time of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat).</summary>
    private static long CpuTicks(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
    }

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    private static double Percentile(double[] sorted, double p) =>
        sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
}
