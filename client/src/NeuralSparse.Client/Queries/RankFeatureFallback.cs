namespace NeuralSparse.Client.Queries;

/// <summary>
/// For clusters without neural-search: a <c>neural_sparse</c> query with known tokens becomes a <c>bool.should</c> of
/// <c>rank_feature</c> linear queries, one per token with boost = weight. Both score Σ w_q(t) · S_d(t) over the
/// document's stored features, so ranking is the same.
/// </summary>
public static class RankFeatureFallback
{
    /// <summary>
    /// The equivalent query. Tokens containing '.' (such as BERT's "." token) cannot be addressed as a
    /// <c>rank_feature</c> field path and are left out; they are listed in <paramref name="skipped"/>.
    /// </summary>
    public static BoolQuery ToRankFeatures(NeuralSparseQuery query, out IReadOnlyList<string> skipped)
    {
        ArgumentNullException.ThrowIfNull(query);
        IReadOnlyDictionary<string, float> tokens = query.QueryTokens
            ?? throw new ArgumentException("The rank_feature fallback needs query_tokens (encode the query first, e.g. with the sidecar).");
        skipped = [.. tokens.Keys.Where(t => t.Contains('.', StringComparison.Ordinal)).Order(StringComparer.Ordinal)];
        return new BoolQuery
        {
            Should = [.. tokens.Where(t => !t.Key.Contains('.', StringComparison.Ordinal))
                .OrderBy(t => t.Key, StringComparer.Ordinal)
                .Select(t => new RankFeatureQuery(query.Field, t.Key, t.Value))],
            Boost = query.Boost,
        };
    }
}
