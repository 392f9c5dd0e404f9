namespace NeuralSparse.Core.Inference;

/// <summary>
/// Groups texts into batches that waste little padding: sorted by token count (longest first), each batch padded
/// to its longest member, capped by rows and by padded tokens. Indices refer to the caller's order, so results can
/// be put back where they came from.
/// </summary>
internal static class BatchPlanner
{
    public static IReadOnlyList<int[]> Plan(IReadOnlyList<int> lengths, int maxBatchSize, int maxBatchTokens)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatchTokens, 1);

        // Stable sort, so equal lengths keep input order (deterministic batches).
        int[] order = [.. Enumerable.Range(0, lengths.Count).OrderByDescending(i => lengths[i])];
        var batches = new List<int[]>();
        int start = 0;
        while (start < order.Length)
        {
            int longest = lengths[order[start]];
            int end = start + 1;

            // The first member is the longest, so the padded size of a batch is count × longest.
            while (end < order.Length && end - start < maxBatchSize && (long)(end - start + 1) * longest <= maxBatchTokens)
            {
                end++;
            }

            batches.Add(order[start..end]);
            start = end;
        }

        return batches;
    }
}
