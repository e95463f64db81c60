using System.Text.Json;
using System.Text.Json.Nodes;

namespace OfflineSigner.TufBench;

/// <summary>What one child process reports: one JSON line, the same shape from our code and from the peers.</summary>
internal sealed class Result(string implementation, string workload, long fileBytes)
{
    public string Implementation { get; } = implementation;

    public string Workload { get; } = workload;

    public long FileBytes { get; } = fileBytes;

    /// <summary>Wall-clock samples in milliseconds by operation name.</summary>
    public Dictionary<string, List<double>> Samples { get; } = [];

    /// <summary>Process CPU time samples in milliseconds by operation name.</summary>
    public Dictionary<string, List<double>> CpuSamples { get; } = [];

    public Dictionary<string, long> Extra { get; } = [];

    public void Add(string operation, (List<double> Wall, List<double> Cpu) samples)
    {
        Samples[operation] = samples.Wall;
        CpuSamples[operation] = samples.Cpu;
    }

    public string ToJson()
    {
        var o = new JsonObject
        {
            ["impl"] = Implementation,
            ["workload"] = Workload,
            ["file_bytes"] = FileBytes,
        };
        var ops = new JsonObject();
        foreach (var (name, samples) in Samples)
        {
            ops[name] = new JsonArray([.. samples.Select(s => JsonValue.Create(Math.Round(s, 3)))]);
        }

        o["ops_ms"] = ops;
        var cpuOps = new JsonObject();
        foreach (var (name, samples) in CpuSamples)
        {
            cpuOps[name] = new JsonArray([.. samples.Select(s => JsonValue.Create(Math.Round(s, 3)))]);
        }

        o["ops_cpu_ms"] = cpuOps;
        foreach (var (k, v) in Extra)
        {
            o[k] = v;
        }

        return o.ToJsonString();
    }

    /// <summary>Reads a line written by <see cref="ToJson"/> or by a peer script.</summary>
    public static Result Parse(string line)
    {
        var o = JsonNode.Parse(line)?.AsObject() ?? throw new JsonException("empty result");
        var r = new Result((string)o["impl"]!, (string)o["workload"]!, (long)o["file_bytes"]!);
        foreach (var (k, v) in o)
        {
            if (k is "ops_ms" or "ops_cpu_ms")
            {
                foreach (var (op, samples) in v!.AsObject())
                {
                    (k == "ops_ms" ? r.Samples : r.CpuSamples)[op] = [.. samples!.AsArray().Select(s => (double)s!)];
                }
            }
            else if (k is not "impl" and not "workload" and not "file_bytes" && v is JsonValue value && value.TryGetValue<long>(out var n))
            {
                r.Extra[k] = n;
            }
        }

        return r;
    }

    public static double Median(IReadOnlyList<double> samples)
    {
        var s = samples.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[(s.Length / 2) - 1] + s[s.Length / 2]) / 2;
    }
}
