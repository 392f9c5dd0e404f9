using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using NeuralSparse.Client.Queries;
using NeuralSparse.Client.Transport;
using NeuralSparse.Tests.Schema;

namespace NeuralSparse.Client.Tests;

public sealed partial class SearchClientTests
{
    private const string CannedResponse = """
        { "took": 5, "timed_out": false,
          "_shards": { "total": 1, "successful": 1, "skipped": 0, "failed": 0 },
          "hits": { "total": { "value": 2, "relation": "eq" }, "max_score": 12.5,
            "hits": [
              { "_index": "docs", "_id": "1", "_score": 12.5, "_source": { "passage_text": "Currently New York is rainy." }, "matched_queries": ["sparse"] },
              { "_index": "docs", "_id": "7", "_score": 3.25, "_source": { "passage_text": "Sunny in Oslo." } } ] } }
        """;

    [Fact]
    public async Task SearchAsync_SendsTheBody_AndMapsTypedHits()
    {
        var transport = new CannedTransport(CannedResponse);
        var client = new NeuralSparseSearchClient(transport);
        var request = new SearchRequest(new NeuralSparseQuery("passage_embedding") { QueryText = "weather", Analyzer = "bert-uncased", Name = "sparse" }) { Size = 2, SearchPipeline = "tp" };

        SearchResult<Passage> result = await client.SearchAsync("docs", request, TestJson.Default.Passage);

        Assert.Equal("/docs/_search?search_pipeline=tp", transport.Request!.Path);
        Assert.True(JsonNode.DeepEquals(request.ToJson(), transport.Request.Body));
        Assert.Equal(2, result.Total);
        Assert.Equal(["1", "7"], result.Hits.Select(h => h.Id));
        Assert.Equal(12.5, result.Hits[0].Score);
        Assert.Equal("Currently New York is rainy.", result.Hits[0].Source!.PassageText);
        Assert.Equal(["sparse"], result.Hits[0].MatchedQueries);
        Assert.Empty(result.Hits[1].MatchedQueries);
    }

    [SharedSpecFact]
    public void CannedSearchResponse_IsShapedAsTheSpecSays() =>
        Assert.Empty(OpenSearchSpec.Find()!.ValidateResponse("_core.yaml", "search@200", JsonNode.Parse(CannedResponse)));

    internal sealed record Passage([property: JsonPropertyName("passage_text")] string PassageText);

    [JsonSerializable(typeof(Passage))]
    internal sealed partial class TestJson : JsonSerializerContext;

    private sealed class CannedTransport(string body) : IOpenSearchTransport
    {
        public OpenSearchRequest? Request { get; private set; }

        public Task<OpenSearchResponse> SendAsync(OpenSearchRequest request, CancellationToken cancellationToken)
        {
            Request = request;
            return Task.FromResult(new OpenSearchResponse(200, body, new Uri("http://fake:9200")));
        }
    }
}
