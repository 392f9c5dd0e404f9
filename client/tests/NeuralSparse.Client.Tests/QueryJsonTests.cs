using System.Text.Json.Nodes;
using NeuralSparse.Client.Queries;
using NeuralSparse.Core.Sparse;

namespace NeuralSparse.Client.Tests;

/// <summary>Golden JSON for every request body the SDK builds.</summary>
public sealed class QueryJsonTests
{
    [Fact]
    public void NeuralSparse_TextWithModel()
    {
        var query = new NeuralSparseQuery("passage_embedding") { QueryText = "Hi world", ModelId = "m1" };

        AssertJson("""{"neural_sparse":{"passage_embedding":{"query_text":"Hi world","model_id":"m1"}}}""", query.ToJson());
    }

    [Fact]
    public void NeuralSparse_TextWithAnalyzer_BoostAndName()
    {
        var query = new NeuralSparseQuery("passage_embedding") { QueryText = "Hi world", Analyzer = "bert-uncased", Boost = 2f, Name = "sparse" };

        AssertJson("""{"neural_sparse":{"passage_embedding":{"query_text":"Hi world","analyzer":"bert-uncased","boost":2,"_name":"sparse"}}}""", query.ToJson());
    }

    [Fact]
    public void NeuralSparse_QueryTokensWithSparseAnnParameters()
    {
        var query = new NeuralSparseQuery("sparse_embedding")
        {
            QueryTokens = new Dictionary<string, float> { ["7592"] = 6.5f, ["2088"] = 3.25f },
            MethodParameters = new SparseAnnParameters { TopN = 10, K = 20, HeapFactor = 1.5f, Filter = new RawQuery(new JsonObject { ["term"] = new JsonObject { ["lang"] = "en" } }) },
        };

        AssertJson("""
            {"neural_sparse":{"sparse_embedding":{"query_tokens":{"7592":6.5,"2088":3.25},
              "method_parameters":{"top_n":10,"k":20,"heap_factor":1.5,"filter":{"term":{"lang":"en"}}}}}}
            """, query.ToJson());
    }

    [Theory]
    [InlineData(true, true, null, null, "either query_text field or query_tokens field must be provided")]
    [InlineData(false, false, null, null, "either query_text field or query_tokens field must be provided")]
    [InlineData(true, false, "m", "bert-uncased", "model_id and analyzer are mutually exclusive")]
    [InlineData(false, true, "m", null, "drop model_id/analyzer")]
    public void NeuralSparse_InvalidCombinations_AreRefusedBeforeTheCluster(bool text, bool tokens, string? model, string? analyzer, string message)
    {
        var query = new NeuralSparseQuery("f")
        {
            QueryText = text ? "x" : null,
            QueryTokens = tokens ? new Dictionary<string, float> { ["a"] = 1f } : null,
            ModelId = model,
            Analyzer = analyzer,
        };

        Assert.Contains(message, Assert.Throws<ArgumentException>(() => query.ToJson()).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(-1f)]
    [InlineData(64.5f)]
    [InlineData(float.NaN)]
    public void NeuralSparse_TokenWeightOutsideLuceneRange_IsRefused(float weight)
    {
        var query = new NeuralSparseQuery("f") { QueryTokens = new Dictionary<string, float> { ["a"] = weight } };

        Assert.StartsWith("weight must be in (0, 64.0]", Assert.Throws<ArgumentException>(() => query.ToJson()).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bool_ComposesNeuralSparseWithOtherClauses()
    {
        var query = new BoolQuery
        {
            Should = [new NeuralSparseQuery("e") { QueryText = "q", ModelId = "m" }],
            Filter = [new RawQuery(new JsonObject { ["term"] = new JsonObject { ["lang"] = "en" } })],
            Boost = 1.5f,
        };

        AssertJson("""{"bool":{"should":[{"neural_sparse":{"e":{"query_text":"q","model_id":"m"}}}],"filter":[{"term":{"lang":"en"}}],"boost":1.5}}""", query.ToJson());
    }

    [Fact]
    public void SearchRequest_SizeRescoreSourceAndPipelinePath()
    {
        var request = new SearchRequest(new NeuralSparseQuery("e") { QueryText = "q", Analyzer = "bert-uncased" })
        {
            Size = 5,
            SourceIncludes = ["title"],
            SearchPipeline = "two phase",
        };

        AssertJson("""{"size":5,"query":{"neural_sparse":{"e":{"query_text":"q","analyzer":"bert-uncased"}}},"_source":["title"]}""", request.ToJson());
        Assert.Equal("/my-index/_search?search_pipeline=two%20phase", request.Path("my-index"));
    }

    [Fact]
    public void TwoPhasePipeline_WithServerDefaults()
    {
        AssertJson("""
            {"description":"d","request_processors":[{"neural_sparse_two_phase_processor":{"enabled":true,
              "two_phase_parameter":{"prune_type":"max_ratio","prune_ratio":0.4,"expansion_rate":5,"max_window_size":10000}}}]}
            """, TwoPhaseParameters.Default.ToSearchPipeline("d"));
    }

    [Theory]
    [InlineData(SparsePruneType.TopK, 0.4f, 5f, 10000, "Illegal prune_ratio 0.400000 for prune_type: top_k. prune_ratio should be positive integer.")]
    [InlineData(SparsePruneType.MaxRatio, 1f, 5f, 10000, "Illegal prune_ratio 1.000000 for prune_type: max_ratio. prune_ratio should be in the range [0, 1).")]
    [InlineData(SparsePruneType.MaxRatio, 0.4f, 0.5f, 10000, "The two_phase_parameter.expansion_rate must >= 1.0. Received: 0.500000")]
    [InlineData(SparsePruneType.MaxRatio, 0.4f, 5f, 49, "The two_phase_parameter.max_window_size must >= 50. Received: 49")]
    public void TwoPhaseParameters_Validation_MirrorsTheServer(SparsePruneType type, float ratio, float expansion, int window, string message)
    {
        var parameters = new TwoPhaseParameters { PruneType = type, PruneRatio = ratio, ExpansionRate = expansion, MaxWindowSize = window };

        Assert.Equal(message, Assert.Throws<ArgumentException>(parameters.Validate).Message);
    }

    [Fact]
    public void TwoPhaseParameters_WindowSize_AsTheProcessorComputesIt()
    {
        Assert.Equal(50, TwoPhaseParameters.Default.WindowSize(10));
        Assert.Equal(50, TwoPhaseParameters.Default.WindowSize(null));
        Assert.Equal(10000, TwoPhaseParameters.Default.WindowSize(2000));
        Assert.Equal(
            "The two-phase window size of neural_sparse_two_phase_processor should be [0,10000], but get the value of 10005",
            Assert.Throws<ArgumentException>(() => TwoPhaseParameters.Default.WindowSize(2001)).Message);
    }

    internal static void AssertJson(string expected, JsonNode actual) =>
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), actual), $"expected {JsonNode.Parse(expected)!.ToJsonString()}\n  actual {actual.ToJsonString()}");
}

public sealed class ClusterCapabilitiesTests
{
    [Theory]
    [InlineData("3.0.0", "analyzer", "neural_sparse with an analyzer needs OpenSearch 3.1 or later; the cluster runs 3.0.0.")]
    [InlineData("2.13.0", "tokens", "neural_sparse query_tokens needs OpenSearch 2.14 or later; the cluster runs 2.13.0.")]
    [InlineData("3.2.0", "ann", "neural_sparse method_parameters (sparse ANN) needs OpenSearch 3.3 or later; the cluster runs 3.2.0.")]
    public void EnsureSupports_RefusesQueriesTheClusterCannotRun(string version, string kind, string message)
    {
        var capabilities = new NeuralSparse.Client.Provisioning.ClusterCapabilities(Version.Parse(version), HasNeuralSearch: true, HasMlCommons: true);
        NeuralSparseQuery query = kind switch
        {
            "analyzer" => new NeuralSparseQuery("f") { QueryText = "q", Analyzer = "bert-uncased" },
            "tokens" => new NeuralSparseQuery("f") { QueryTokens = new Dictionary<string, float> { ["a"] = 1f } },
            _ => new NeuralSparseQuery("f") { QueryText = "q", ModelId = "m", MethodParameters = new SparseAnnParameters { K = 5 } },
        };

        // Inside a bool too: every clause is checked.
        Assert.Equal(message, Assert.Throws<NotSupportedException>(() => capabilities.EnsureSupports(new BoolQuery { Should = [query] })).Message);
        (capabilities with { Version = new Version(3, 3) }).EnsureSupports(query); // a 3.3 cluster runs all three
    }
}
