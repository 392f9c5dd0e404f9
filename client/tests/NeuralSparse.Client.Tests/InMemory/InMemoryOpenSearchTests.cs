using System.Text.Json.Nodes;
using NeuralSparse.Client.Queries;
using NeuralSparse.Client.Transport;

namespace NeuralSparse.Client.Tests.InMemory;

/// <summary>The in-memory cluster scores as the references say OpenSearch does (numbers from the reference, by hand).</summary>
public sealed class InMemoryOpenSearchTests
{
    [Fact]
    public async Task StoredWeights_AreFeatureFieldTruncated_QueryWeightsAreNot()
    {
        var cluster = new InMemoryOpenSearch();
        cluster.Index("docs", "v", [("d", new Dictionary<string, float> { ["a"] = 6.696973f, ["b"] = 0.1f })]);

        // 2 × 6.6875 + 3 × 0.099853515625 = 13.674560546875
        JsonNode hits = await SearchAsync(cluster, new SearchRequest(Query(("a", 2f), ("b", 3f))));

        Assert.Equal(13.674560546875f, hits[0]!["_score"]!.GetValue<float>());
    }

    [Fact]
    public async Task TwoPhaseProcessor_MatchesNeuralSearchsIntegrationTest()
    {
        // NeuralSparseTwoPhaseProcessorIT: 10 × A {1:1..5:5, 11:1..15:5}, 10 × B {5:5, 6:6}, query {11..15: 1..5, 1..7: 1..7}.
        var cluster = new InMemoryOpenSearch();
        var a = Enumerable.Range(1, 5).SelectMany(i => new[] { KeyValuePair.Create($"{i}", (float)i), KeyValuePair.Create($"{10 + i}", (float)i) }).ToDictionary();
        var b = new Dictionary<string, float> { ["5"] = 5, ["6"] = 6 };
        cluster.Index("docs", "v", Enumerable.Range(0, 10).SelectMany(i => new (string, IReadOnlyDictionary<string, float>)[] { ($"a{i}", a), ($"b{i}", b) }));
        NeuralSparseQuery query = Query([.. Enumerable.Range(1, 5).Select(i => ($"{10 + i}", (float)i)), .. Enumerable.Range(1, 7).Select(i => ($"{i}", (float)i))]);

        async Task<float> TopAsync(float ratio, float expansion)
        {
            var parameters = new TwoPhaseParameters { PruneRatio = ratio, ExpansionRate = expansion };
            await cluster.SendAsync(new OpenSearchRequest(HttpMethod.Put, "/_search/pipeline/p", parameters.ToSearchPipeline()), CancellationToken.None);
            return (await SearchAsync(cluster, new SearchRequest(query) { Size = 1, SearchPipeline = "p" }))[0]!["_score"]!.GetValue<float>();
        }

        Assert.Equal(110f, (await SearchAsync(cluster, new SearchRequest(query) { Size = 1 }))[0]!["_score"]!.GetValue<float>());
        Assert.Equal(110f, await TopAsync(0.3f, 1f));
        Assert.Equal(61f, await TopAsync(0.7f, 1f));
        Assert.Equal(110f, await TopAsync(0.7f, 30f));
    }

    [Fact]
    public async Task Rescore_ReordersOnlyTheWindow_AndWeighsBothScores()
    {
        var cluster = new InMemoryOpenSearch();
        cluster.Index("docs", "v",
        [
            ("x", new Dictionary<string, float> { ["h"] = 3f }),
            ("y", new Dictionary<string, float> { ["h"] = 2f, ["l"] = 4f }),
            ("z", new Dictionary<string, float> { ["h"] = 1f, ["l"] = 8f }),
        ]);
        var request = new SearchRequest(Query(("h", 1f)))
        {
            Rescores = [new Rescore(2, Query(("l", 1f))) { QueryWeight = 0.5f, RescoreQueryWeight = 2f }],
        };

        JsonNode hits = await SearchAsync(cluster, request);

        // Window {x, y}: y = 0.5·2 + 2·4 = 9, x = 0.5·3 = 1.5 (no low token); z is outside the window and keeps 1.
        Assert.Equal(["y:9", "x:1.5", "z:1"], hits.AsArray().Select(h => $"{h!["_id"]}:{h["_score"]!.GetValue<float>()}"));
    }

    [Fact]
    public async Task BadWeights_AreRefusedWithTheServersMessages()
    {
        var cluster = new InMemoryOpenSearch();
        cluster.Index("docs", "v", [("d", new Dictionary<string, float> { ["a"] = 1f })]);
        OpenSearchResponse query = await cluster.SendAsync(new OpenSearchRequest(HttpMethod.Post, "/docs/_search",
            JsonNode.Parse("""{"query":{"neural_sparse":{"v":{"query_tokens":{"a":65}}}}}""")), CancellationToken.None);
        OpenSearchResponse bulk = await cluster.SendAsync(new OpenSearchRequest(HttpMethod.Post, "/docs/_bulk?pipeline=_none",
            NdJson: "{\"index\":{\"_id\":\"e\"}}\n{\"v\":{\"a\":0}}\n"), CancellationToken.None);

        Assert.Equal(400, query.Status);
        Assert.Contains("weight must be in (0, 64.0], got: 65", query.Body, StringComparison.Ordinal);
        Assert.Contains("featureValue must be a positive normal float", bulk.Json!["items"]![0]!["index"]!["error"]!["reason"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    private static NeuralSparseQuery Query(params (string Token, float Weight)[] tokens) =>
        new("v") { QueryTokens = tokens.ToDictionary(t => t.Token, t => t.Weight) };

    private static async Task<JsonNode> SearchAsync(InMemoryOpenSearch cluster, SearchRequest request)
    {
        OpenSearchResponse response = await cluster.SendAsync(new OpenSearchRequest(HttpMethod.Post, request.Path("docs"), request.ToJson()), CancellationToken.None);
        Assert.True(response.IsSuccess, response.Body);
        return response.Json!["hits"]!["hits"]!;
    }
}
