using System.Diagnostics;

namespace OfflineSigner.Cli.Workflow;

/// <summary>
/// Where a long export or import spends its time, phase by phase: printed on stderr when
/// OFFLINE_SIGNER_TIMINGS=1 (the bundle benchmark reads it; nothing else changes).
/// </summary>
internal static class Timings
{
    private static readonly bool Enabled = Environment.GetEnvironmentVariable("OFFLINE_SIGNER_TIMINGS") == "1";

    public static Phase Measure(string name) => new(name, Enabled ? Stopwatch.StartNew() : null);

    internal readonly struct Phase(string name, Stopwatch? clock) : IDisposable
    {
        public void Dispose()
        {
            if (clock is not null)
            {
                Console.Error.WriteLine($"timing: {name}: {clock.Elapsed.TotalMilliseconds:0} ms");
            }
        }
    }
}
