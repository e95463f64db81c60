using Xunit;

namespace OfflineSigner.Tuf.Tests;

/// <summary>Work spread over the cores keeps the outcome of a sequential loop.</summary>
public sealed class ParallelismTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(Parallelism.Threshold)]
    [InlineData(10_000)]
    public void Results_come_in_item_order(int count)
    {
        var results = Parallelism.Map(count, i => i * 3);
        Assert.Equal(Enumerable.Range(0, count).Select(i => i * 3), results);
    }

    [Fact]
    public void The_first_failing_item_in_order_is_the_failure_reported()
    {
        // Items fail at 7,000 and 300 (and every 1,000th from 2,000): whatever order the cores take them in, the
        // failure of item 300 is the one thrown, as a sequential loop would have it.
        for (var round = 0; round < 20; round++)
        {
            var e = Assert.Throws<InvalidOperationException>(() => Parallelism.Map(10_000, i =>
            {
                if (i == 300 || i == 7_000 || (i >= 2_000 && i % 1_000 == 0))
                {
                    throw new InvalidOperationException("item " + i);
                }

                return i;
            }));
            Assert.Equal("item 300", e.Message);
        }
    }

    [Fact]
    public void Every_item_runs_once()
    {
        var runs = new int[5_000];
        Parallelism.For(runs.Length, i => Interlocked.Increment(ref runs[i]));
        Assert.All(runs, r => Assert.Equal(1, r));
    }
}
