using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace OfflineSigner.TufBench;

/// <summary>
/// TUF core benchmark: canonical JSON, parse and signature verification of large targets metadata, side by side with
/// securesystemslib (python3) and tuf-js (node) on the same generated files, each implementation and workload in
/// its own process.
/// <code>
/// TufBench run [--work DIR] [--iterations N] [--warmup N] [--peers DIR] [--scripts DIR] [--timeout SECONDS] [--child-timeout SECONDS] [--markdown FILE]
/// TufBench generate DIR
/// TufBench time FILE ROLE DELEGATOR ITERATIONS WARMUP      (child: our timings, one JSON line)
/// TufBench memory FILE ROLE DELEGATOR                      (child: our peak memory, one JSON line)
/// </code>
/// </summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 0)
        {
            Console.Error.WriteLine("usage: TufBench run|generate|time|memory ... (see Program.cs)");
            return 2;
        }

        switch (args[0])
        {
            case "generate" when args.Length == 2:
                Workloads.Generate(args[1]);
                return 0;
            case "time" when args.Length == 6:
                Ours.Time(args[1], args[2], args[3], int.Parse(args[4], CultureInfo.InvariantCulture), int.Parse(args[5], CultureInfo.InvariantCulture));
                return 0;
            case "memory" when args.Length == 4:
                Ours.Memory(args[1], args[2], args[3]);
                return 0;
            case "run":
                return Runner.Run(RunOptions.Parse(args.AsSpan(1)));
            default:
                Console.Error.WriteLine("usage: TufBench run|generate|time|memory ... (see Program.cs)");
                return 2;
        }
    }
}

internal sealed class RunOptions
{
    public string? Work { get; private set; }

    public int Iterations { get; private set; } = 5;

    public int Warmup { get; private set; } = 1;

    /// <summary>The limit for tuf-js's full verify, whose model grows quadratically with the role's size.</summary>
    public int TimeoutSeconds { get; private set; } = 180;

    /// <summary>The limit for every other child: generous, since a busy machine slows everything down.</summary>
    public int ChildTimeoutSeconds { get; private set; } = 1800;

    public string Peers { get; private set; } = "tests/peers";

    public string Scripts { get; private set; } = "bench/TufBench/peers";

    public string? Markdown { get; private set; }

    public static RunOptions Parse(ReadOnlySpan<string> args)
    {
        var o = new RunOptions();
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            var v = args[i + 1];
            switch (args[i])
            {
                case "--work": o.Work = v; break;
                case "--iterations": o.Iterations = int.Parse(v, CultureInfo.InvariantCulture); break;
                case "--warmup": o.Warmup = int.Parse(v, CultureInfo.InvariantCulture); break;
                case "--timeout": o.TimeoutSeconds = int.Parse(v, CultureInfo.InvariantCulture); break;
                case "--child-timeout": o.ChildTimeoutSeconds = int.Parse(v, CultureInfo.InvariantCulture); break;
                case "--peers": o.Peers = v; break;
                case "--scripts": o.Scripts = v; break;
                case "--markdown": o.Markdown = v; break;
                default: throw new ArgumentException("unknown option " + args[i]);
            }
        }

        return o;
    }
}

/// <summary>Runs every child, then prints the table and the ratios the issue sets targets for.</summary>
internal static class Runner
{
    public static int Run(RunOptions o)
    {
        var work = o.Work ?? Directory.CreateTempSubdirectory("tufbench-").FullName;
        Console.Error.WriteLine($"generating workloads in {work}");
        // In a child, so that this process stays small: peers started from it must not inherit a large parent.
        _ = ChildRaw(Self(["generate", work]), o.ChildTimeoutSeconds);
        var delegator = Path.Combine(work, Workloads.DelegatorFile);
        var python = Path.Combine(o.Scripts, "securesystemslib_bench.py");
        var node = Path.Combine(o.Scripts, "tufjs_bench.cjs");
        var n = o.Iterations.ToString(CultureInfo.InvariantCulture);
        var w = o.Warmup.ToString(CultureInfo.InvariantCulture);

        var rows = new List<Row>();
        foreach (var wl in Workloads.All(work))
        {
            var size = new FileInfo(wl.File).Length;
            Console.Error.WriteLine($"{wl.Name}: {size:N0} bytes");
            var ours = Child(Self(["time", wl.File, wl.Role, delegator, n, w]), o.ChildTimeoutSeconds);
            var oursMem = Child(Self(["memory", wl.File, wl.Role, delegator]), o.ChildTimeoutSeconds);
            var ssl = Child(["/usr/bin/python3", python, "time", wl.File, n, w], o.ChildTimeoutSeconds);
            var sslMem = Child(["/usr/bin/python3", python, "memory", wl.File], o.ChildTimeoutSeconds);
            var js = Child(["node", "--expose-gc", node, o.Peers, "time", wl.File, wl.Role, delegator, n, w], o.ChildTimeoutSeconds);
            // tuf-js's model is slow to build for large roles (see the script): one run, no warm-up, under the time limit.
            var jsFull = Child(["node", "--expose-gc", node, o.Peers, "verify", wl.File, wl.Role, delegator, "1", "0"], o.TimeoutSeconds);
            var jsMem = Child(["node", node, o.Peers, "memory", wl.File, wl.Role, delegator], o.ChildTimeoutSeconds);
            rows.Add(new Row(wl, size, ours, oursMem, ssl, sslMem, js, jsFull, jsMem));
        }

        var report = Report(rows, o);
        Console.WriteLine(report);
        if (o.Markdown is not null)
        {
            File.WriteAllText(o.Markdown, report);
        }

        return 0;
    }

    private static string[] Self(string[] args)
    {
        var process = Environment.ProcessPath ?? throw new InvalidOperationException("no process path");
        return Path.GetFileNameWithoutExtension(process) == "dotnet"
            ? [process, typeof(Program).Assembly.Location, .. args]
            : [process, .. args];
    }

    /// <summary>Runs a child to completion and reads its one-line result; null when it ran out of time.</summary>
    private static Result? Child(string[] command, int timeoutSeconds)
    {
        var output = ChildRaw(command, timeoutSeconds);
        return output is null ? null : Result.Parse(output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last());
    }

    private static string? ChildRaw(string[] command, int timeoutSeconds)
    {
        var psi = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in command.Skip(1))
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start " + command[0]);
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(timeoutSeconds)))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            Console.Error.WriteLine($"  {string.Join(' ', command.Take(4))} ...: stopped after {timeoutSeconds} s");
            return null;
        }

        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{string.Join(' ', command)} failed ({p.ExitCode}): {stderr.Result}");
        }

        return stdout.Result;
    }

    private sealed record Row(Workload Workload, long Size, Result? Ours, Result? OursMemory, Result? Ssl, Result? SslMemory, Result? Js, Result? JsFull, Result? JsMemory);

    /// <summary>Median process CPU milliseconds of an operation (wall-clock with <paramref name="wall"/>).</summary>
    private static double? Ms(Result? r, string op, bool wall = false) =>
        r is not null && (wall ? r.Samples : r.CpuSamples).TryGetValue(op, out var s) && s.Count > 0 ? Result.Median(s) : null;

    private static string F(double? ms) => ms is null ? "n/a" : ms.Value.ToString(ms.Value < 100 ? "0.0" : "0", CultureInfo.InvariantCulture);

    private static string X(double? peer, double? ours) =>
        peer is null || ours is null ? "n/a" : (peer.Value / ours.Value).ToString("0.0", CultureInfo.InvariantCulture) + "x";

    private static string Both(Result? peer, Result? ours, string peerOp, string ourOp) =>
        $"{X(Ms(peer, peerOp), Ms(ours, ourOp))} ({X(Ms(peer, peerOp, wall: true), Ms(ours, ourOp, wall: true))})";

    private static string Mb(long bytes) => (bytes / 1e6).ToString("0.0", CultureInfo.InvariantCulture);

    private static string Report(List<Row> rows, RunOptions o)
    {
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"Median of {o.Iterations} runs after a warm-up of at least {o.Warmup} runs and one second (tuf-js full verify: one run, no warm-up); each implementation and workload in its own process.");
        sb.AppendLine();
        sb.AppendLine("Times are process CPU milliseconds (steadier than wall-clock on a shared machine); the ratio columns give CPU (wall-clock) ratios: how many times faster ours is.");
        sb.AppendLine();
        sb.AppendLine("| workload | file MB | operation | ours ms | securesystemslib ms | tuf-js ms | ours vs securesystemslib | ours vs tuf-js |");
        sb.AppendLine("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in rows)
        {
            var name = r.Workload.Name;
            var mb = Mb(r.Size);
            foreach (var op in new[] { "canonicalize", "parse+canonicalize" })
            {
                sb.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {mb} | {op} | {F(Ms(r.Ours, op))} | {F(Ms(r.Ssl, op))} | {F(Ms(r.Js, op))} | {Both(r.Ssl, r.Ours, op, op)} | {Both(r.Js, r.Ours, op, op)} |");
            }

            var full = Ms(r.JsFull, "verify");
            var fullText = full is null ? $"> {o.TimeoutSeconds} s wall (stopped)" : F(full);
            var fullRatio = full is null ? $"> {X(o.TimeoutSeconds * 1000.0, Ms(r.Ours, "verify", wall: true))} (wall)" : Both(r.JsFull, r.Ours, "verify", "verify");
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {mb} | verify: parse, model, canonicalize, ECDSA P-256/SHA-256 (tuf-js: Metadata.fromJSON + verifyDelegate) | {F(Ms(r.Ours, "verify"))} | n/a | {fullText} | n/a | {fullRatio} |");
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {mb} | verify; tuf-js without its model (JSON.parse + Key.verifySignature) | {F(Ms(r.Ours, "verify"))} | n/a | {F(Ms(r.Js, "verify-json"))} | n/a | {Both(r.Js, r.Ours, "verify-json", "verify")} |");
        }

        sb.AppendLine();
        sb.AppendLine("Peak memory (VmHWM, the resident high-water mark of the process's own memory) of a fresh process doing one operation: ours a full verify; securesystemslib parse + canonicalize; tuf-js JSON.parse + Key.verifySignature.");
        sb.AppendLine();
        sb.AppendLine("| workload | file MB | ours peak MB | ours / file | ours above runtime baseline MB | ours allocated MB | securesystemslib peak MB | tuf-js peak MB |");
        sb.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in rows)
        {
            var peak = r.OursMemory?.Extra.GetValueOrDefault("peak_rss_bytes") ?? 0;
            var baseline = r.OursMemory?.Extra.GetValueOrDefault("baseline_rss_bytes") ?? 0;
            var allocated = r.OursMemory?.Extra.GetValueOrDefault("allocated_bytes") ?? 0;
            var ratio = (peak / (double)r.Size).ToString("0.00", CultureInfo.InvariantCulture);
            var ssl = r.SslMemory?.Extra.GetValueOrDefault("peak_rss_bytes") ?? 0;
            var js = r.JsMemory?.Extra.GetValueOrDefault("peak_rss_bytes") ?? 0;
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {r.Workload.Name} | {Mb(r.Size)} | {Mb(peak)} | {ratio}x | {Mb(peak - baseline)} | {Mb(allocated)} | {Mb(ssl)} | {Mb(js)} |");
        }

        sb.AppendLine();
        sb.AppendLine("Targets: canonicalize >= 10x securesystemslib and >= 2x tuf-js (CPU time); peak memory < 4x the file size.");
        foreach (var r in rows)
        {
            var c = Ms(r.Ours, "canonicalize");
            var peak = r.OursMemory?.Extra.GetValueOrDefault("peak_rss_bytes") ?? 0;
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"- {r.Workload.Name}: vs securesystemslib {X(Ms(r.Ssl, "canonicalize"), c)} ({Met(Ms(r.Ssl, "canonicalize") / c >= 10)}), vs tuf-js {X(Ms(r.Js, "canonicalize"), c)} ({Met(Ms(r.Js, "canonicalize") / c >= 2)}), memory {(peak / (double)r.Size).ToString("0.00", CultureInfo.InvariantCulture)}x ({Met(peak > 0 && peak < 4 * r.Size)})");
        }

        return sb.ToString();
    }

    private static string Met(bool? met) => met == true ? "met" : "NOT met";
}
