using NeuralSparse.Cli.Evaluation;

namespace NeuralSparse.Cli.Tests;

/// <summary>trec_eval's ndcg_cut_10, recall_100 and recip_rank (first 10), on cases computed by hand.</summary>
public sealed class MetricsTests
{
    private static ScoredDocument[] Run(params (string Id, double Score)[] hits) => [.. hits.Select(h => new ScoredDocument(h.Id, h.Score))];

    [Fact]
    public void GradedRelevance_UsesLinearGains_AndTheIdealOrderOfAllJudgedDocuments()
    {
        // Ranked: d1 (2), d2 (1), d3 (0), d5 (unjudged), d4 (3).
        // DCG  = 2/log2(2) + 1/log2(3) + 3/log2(6)            = 2 + 0.630930 + 1.160558 = 3.791488
        // IDCG = 3/log2(2) + 2/log2(3) + 1/log2(4)            = 3 + 1.261860 + 0.5      = 4.761860
        var judgements = new Dictionary<string, int> { ["d1"] = 2, ["d2"] = 1, ["d3"] = 0, ["d4"] = 3 };

        QueryMetrics metrics = TrecMetrics.Evaluate(Run(("d1", 0.9), ("d2", 0.8), ("d3", 0.7), ("d5", 0.6), ("d4", 0.5)), judgements);

        Assert.Equal(0.7962200836853229, metrics.Ndcg10, 12);
        Assert.Equal(1.0, metrics.Recall100); // d1, d2, d4 are relevant (>= 1) and all retrieved
        Assert.Equal(1.0, metrics.Mrr10);
    }

    [Fact]
    public void Ties_AreBrokenByDocumentIdDescending_WhateverTheEngineReturned()
    {
        // trec_eval sorts equal scores by docno descending: d_b ranks before d_a.
        var judgements = new Dictionary<string, int> { ["d_a"] = 1 };

        QueryMetrics inOrder = TrecMetrics.Evaluate(Run(("d_a", 1.0), ("d_b", 1.0), ("d_c", 0.5)), judgements);
        QueryMetrics reversed = TrecMetrics.Evaluate(Run(("d_c", 0.5), ("d_b", 1.0), ("d_a", 1.0)), judgements);

        Assert.Equal(0.5, inOrder.Mrr10);
        Assert.Equal(0.6309297535714575, inOrder.Ndcg10, 12); // 1/log2(3) over an ideal of 1
        Assert.Equal(inOrder, reversed);
    }

    [Fact]
    public void QueryWithoutRelevantDocuments_ScoresZero_AndCountsInTheMean()
    {
        var noneRelevant = new Dictionary<string, int> { ["x"] = 0 };
        var oneRelevant = new Dictionary<string, int> { ["y"] = 1 };

        Assert.Equal(default, TrecMetrics.Evaluate(Run(("x", 1.0)), noneRelevant));
        QueryMetrics mean = TrecMetrics.Mean(
            new Dictionary<string, IReadOnlyList<ScoredDocument>> { ["q1"] = Run(("x", 1.0)), ["q2"] = Run(("y", 1.0)) },
            new Dictionary<string, IReadOnlyDictionary<string, int>> { ["q1"] = noneRelevant, ["q2"] = oneRelevant });

        Assert.Equal(new QueryMetrics(0.5, 0.5, 0.5), mean);
    }

    [Fact]
    public void FewerResultsThanK_CountTheMissingRanksAsNotRelevant()
    {
        // 12 relevant documents, 3 results: r1, n1, r2.
        // NDCG@10 = (1 + 1/log2(4)) / Σ_{i=1..10} 1/log2(i+1) = 1.5 / 4.543559 = 0.330138
        var judgements = Enumerable.Range(1, 12).ToDictionary(i => $"r{i}", _ => 1);

        QueryMetrics metrics = TrecMetrics.Evaluate(Run(("r1", 3), ("n1", 2), ("r2", 1)), judgements);

        Assert.Equal(0.33013764944712026, metrics.Ndcg10, 12);
        Assert.Equal(2.0 / 12, metrics.Recall100, 12);
        Assert.Equal(1.0, metrics.Mrr10);
    }

    [Fact]
    public void Cutoffs_StopAtTenForNdcgAndMrr_AndAtOneHundredForRecall()
    {
        // The only relevant document is at rank 11, the other at rank 101.
        var judgements = new Dictionary<string, int> { ["hit11"] = 1, ["hit101"] = 1 };
        ScoredDocument[] run = [.. Enumerable.Range(1, 120).Select(rank => new ScoredDocument(rank switch { 11 => "hit11", 101 => "hit101", _ => $"n{rank:D3}" }, 1000 - rank))];

        QueryMetrics metrics = TrecMetrics.Evaluate(run, judgements);

        Assert.Equal(new QueryMetrics(0, 0.5, 0), metrics);
    }

    [Fact]
    public void MissingRun_CountsAsZero_LikeTrecEvalDashC()
    {
        var judgements = new Dictionary<string, IReadOnlyDictionary<string, int>>
        {
            ["q1"] = new Dictionary<string, int> { ["a"] = 1 },
            ["q2"] = new Dictionary<string, int> { ["b"] = 1 },
        };

        QueryMetrics mean = TrecMetrics.Mean(new Dictionary<string, IReadOnlyList<ScoredDocument>> { ["q1"] = Run(("a", 1)) }, judgements);

        Assert.Equal(new QueryMetrics(0.5, 0.5, 0.5), mean);
    }

    [Theory]
    [InlineData(new double[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, 5, 9, 10)]
    [InlineData(new double[] { 7 }, 7, 7, 7)]
    [InlineData(new double[] { 30, 10, 20 }, 20, 30, 30)]
    public void Percentiles_AreNearestRank(double[] samples, double p50, double p90, double p99)
    {
        LatencySummary summary = LatencySummary.Of(samples);

        Assert.Equal((p50, p90, p99, samples.Length), (summary.P50, summary.P90, summary.P99, summary.Samples));
    }

    [Theory]
    [InlineData(6.696973f, 6.6875f)]
    [InlineData(4.7300377f, 4.71875f)]
    [InlineData(0.8708904f, 0.869140625f)]
    [InlineData(0.1f, 0.099853515625f)]
    [InlineData(3.14159f, 3.140625f)]
    [InlineData(1.0f, 1.0f)]
    [InlineData(2.5f, 2.5f)]
    public void FeatureField_KeepsNineSignificantBits_TruncatingTowardZero(float weight, float stored)
    {
        Assert.Equal(stored, FeatureFieldEncoding.Round(weight));
    }
}
