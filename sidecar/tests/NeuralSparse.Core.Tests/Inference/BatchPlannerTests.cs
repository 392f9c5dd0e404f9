using NeuralSparse.Core.Inference;

namespace NeuralSparse.Core.Tests.Inference;

public sealed class BatchPlannerTests
{
    [Fact]
    public void Plan_SortsLongestFirst_AndCoversEveryIndexOnce()
    {
        int[] lengths = [5, 40, 12, 40, 3, 18, 7];

        IReadOnlyList<int[]> batches = BatchPlanner.Plan(lengths, maxBatchSize: 3, maxBatchTokens: 10_000);

        Assert.Equal([[1, 3, 5], [2, 6, 0], [4]], batches);
    }

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
}
