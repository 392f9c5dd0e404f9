using System.Text.Json.Nodes;
using NeuralSparse.Client.Queries;
using NeuralSparse.Core.Sparse;
using NeuralSparse.Tests.Schema;

namespace NeuralSparse.Client.Tests;

public sealed class TwoPhaseAndFallbackTests
{
    private static readonly Dictionary<string, float> Tokens = new() { ["a"] = 5f, ["b"] = 3f, ["c"] = 1f, ["d"] = 0.5f };

    [Fact]
    public void ClientSideTwoPhase_BuildsTheRequestTheProcessorBuilds()
    {
        // neural-sparse-opensearch.md §2.3: raw tokens, default parameters, threshold 0.4 × 5 = 2.0.
        var request = new SearchRequest(new NeuralSparseQuery("f") { QueryTokens = Tokens }) { Size = 10 };

        JsonObject rewritten = ClientSideTwoPhase.Apply(request, TwoPhaseParameters.Default).ToJson();

        QueryJsonTests.AssertJson("""
            { "size": 10,
              "query": { "neural_sparse": { "f": { "query_tokens": { "a": 5, "b": 3 } } } },
              "rescore": [ { "window_size": 50, "query": {
                  "rescore_query": { "bool": { "should": [ { "neural_sparse": { "f": { "query_tokens": { "c": 1, "d": 0.5 }, "boost": 1.0 } } } ], "boost": 1.0 } },
                  "query_weight": 1.0, "rescore_query_weight": 1.0, "score_mode": "total" } } ] }
            """, rewritten);
    }

    /// <summary>
    /// The sort rule of NeuralSparseTwoPhaseProcessor.hasIncompatibleSort (3.8.0.0): only no sort or exactly one
    /// <c>_score</c> descending keeps the rewrite; anything else (OpenSearch refuses sort with rescore) runs one-phase.
    /// </summary>
    [Theory]
    [InlineData(null, true)]
    [InlineData("_score:desc", true)]
    [InlineData("_score:asc", false)]
    [InlineData("date:desc", false)]
    [InlineData("_score:desc,date:desc", false)]
    public void ClientSideTwoPhase_SkipsRequestsSortedByAnythingButScoreDescending(string? sort, bool rewritten)
    {
        var request = new SearchRequest(new NeuralSparseQuery("f") { QueryTokens = Tokens })
        {
            Sort = sort is null ? [] : [.. sort.Split(',').Select(s => s.Split(':')).Select(p => new SortField(p[0], p[1] == "desc" ? SortDirection.Descending : SortDirection.Ascending))],
        };

        SearchRequest result = ClientSideTwoPhase.Apply(request, TwoPhaseParameters.Default);

        Assert.Equal(rewritten, !ReferenceEquals(request, result));
        Assert.Equal(rewritten ? 1 : 0, result.Rescores.Count);
    }

    [Fact]
    public void SearchRequest_Sort_IsWrittenAsOpenSearchReadsIt()
    {
        var request = new SearchRequest(new NeuralSparseQuery("f") { QueryTokens = Tokens })
        {
            Sort = [new SortField("date", SortDirection.Descending), SortField.ScoreDescending],
        };

        QueryJsonTests.AssertJson("""
            { "query": { "neural_sparse": { "f": { "query_tokens": { "a": 5, "b": 3, "c": 1, "d": 0.5 } } } },
              "sort": [ { "date": { "order": "desc" } }, { "_score": { "order": "desc" } } ] }
            """, request.ToJson());
    }

    /// <summary>Defect I: neural-search PruneUtils.splitSparseVector (2.19.0.0+) throws on any value &lt;= 0; nothing is dropped silently.</summary>
    [Theory]
    [InlineData(0f)]
    [InlineData(-1f)]
    public void ClientSideTwoPhase_NonPositiveWeight_IsRefusedAsPruneUtilsDoes(float weight)
    {
        var tokens = new Dictionary<string, float>(Tokens) { ["z"] = weight };

        var error = Assert.Throws<ArgumentException>(() =>
            ClientSideTwoPhase.Apply(new SearchRequest(new NeuralSparseQuery("f") { QueryTokens = tokens }), TwoPhaseParameters.Default));

        Assert.Equal("Pruned values must be positive", error.Message);
    }

    /// <summary>
    /// Defect I, documented difference: with no low tokens the processor still appends a rescore whose query has an empty
    /// token map (it collects the clause before splitting); the client adds none, which scores every hit the same.
    /// </summary>
    [Fact]
    public void ClientSideTwoPhase_NoLowTokens_AddsNoRescore()
    {
        var request = new SearchRequest(new NeuralSparseQuery("f") { QueryTokens = new Dictionary<string, float> { ["a"] = 5f, ["b"] = 4f } });

        Assert.Same(request, ClientSideTwoPhase.Apply(request, TwoPhaseParameters.Default));
    }

    /// <summary>Defect G: NeuralSparseTwoPhaseProcessor.validateSeismicQuery (3.3.0.0+) refuses sparse ANN fields with this message.</summary>
    [Fact]
    public void ClientSideTwoPhase_RefusesASparseAnnQuery_WithTheProcessorsMessage()
    {
        var ann = new NeuralSparseQuery("f") { QueryTokens = Tokens, MethodParameters = new SparseAnnParameters { TopN = 10 } };

        var error = Assert.Throws<NotSupportedException>(() =>
            ClientSideTwoPhase.Apply(new SearchRequest(new BoolQuery { Should = [ann] }), TwoPhaseParameters.Default));

        Assert.StartsWith("Two phase search processor is not compatible with [seismic] field for now", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ClientSideTwoPhase_InsideBool_TraversesOnlyShould_MultiplyingBoosts()
    {
        var query = new BoolQuery
        {
            Boost = 2f,
            Should = [new NeuralSparseQuery("f") { QueryTokens = Tokens, Boost = 3f }],
            Must = [new NeuralSparseQuery("g") { QueryTokens = Tokens }],
        };

        SearchRequest rewritten = ClientSideTwoPhase.Apply(new SearchRequest(query), TwoPhaseParameters.Default);

        var bool_ = (BoolQuery)rewritten.Query;
        Assert.Equal(["a", "b"], ((NeuralSparseQuery)bool_.Should[0]).QueryTokens!.Keys.Order());
        Assert.Equal(4, ((NeuralSparseQuery)bool_.Must[0]).QueryTokens!.Count); // must clauses stay one-phase
        Rescore rescore = Assert.Single(rewritten.Rescores);
        var low = (NeuralSparseQuery)((BoolQuery)rescore.RescoreQuery).Should.Single();
        Assert.Equal(6f, low.Boost); // 2 (bool) × 3 (clause)
        Assert.Equal(["c", "d"], low.QueryTokens!.Keys.Order());
    }

    [Fact]
    public void ClientSideTwoPhase_AppendsAfterUserRescorers_ScaledByTheirQueryWeight()
    {
        var user = new Rescore(20, new RawQuery(new JsonObject { ["match_all"] = new JsonObject() })) { QueryWeight = 0.5f };
        var request = new SearchRequest(new NeuralSparseQuery("f") { QueryTokens = Tokens }) { Rescores = [user] };

        SearchRequest rewritten = ClientSideTwoPhase.Apply(request, TwoPhaseParameters.Default);

        Assert.Equal(2, rewritten.Rescores.Count);
        Assert.Same(user, rewritten.Rescores[0]);
        Assert.Equal(0.5f, ((BoolQuery)rewritten.Rescores[1].RescoreQuery).Boost);
    }

    [Theory]
    [InlineData(false, 0.4f)]
    [InlineData(true, 0f)]
    public void ClientSideTwoPhase_DisabledOrZeroRatio_LeavesTheRequestAlone(bool enabled, float ratio)
    {
        var request = new SearchRequest(new NeuralSparseQuery("f") { QueryTokens = Tokens });

        Assert.Same(request, ClientSideTwoPhase.Apply(request, TwoPhaseParameters.Default with { Enabled = enabled, PruneRatio = ratio }));
    }

    [Fact]
    public void ClientSideTwoPhase_WindowCoveringAllDocuments_ScoresEqualOnePhase()
    {
        // Linear scoring: inside the window phase one (high) + rescore (low) = the one-phase score.
        var documents = new[]
        {
            new Dictionary<string, float> { ["a"] = 1f, ["c"] = 2f },
            new Dictionary<string, float> { ["b"] = 0.5f, ["d"] = 4f },
            new Dictionary<string, float> { ["d"] = 1f },
        };
        (IReadOnlyDictionary<string, float> high, IReadOnlyDictionary<string, float> low) =
            ClientSideTwoPhase.Split(Tokens, TwoPhaseParameters.Default.PruneRule);

        foreach (Dictionary<string, float> document in documents)
        {
            Assert.Equal(Score(Tokens, document), Score(high, document) + Score(low, document), 5);
        }
    }

    [Fact]
    public void Split_FollowsEveryPruneRule()
    {
        Assert.Equal(["a"], ClientSideTwoPhase.Split(Tokens, new SparsePruneRule(SparsePruneType.TopK, 1)).High.Keys);
        Assert.Equal(["a", "b"], ClientSideTwoPhase.Split(Tokens, new SparsePruneRule(SparsePruneType.AbsValue, 3)).High.Keys.Order());
        Assert.Equal(["a"], ClientSideTwoPhase.Split(Tokens, new SparsePruneRule(SparsePruneType.AlphaMass, 0.6f)).High.Keys);
    }

    [Fact]
    public void RankFeatureFallback_OneLinearClausePerToken_ScoreEquivalent()
    {
        var query = new NeuralSparseQuery("e") { QueryTokens = new Dictionary<string, float> { ["hello"] = 6.9f, ["##s"] = 1.4f, ["."] = 0.02f }, Boost = 2f };

        BoolQuery fallback = RankFeatureFallback.ToRankFeatures(query, out IReadOnlyList<string> skipped);

        QueryJsonTests.AssertJson("""
            {"bool":{"should":[
              {"rank_feature":{"field":"e.##s","linear":{},"boost":1.4}},
              {"rank_feature":{"field":"e.hello","linear":{},"boost":6.9}}],"boost":2}}
            """, fallback.ToJson());
        Assert.Equal(["."], skipped);
    }

    [SharedSpecFact]
    public void Bodies_SatisfyTheOpenSearchApiSpec()
    {
        OpenSearchSpec spec = OpenSearchSpec.Find()!;
        var tokens = new NeuralSparseQuery("e") { QueryTokens = Tokens, Boost = 1.5f, Name = "sparse" };
        SearchRequest[] requests =
        [
            new SearchRequest(new NeuralSparseQuery("e") { QueryText = "q", ModelId = "m" }) { Size = 5, SourceIncludes = ["title"] },
            new SearchRequest(new NeuralSparseQuery("e") { QueryText = "q", Analyzer = "bert-uncased" }),
            ClientSideTwoPhase.Apply(new SearchRequest(tokens) { Size = 10 }, TwoPhaseParameters.Default),
            new SearchRequest(RankFeatureFallback.ToRankFeatures(tokens, out _)),
            new SearchRequest(new BoolQuery { Should = [tokens], Filter = [new RawQuery(new JsonObject { ["term"] = new JsonObject { ["lang"] = "en" } })] }),
        ];

        foreach (SearchRequest request in requests)
        {
            IReadOnlyList<string> errors = spec.Validate("_core.yaml", "search", request.ToJson());
            Assert.True(errors.Count == 0, request.ToJson().ToJsonString() + "\n" + string.Join('\n', errors));
        }
    }

    private static double Score(IReadOnlyDictionary<string, float> query, IReadOnlyDictionary<string, float> document) =>
        query.Sum(t => document.TryGetValue(t.Key, out float d) ? (double)t.Value * d : 0);
}

/// <summary>Skipped, with the reason, where ../shared/opensearch-api-spec is absent.</summary>
internal sealed class SharedSpecFactAttribute : FactAttribute
{
    public SharedSpecFactAttribute()
    {
        if (OpenSearchSpec.Find() is null)
        {
            Skip = "Needs ../shared/opensearch-api-spec beside the repository; it is absent in this checkout.";
        }
    }
}
