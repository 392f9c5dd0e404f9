namespace NeuralSparse.Cli.Evaluation;

/// <summary>One retrieved document and its score.</summary>
internal readonly record struct ScoredDocument(string Id, double Score);

/// <summary>The three measures for one query.</summary>
internal readonly record struct QueryMetrics(double Ndcg10, double Recall100, double Mrr10);

/// <summary>
/// NDCG@10, Recall@100 and MRR@10 exactly as trec_eval (and so pytrec_eval and BEIR) computes <c>ndcg_cut_10</c>,
/// <c>recall_100</c> and <c>recip_rank</c> over the first 10 results:
/// <list type="bullet">
/// <item>the run is re-ranked by score descending, ties broken by document id in descending ordinal order
/// (<c>form_res_rels.c</c>, <c>comp_sim_docno</c>), whatever order the engine returned;</item>
/// <item>gains are the qrels' relevance values (graded, linear), discount <c>log2(rank + 1)</c>; the ideal ranking is
/// every judged document with relevance &gt; 0, best first (<c>m_ndcg_cut.c</c>);</item>
/// <item>a document is relevant for recall and reciprocal rank when its relevance is ≥ 1 (trec_eval's default
/// <c>-l 1</c>); unjudged documents are not relevant;</item>
/// <item>a query with no relevant document scores 0 on all three (<c>m_recall.c</c> leaves 0; the ideal DCG is 0);</item>
/// <item>fewer results than k: the missing ranks count as non-relevant.</item>
/// </list>
/// </summary>
internal static class TrecMetrics
{
    private const int NdcgCut = 10;
    private const int RecallCut = 100;
    private const int ReciprocalRankCut = 10;

    /// <summary>The measures of <paramref name="run"/> against one query's judgements (document id → relevance).</summary>
    public static QueryMetrics Evaluate(IReadOnlyList<ScoredDocument> run, IReadOnlyDictionary<string, int> judgements)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(judgements);
        ScoredDocument[] ranked = [.. run];
        Array.Sort(ranked, static (a, b) => a.Score != b.Score ? b.Score.CompareTo(a.Score) : string.CompareOrdinal(b.Id, a.Id));

        int Relevance(int rank) => judgements.TryGetValue(ranked[rank].Id, out int rel) ? rel : 0;

        double dcg = 0;
        for (int i = 0; i < Math.Min(NdcgCut, ranked.Length); i++)
        {
            int gain = Relevance(i);
            if (gain > 0)
            {
                dcg += gain / Math.Log2(i + 2);
            }
        }

        int[] ideal = [.. judgements.Values.Where(r => r > 0).OrderDescending().Take(NdcgCut)];
        double idealDcg = ideal.Select((gain, i) => gain / Math.Log2(i + 2)).Sum();

        int relevant = judgements.Values.Count(r => r >= 1);
        int retrievedRelevant = Enumerable.Range(0, Math.Min(RecallCut, ranked.Length)).Count(i => Relevance(i) >= 1);

        double reciprocalRank = 0;
        for (int i = 0; i < Math.Min(ReciprocalRankCut, ranked.Length); i++)
        {
            if (Relevance(i) >= 1)
            {
                reciprocalRank = 1.0 / (i + 1);
                break;
            }
        }

        return new QueryMetrics(
            idealDcg > 0 ? dcg / idealDcg : 0,
            relevant > 0 ? (double)retrievedRelevant / relevant : 0,
            reciprocalRank);
    }

    /// <summary>
    /// The mean over every judged query (<paramref name="judgedQueries"/>): a query missing from
    /// <paramref name="runs"/> counts as 0, like <c>trec_eval -c</c>, so a query that found nothing lowers the mean
    /// instead of leaving it.
    /// </summary>
    public static QueryMetrics Mean(IReadOnlyDictionary<string, IReadOnlyList<ScoredDocument>> runs, IReadOnlyDictionary<string, IReadOnlyDictionary<string, int>> judgedQueries)
    {
        ArgumentNullException.ThrowIfNull(runs);
        ArgumentNullException.ThrowIfNull(judgedQueries);
        if (judgedQueries.Count == 0)
        {
            return default;
        }

        double ndcg = 0, recall = 0, mrr = 0;
        foreach ((string query, IReadOnlyDictionary<string, int> judgements) in judgedQueries)
        {
            QueryMetrics metrics = Evaluate(runs.TryGetValue(query, out IReadOnlyList<ScoredDocument>? run) ? run : [], judgements);
            ndcg += metrics.Ndcg10;
            recall += metrics.Recall100;
            mrr += metrics.Mrr10;
        }

        return new QueryMetrics(ndcg / judgedQueries.Count, recall / judgedQueries.Count, mrr / judgedQueries.Count);
    }
}
