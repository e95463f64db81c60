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
///              [--cli DLL] [--cli-native EXECUTABLE]     (offline-signer builds whose whole-process peak is measured)
///              [--native EXECUTABLE]                      (this benchmark published as NativeAOT: memory children without a JIT)
/// TufBench generate DIR
/// TufBench time FILE ROLE DELEGATOR ITERATIONS WARMUP      (child: our timings, one JSON line)
/// TufBench memory FILE ROLE DELEGATOR model|indexed        (child: our peak memory, one JSON line)
/// TufBench command-memory IMPL WORKLOAD BYTES COMMAND...   (child: the peak memory of one run of COMMAND)
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
            case "memory" when args.Length == 5:
                Ours.Memory(args[1], args[2], args[3], args[4]);
                return 0;
            case "command-memory" when args.Length > 4:
                Ours.CommandMemory(args[1], args[2], long.Parse(args[3], CultureInfo.InvariantCulture), args[4..]);
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

    /// <summary>This benchmark published as NativeAOT, whose memory children run without a JIT, or null.</summary>
    public string? Native { get; private set; }

    /// <summary>offline-signer.dll (run by the dotnet host, JIT-compiled), or null.</summary>
    public string? Cli { get; private set; }

    /// <summary>offline-signer published as a NativeAOT executable, or null.</summary>
    public string? CliNative { get; private set; }

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
                case "--cli": o.Cli = v; break;
                case "--native": o.Native = v; break;
                case "--cli-native": o.CliNative = v; break;
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
            var oursMem = Child(Self(["memory", wl.File, wl.Role, delegator, "model"]), o.ChildTimeoutSeconds);
            var oursIndexMem = Child(Self(["memory", wl.File, wl.Role, delegator, "indexed"]), o.ChildTimeoutSeconds);
            var nativeMem = o.Native is null ? null : Child([o.Native, "memory", wl.File, wl.Role, delegator, "model"], o.ChildTimeoutSeconds);
            var nativeIndexMem = o.Native is null ? null : Child([o.Native, "memory", wl.File, wl.Role, delegator, "indexed"], o.ChildTimeoutSeconds);
            var ssl = Child(["/usr/bin/python3", python, "time", wl.File, n, w], o.ChildTimeoutSeconds);
            var sslMem = Child(["/usr/bin/python3", python, "memory", wl.File], o.ChildTimeoutSeconds);
            var js = Child(["node", "--expose-gc", node, o.Peers, "time", wl.File, wl.Role, delegator, n, w], o.ChildTimeoutSeconds);
            // tuf-js's model is slow to build for large roles (see the script): one run, no warm-up, under the time limit.
            var jsFull = Child(["node", "--expose-gc", node, o.Peers, "verify", wl.File, wl.Role, delegator, "1", "0"], o.TimeoutSeconds);
            var jsMem = Child(["node", node, o.Peers, "memory", wl.File, wl.Role, delegator], o.ChildTimeoutSeconds);
            var cli = new List<(string Build, Result? Peak, Result? Baseline)>();
            foreach (var (build, host) in new[] { ("JIT (dotnet offline-signer.dll)", o.Cli is null ? null : new[] { DotnetHost(), o.Cli }), ("NativeAOT", o.CliNative is null ? null : new[] { o.CliNative }) })
            {
                if (host is null)
                {
                    continue;
                }

                var root = Path.Combine(work, Workloads.RootFile);
                string[] Command(string[] verify) => ["command-memory", build, wl.Name, size.ToString(CultureInfo.InvariantCulture), .. host, "verify", "--root", root, .. verify];
                var peak = Child(Self(Command(["--max-bytes", size.ToString(CultureInfo.InvariantCulture), delegator, wl.File])), o.ChildTimeoutSeconds);
                var baseline = Child(Self(Command([delegator])), o.ChildTimeoutSeconds);
                cli.Add((build, peak, baseline));
            }

            rows.Add(new Row(wl, size, ours, oursMem, oursIndexMem, nativeMem, nativeIndexMem, ssl, sslMem, js, jsFull, jsMem, cli));
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
            ? [process, Path.Combine(AppContext.BaseDirectory, "TufBench.dll"), .. args]
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

    private sealed record Row(Workload Workload, long Size, Result? Ours, Result? OursMemory, Result? OursIndexMemory, Result? NativeMemory, Result? NativeIndexMemory, Result? Ssl, Result? SslMemory, Result? Js, Result? JsFull, Result? JsMemory, List<(string Build, Result? Peak, Result? Baseline)> Cli);

    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h ? h
        : Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet";

    /// <summary>Median process CPU milliseconds of an operation (wall-clock with <paramref name="wall"/>).</summary>
    private static double? Ms(Result? r, string op, bool wall = false) =>
        r is not null && (wall ? r.Samples : r.CpuSamples).TryGetValue(op, out var s) && s.Count > 0 ? Result.Median(s) : null;

    private static string F(double? ms) => ms is null ? "n/a" : ms.Value.ToString(ms.Value < 100 ? "0.0" : "0", CultureInfo.InvariantCulture);

    private static string X(double? peer, double? ours) =>
        peer is null || ours is null ? "n/a" : (peer.Value / ours.Value).ToString("0.0", CultureInfo.InvariantCulture) + "x";

    private static string Both(Result? peer, Result? ours, string peerOp, string ourOp) =>
        $"{X(Ms(peer, peerOp), Ms(ours, ourOp))} ({X(Ms(peer, peerOp, wall: true), Ms(ours, ourOp, wall: true))})";

    private static string Ratio(long bytes, long size) => (bytes / (double)size).ToString("0.00", CultureInfo.InvariantCulture) + "x";

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
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {mb} | canonicalize, ours through the index (JsonIndex built beforehand) | {F(Ms(r.Ours, "canonicalize-indexed"))} | {F(Ms(r.Ssl, "canonicalize"))} | {F(Ms(r.Js, "canonicalize"))} | {Both(r.Ssl, r.Ours, "canonicalize", "canonicalize-indexed")} | {Both(r.Js, r.Ours, "canonicalize", "canonicalize-indexed")} |");
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {mb} | parse+canonicalize, ours through the index (JsonIndex) | {F(Ms(r.Ours, "parse+canonicalize-indexed"))} | {F(Ms(r.Ssl, "parse+canonicalize"))} | {F(Ms(r.Js, "parse+canonicalize"))} | {Both(r.Ssl, r.Ours, "parse+canonicalize", "parse+canonicalize-indexed")} | {Both(r.Js, r.Ours, "parse+canonicalize", "parse+canonicalize-indexed")} |");
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {mb} | verify through the index (IndexedTargets); tuf-js without its model | {F(Ms(r.Ours, "verify-indexed"))} | n/a | {F(Ms(r.Js, "verify-json"))} | n/a | {Both(r.Js, r.Ours, "verify-json", "verify-indexed")} |");
        }

        sb.AppendLine();
        sb.AppendLine("Peak memory (VmHWM, the resident high-water mark of the process's own memory) of a fresh process doing one operation: ours a full verify, through the model (Metadata<Targets>.Parse) and through the index (IndexedTargets.Parse), JIT-compiled and NativeAOT; securesystemslib parse + canonicalize; tuf-js JSON.parse + Key.verifySignature. Our baseline is VmHWM just before the file is read, after the same verification ran on the 1 KB delegating role.");
        sb.AppendLine();
        sb.AppendLine("| workload | file MB | ours: path | ours peak MB | ours / file | ours above baseline MB | above baseline / file | ours allocated MB | securesystemslib peak MB | tuf-js peak MB |");
        sb.AppendLine("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in rows)
        {
            var ssl = r.SslMemory?.Extra.GetValueOrDefault("peak_rss_bytes") ?? 0;
            var js = r.JsMemory?.Extra.GetValueOrDefault("peak_rss_bytes") ?? 0;
            foreach (var (path, m) in new[] { ("model, JIT", r.OursMemory), ("index, JIT", r.OursIndexMemory), ("model, NativeAOT", r.NativeMemory), ("index, NativeAOT", r.NativeIndexMemory) })
            {
                if (m is null)
                {
                    continue;
                }

                var peak = m?.Extra.GetValueOrDefault("peak_rss_bytes") ?? 0;
                var baseline = m?.Extra.GetValueOrDefault("baseline_rss_bytes") ?? 0;
                var allocated = m?.Extra.GetValueOrDefault("allocated_bytes") ?? 0;
                sb.AppendLine(CultureInfo.InvariantCulture, $"| {r.Workload.Name} | {Mb(r.Size)} | {path} | {Mb(peak)} | {Ratio(peak, r.Size)} | {Mb(peak - baseline)} | {Ratio(peak - baseline, r.Size)} | {Mb(allocated)} | {Mb(ssl)} | {Mb(js)} |");
            }
        }

        if (rows.Any(r => r.Cli.Count > 0))
        {
            sb.AppendLine();
            sb.AppendLine("Whole-process peak (GNU time %M, from wait4) of `offline-signer verify --root root.json --max-bytes SIZE targets.json FILE`, the product as an operator runs it; its baseline is the same command verifying only the 1 KB delegating role (targets.json), which loads and runs the same code.");
            sb.AppendLine();
            sb.AppendLine("| workload | file MB | build | peak MB | peak / file | baseline MB | above baseline MB | above baseline / file | CPU ms |");
            sb.AppendLine("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
            foreach (var r in rows)
            {
                foreach (var (build, peakResult, baselineResult) in r.Cli)
                {
                    var peak = peakResult?.Extra.GetValueOrDefault("peak_rss_bytes") ?? 0;
                    var baseline = baselineResult?.Extra.GetValueOrDefault("peak_rss_bytes") ?? 0;
                    var cpu = (peakResult?.Extra.GetValueOrDefault("cpu_us") ?? 0) / 1000.0;
                    sb.AppendLine(CultureInfo.InvariantCulture, $"| {r.Workload.Name} | {Mb(r.Size)} | {build} | {Mb(peak)} | {Ratio(peak, r.Size)} | {Mb(baseline)} | {Mb(peak - baseline)} | {Ratio(peak - baseline, r.Size)} | {F(cpu)} |");
                }
            }
        }

        sb.AppendLine();
        sb.AppendLine("Targets: canonicalize >= 10x securesystemslib and >= 2x tuf-js (CPU time); peak memory < 4x the file size, judged on the peak above the process's baseline just before the file is read (verify through the index, NativeAOT as offline-signer ships), the whole-process peak given beside it.");
        foreach (var r in rows)
        {
            var c = Ms(r.Ours, "canonicalize");
            var ci = Ms(r.Ours, "canonicalize-indexed");
            var judged = r.NativeIndexMemory ?? r.OursIndexMemory;
            var peak = judged?.Extra.GetValueOrDefault("peak_rss_bytes") ?? 0;
            var baseline = judged?.Extra.GetValueOrDefault("baseline_rss_bytes") ?? 0;
            var jitPeak = r.OursIndexMemory?.Extra.GetValueOrDefault("peak_rss_bytes") ?? 0;
            var jitBaseline = r.OursIndexMemory?.Extra.GetValueOrDefault("baseline_rss_bytes") ?? 0;
            var whole = string.Join(", ", r.Cli.Select(x => $"offline-signer {x.Build} {Ratio(x.Peak?.Extra.GetValueOrDefault("peak_rss_bytes") ?? 0, r.Size)} ({Met(x.Peak?.Extra.GetValueOrDefault("peak_rss_bytes") is long p && p < 4 * r.Size)})"));
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"- {r.Workload.Name}: canonicalize (tree) vs securesystemslib {X(Ms(r.Ssl, "canonicalize"), c)} ({Met(Ms(r.Ssl, "canonicalize") / c >= 10)}), vs tuf-js {X(Ms(r.Js, "canonicalize"), c)} ({Met(Ms(r.Js, "canonicalize") / c >= 2)}); canonicalize (index) vs securesystemslib {X(Ms(r.Ssl, "canonicalize"), ci)} ({Met(Ms(r.Ssl, "canonicalize") / ci >= 10)}), vs tuf-js {X(Ms(r.Js, "canonicalize"), ci)} ({Met(Ms(r.Js, "canonicalize") / ci >= 2)}); memory above the baseline {Ratio(peak - baseline, r.Size)} ({(r.NativeIndexMemory is null ? "JIT" : "NativeAOT")}: {Met(peak > 0 && peak - baseline < 4 * r.Size)}), JIT {Ratio(jitPeak - jitBaseline, r.Size)} ({Met(jitPeak > 0 && jitPeak - jitBaseline < 4 * r.Size)}); whole process: in-process {Ratio(peak, r.Size)} ({Met(peak > 0 && peak < 4 * r.Size)}), in-process JIT {Ratio(jitPeak, r.Size)} ({Met(jitPeak > 0 && jitPeak < 4 * r.Size)}){(whole.Length > 0 ? ", " + whole : string.Empty)}");
        }

        return sb.ToString();
    }

    private static string Met(bool? met) => met == true ? "met" : "NOT met";
}
