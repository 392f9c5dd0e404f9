using System.Globalization;
using NeuralSparse.Core.Inference;

namespace NeuralSparse.Bench;

/// <summary>
/// Part <c>padding</c>: padded positions (counted, not timed) on a realistic length mix, the planner before issue 11
/// (fill each run up to the limits, longest first) against the current one (the cheapest cut of the sorted texts).
/// </summary>
internal static class PaddingBench
{
    public static void Run(Action<string> line)
    {
        line("Padding on a mix of a quarter short queries (4–16 tokens) and passages of 40–400 tokens; 50 seeded gathers per row, batch limit 32:");
        line(string.Empty);
        line("| texts per gather | token budget | padding, fill runs (before) | runs | padding, cheapest cut (now) | runs |");
        line("|---|---|---|---|---|---|");
        foreach (int texts in new[] { 32, 64, 256 })
        {
            foreach (int budget in new[] { 4096, 8192, 16384 })
            {
                var random = new Random((texts * 31) + budget);
                double before = 0, now = 0, beforeRuns = 0, nowRuns = 0;
                const int Gathers = 50;
                for (int g = 0; g < Gathers; g++)
                {
                    int[] lengths = [.. Enumerable.Range(0, texts).Select(_ => random.Next(4) == 0 ? random.Next(4, 17) : random.Next(40, 401))];
                    IReadOnlyList<int[]> filled = FillRuns(lengths, 32, budget);
                    IReadOnlyList<int[]> cut = BatchPlanner.Plan(lengths, 32, budget);
                    before += BatchPlanner.PaddingFraction(lengths, filled) / Gathers;
                    now += BatchPlanner.PaddingFraction(lengths, cut) / Gathers;
                    beforeRuns += (double)filled.Count / Gathers;
                    nowRuns += (double)cut.Count / Gathers;
                }

                line(string.Create(CultureInfo.InvariantCulture, $"| {texts} | {budget} | {before:P1} | {beforeRuns:F1} | {now:P1} | {nowRuns:F1} |"));
            }
        }
    }

    /// <summary>The planner before issue 11, kept here as the comparison: longest first, each run filled to the limits.</summary>
    private static List<int[]> FillRuns(IReadOnlyList<int> lengths, int maxBatchSize, int maxBatchTokens)
    {
        int[] order = [.. Enumerable.Range(0, lengths.Count).OrderByDescending(i => lengths[i])];
        var batches = new List<int[]>();
        for (int start = 0; start < order.Length;)
        {
            int end = start + 1;
            while (end < order.Length && end - start < maxBatchSize && (long)(end - start + 1) * lengths[order[start]] <= maxBatchTokens)
            {
                end++;
            }

            batches.Add(order[start..end]);
            start = end;
        }

        return batches;
    }
}
