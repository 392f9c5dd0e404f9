using NeuralSparse.Client.Ingest;
using NeuralSparse.Client.Tests.InMemory;

namespace NeuralSparse.Client.Tests;

/// <summary><see cref="BulkIngestOptions.CreateOnly"/>: an existing document is refused with 409, never overwritten.</summary>
public sealed class BulkCreateOnlyTests
{
    [Fact]
    public async Task CreateOnly_RefusesExistingIds_AndIndexesTheRest()
    {
        var cluster = new InMemoryOpenSearch();
        await cluster.SendAsync(new Transport.OpenSearchRequest(HttpMethod.Put, "/docs", System.Text.Json.Nodes.JsonNode.Parse("""{"mappings":{"properties":{"passage_embedding":{"type":"rank_features"}}}}""")), CancellationToken.None);
        var encoder = new WordEncoder();
        await new PreEncodedBulkIngester(cluster, encoder).IngestAsync("docs", Documents("a", "b"));

        BulkIngestResult again = await new PreEncodedBulkIngester(cluster, encoder, new BulkIngestOptions { CreateOnly = true }).IngestAsync("docs", Documents("a", "b", "c"));

        Assert.Equal(1, again.Indexed);
        Assert.Equal(["a", "b"], again.Failures.Select(f => f.Id).Order());
        Assert.All(again.Failures, f => Assert.Equal((409, "version_conflict_engine_exception"), (f.Status!.Value, f.ErrorType)));
        Assert.All(cluster.Indices["docs"].Documents, d => Assert.Equal(1, d.Operations));
    }

    private static async IAsyncEnumerable<BulkDocument> Documents(params string[] ids)
    {
        await Task.Yield();
        foreach (string id in ids)
        {
            yield return new BulkDocument(id, "hello world");
        }
    }

    private sealed class WordEncoder : ISparseDocumentEncoder
    {
        public Task<IReadOnlyList<IReadOnlyDictionary<string, float>>> EncodeDocumentsAsync(IReadOnlyList<string> texts, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<IReadOnlyDictionary<string, float>>>([.. texts.Select(t => (IReadOnlyDictionary<string, float>)t.Split(' ').ToDictionary(w => w, _ => 1f))]);
    }
}
