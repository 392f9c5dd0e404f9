using System.Text.Json.Nodes;
using NeuralSparse.Client;
using NeuralSparse.Client.Ingest;
using NeuralSparse.Client.Provisioning;
using NeuralSparse.Client.Queries;
using NeuralSparse.Client.Transport;

namespace NeuralSparse.Sidecar.IntegrationTests;

/// <summary>
/// The whole flow against a real OpenSearch cluster and sidecar: provision, ingest through ml-commons and pre-encoded,
/// neural_sparse queries with and without the two-phase pipeline, client-side two-phase, query_tokens. Runs only when
/// OPENSEARCH_URL is set (see integration-tests/compose.yaml); never run on this project's build machines.
/// </summary>
public sealed class LiveClusterTests
{
    private static string Variable(string name) => Environment.GetEnvironmentVariable(name)
        ?? throw new InvalidOperationException($"Set {name} for the live suite.");

    [LiveClusterFact]
    public async Task WholeFlow_AgainstARealCluster()
    {
        using var transport = new HttpOpenSearchTransport(new OpenSearchClientOptions
        {
            Nodes = [new Uri(Variable("OPENSEARCH_URL"))],
            Username = Environment.GetEnvironmentVariable("OPENSEARCH_USERNAME") ?? "admin",
            Password = Variable("OPENSEARCH_PASSWORD"),
            SkipCertificateValidation = true,
        });
        var client = new NeuralSparseSearchClient(transport);
        string index = "live-" + Guid.NewGuid().ToString("N")[..8];
        var setup = new NeuralSparseSetup
        {
            Index = index,
            SidecarUrl = new Uri(Variable("NEURAL_SPARSE_SIDECAR_URL_FOR_CLUSTER")),
            SidecarModel = Variable("NEURAL_SPARSE_SIDECAR_MODEL"),
        };
        try
        {
            ProvisionResult first = await new NeuralSparseProvisioner(transport).EnsureAsync(setup);
            Assert.Contains("index: created", first.Changes);
            Assert.Empty((await new NeuralSparseProvisioner(transport).EnsureAsync(setup)).Changes); // idempotent

            // Ingest through ml-commons (the index's default pipeline calls the sidecar).
            string[] passages = ["Currently New York is rainy.", "Sunny weather in Oslo.", "The two-phase pipeline speeds up search."];
            for (int i = 0; i < passages.Length; i++)
            {
                await client.SendAsync(new OpenSearchRequest(HttpMethod.Put, $"/{index}/_doc/{i}?refresh=true", new JsonObject { [setup.TextField] = passages[i] }));
            }

            // Pre-encoded ingest, bypassing the pipeline.
            using var sidecarHttp = new HttpClient { BaseAddress = new Uri(Variable("NEURAL_SPARSE_SIDECAR_URL")) };
            var sidecar = new SidecarEncoderClient(sidecarHttp, setup.SidecarModel);
            BulkIngestResult bulk = await new PreEncodedBulkIngester(transport, sidecar).IngestAsync(index, Documents());
            Assert.Equal(2, bulk.Indexed);
            await client.SendAsync(new OpenSearchRequest(HttpMethod.Post, $"/{index}/_refresh"));

            // neural_sparse by analyzer (doc-only, 3.1+): with the default two-phase pipeline and without it.
            var query = new NeuralSparseQuery(setup.VectorField) { QueryText = "weather in new york", Analyzer = "bert-uncased" };
            SearchResult<JsonObject> twoPhase = await client.SearchAsync(index, new SearchRequest(query) { Size = 5 }, Json.Object);
            SearchResult<JsonObject> onePhase = await client.SearchAsync(index, new SearchRequest(query) { Size = 5, SearchPipeline = "_none" }, Json.Object);
            Assert.NotEmpty(onePhase.Hits);
            Assert.Equal(onePhase.Hits.Select(h => h.Id), twoPhase.Hits.Select(h => h.Id)); // window covers every document

            // query_tokens from the sidecar, and the client-side two-phase rewrite: same ranking.
            IReadOnlyDictionary<string, float> tokens = await sidecar.EncodeQueryAsync("weather in new york", CancellationToken.None);
            var tokenQuery = new SearchRequest(new NeuralSparseQuery(setup.VectorField) { QueryTokens = tokens }) { Size = 5, SearchPipeline = "_none" };
            SearchResult<JsonObject> byTokens = await client.SearchAsync(index, tokenQuery, Json.Object);
            SearchResult<JsonObject> clientSide = await client.SearchAsync(index, ClientSideTwoPhase.Apply(tokenQuery, TwoPhaseParameters.Default), Json.Object);
            Assert.Equal(byTokens.Hits.Select(h => h.Id), clientSide.Hits.Select(h => h.Id));
        }
        finally
        {
            await transport.SendAsync(new OpenSearchRequest(HttpMethod.Delete, $"/{index}"), CancellationToken.None);
        }
    }

    private static async IAsyncEnumerable<BulkDocument> Documents()
    {
        await Task.Yield();
        yield return new BulkDocument("pre-1", "Rain again in NY this weekend.");
        yield return new BulkDocument("pre-2", "Snow in the mountains.");
    }

    private static class Json
    {
        public static readonly System.Text.Json.Serialization.Metadata.JsonTypeInfo<JsonObject> Object =
            (System.Text.Json.Serialization.Metadata.JsonTypeInfo<JsonObject>)System.Text.Json.JsonSerializerOptions.Default.GetTypeInfo(typeof(JsonObject));
    }
}

/// <summary>Runs only when OPENSEARCH_URL names a cluster; skipped with the reason otherwise.</summary>
internal sealed class LiveClusterFactAttribute : FactAttribute
{
    public LiveClusterFactAttribute()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("OPENSEARCH_URL")))
        {
            Skip = "Set OPENSEARCH_URL (and OPENSEARCH_PASSWORD, NEURAL_SPARSE_SIDECAR_URL, NEURAL_SPARSE_SIDECAR_URL_FOR_CLUSTER, NEURAL_SPARSE_SIDECAR_MODEL) to run the live suite; integration-tests/compose.yaml starts a cluster and the sidecar.";
        }
    }
}
