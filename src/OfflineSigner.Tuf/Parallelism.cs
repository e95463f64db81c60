using System.Runtime.ExceptionServices;

namespace OfflineSigner.Tuf;

/// <summary>
/// Independent work over many items (a bundle's 16,384 hash bins: parse, hash, verify a signature) spread over the
/// machine's cores, with the outcome of a sequential loop: results in item order, and when items fail, the failure
/// of the first failing item in that order is the one thrown, whatever order the cores ran them in. Small counts run
/// on the calling thread.
/// </summary>
public static class Parallelism
{
    /// <summary>Below this many items the loop runs on the calling thread: spreading it costs more than it saves.</summary>
    public const int Threshold = 64;

    /// <summary>Runs <paramref name="body"/> for 0..count-1 and returns the results in that order.</summary>
    public static T[] Map<T>(int count, Func<int, T> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var results = new T[count];
        if (count < Threshold || Environment.ProcessorCount == 1)
        {
            for (var i = 0; i < count; i++)
            {
                results[i] = body(i);
            }

            return results;
        }

        // The lowest failing index so far: items after it need not run, since its failure is the one reported.
        var firstFailure = int.MaxValue;
        var failures = new Exception?[count];
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            if (i > Volatile.Read(ref firstFailure))
            {
                return;
            }

            try
            {
                results[i] = body(i);
            }
#pragma warning disable CA1031 // Every failure is kept and the first one, in item order, rethrown below.
            catch (Exception e)
#pragma warning restore CA1031
            {
                failures[i] = e;
                int seen;
                while (i < (seen = Volatile.Read(ref firstFailure)) && Interlocked.CompareExchange(ref firstFailure, i, seen) != seen)
                {
                }
            }
        });

        if (firstFailure != int.MaxValue)
        {
            ExceptionDispatchInfo.Throw(failures[firstFailure]!);
        }

        return results;
    }

    /// <summary>Runs <paramref name="body"/> for 0..count-1; the first failure in index order is thrown.</summary>
    public static void For(int count, Action<int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        Map<bool>(count, i =>
        {
            body(i);
            return true;
        });
    }
}
