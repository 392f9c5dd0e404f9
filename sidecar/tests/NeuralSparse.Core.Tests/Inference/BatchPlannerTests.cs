using NeuralSparse.Core.Inference;

namespace NeuralSparse.Core.Tests.Inference;

public sealed class BatchPlannerTests
{
    [Fact]
    public void Plan_SortsLongestFirst_AndCoversEveryIndexOnce()
    {
        int[] lengths = [5, 40, 12, 40, 3, 18, 7];

        IReadOnlyList<int[]> batches = BatchPlanner.Plan(lengths, maxBatchSize: 3, maxBatchTokens: 10_000);

        // Three runs either way; this cut pads 12 positions where filling each run to 3 rows would pad 34.
        Assert.Equal([[1, 3], [5, 2], [6, 0, 4]], batches);
    }

    [Fact]
    public void Plan_EqualLengths_OneRunUpToTheLimits()
    {
        IReadOnlyList<int[]> batches = BatchPlanner.Plan([.. Enumerable.Repeat(10, 70)], maxBatchSize: 32, maxBatchTokens: 4096);

        Assert.Equal([32, 32, 6], batches.Select(b => b.Length));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Plan_IsTheCheapestConsecutiveCut_ComparedWithEveryCut(int seed)
    {
        // Differential test against brute force: every way of cutting the sorted texts into consecutive runs.
        var random = new Random(seed);
        for (int trial = 0; trial < 40; trial++)
        {
            int[] lengths = [.. Enumerable.Range(0, random.Next(1, 11)).Select(_ => random.Next(2, 300))];
            int maxBatchSize = random.Next(1, 6);
            int maxBatchTokens = random.Next(100, 1200);

            IReadOnlyList<int[]> plan = BatchPlanner.Plan(lengths, maxBatchSize, maxBatchTokens);

            string input = $"lengths [{string.Join(", ", lengths)}], maxBatchSize {maxBatchSize}, maxBatchTokens {maxBatchTokens}";
            Assert.True(Cost(lengths, plan) == BruteForceCost(lengths, maxBatchSize, maxBatchTokens), $"not the cheapest plan for {input}");
            AssertValid(lengths, plan, maxBatchSize, maxBatchTokens);
        }
    }

    [Fact]
    public void Plan_RealisticMix_PadsAtMostTenPercent()
    {
        // Gathers of 32–256 texts: a quarter short queries (4–16 tokens), the rest passages of 40–400 tokens.
        var random = new Random(11);
        foreach (int texts in new[] { 32, 64, 256 })
        {
            foreach (int budget in new[] { 4096, 8192, 16384 })
            {
                int[] lengths = [.. Enumerable.Range(0, texts).Select(_ => random.Next(4) == 0 ? random.Next(4, 17) : random.Next(40, 401))];

                IReadOnlyList<int[]> plan = BatchPlanner.Plan(lengths, 32, budget);

                double padding = BatchPlanner.PaddingFraction(lengths, plan);
                Assert.True(padding <= 0.10, $"{texts} texts, budget {budget}: {padding:P1} padding");
                AssertValid(lengths, plan, 32, budget);
            }
        }
    }

    [Fact]
    public void PaddingFraction_CountsPaddedPositions() =>
        Assert.Equal(2.0 / 14, BatchPlanner.PaddingFraction([4, 2, 3, 3], [[0, 1], [2, 3]]), 9); // 14 padded positions, 12 real

    [Fact]
    public void Plan_PaddedTokensStayWithinBudget()
    {
        int[] lengths = [100, 90, 80, 70, 60, 50, 10, 10];

        IReadOnlyList<int[]> batches = BatchPlanner.Plan(lengths, maxBatchSize: 8, maxBatchTokens: 200);

        Assert.All(batches, b => Assert.True(b.Length * b.Max(i => lengths[i]) <= 200 || b.Length == 1));
        Assert.Equal(Enumerable.Range(0, lengths.Length), batches.SelectMany(b => b).Order());
    }

    [Fact]
    public void Plan_TextLongerThanBudget_GetsItsOwnBatch()
    {
        IReadOnlyList<int[]> batches = BatchPlanner.Plan([512, 4], maxBatchSize: 8, maxBatchTokens: 256);

        Assert.Equal([[0], [1]], batches);
    }

    [Fact]
    public void Plan_NoTexts_NoBatches() => Assert.Empty(BatchPlanner.Plan([], 8, 100));

    private static long Cost(int[] lengths, IEnumerable<int[]> plan) =>
        plan.Sum(b => ((long)b.Length * b.Max(i => lengths[i])) + BatchPlanner.RunOverheadTokens);

    private static long BruteForceCost(int[] lengths, int maxBatchSize, int maxBatchTokens)
    {
        int[] sorted = [.. lengths.OrderDescending()];
        long Best(int start)
        {
            if (start == sorted.Length)
            {
                return 0;
            }

            long best = long.MaxValue;
            for (int rows = 1; rows <= maxBatchSize && start + rows <= sorted.Length; rows++)
            {
                if (rows == 1 || rows * sorted[start] <= maxBatchTokens)
                {
                    best = Math.Min(best, (rows * sorted[start]) + BatchPlanner.RunOverheadTokens + Best(start + rows));
                }
            }

            return best;
        }

        return Best(0);
    }

    private static void AssertValid(int[] lengths, IReadOnlyList<int[]> plan, int maxBatchSize, int maxBatchTokens)
    {
        Assert.Equal(Enumerable.Range(0, lengths.Length), plan.SelectMany(b => b).Order());
        Assert.All(plan, b => Assert.True(b.Length <= maxBatchSize && (b.Length == 1 || b.Length * b.Max(i => lengths[i]) <= maxBatchTokens)));
    }
}
