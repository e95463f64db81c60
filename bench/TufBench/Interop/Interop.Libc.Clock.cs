using System.Runtime.InteropServices;

namespace OfflineSigner.TufBench;

/// <summary>
/// clock_gettime(CLOCK_PROCESS_CPUTIME_ID): the process's CPU time to the nanosecond. Process.TotalProcessorTime
/// reads /proc in 10 ms ticks, too coarse for runs of a few milliseconds; python's time.process_time reads this clock.
/// </summary>
internal static partial class Interop
{
    private const int ClockProcessCpuTimeId = 2;

    public static TimeSpan ProcessCpuTime()
    {
        if (ClockGetTime(ClockProcessCpuTimeId, out var ts) != 0)
        {
            throw new InvalidOperationException("clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
        }

        return TimeSpan.FromTicks((ts.Seconds * TimeSpan.TicksPerSecond) + (ts.Nanoseconds / 100));
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clockId, out TimeSpec time);

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
