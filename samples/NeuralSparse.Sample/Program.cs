using System.Text.Json.Serialization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using NeuralSparse.Client;
using NeuralSparse.Client.Ingest;
using NeuralSparse.Client.Provisioning;
using NeuralSparse.Client.Queries;

// dotnet run --project samples/NeuralSparse.Sample -- "what's the weather in ny"
// Needs an OpenSearch cluster (appsettings.json, or NeuralSparse__* variables) and the sidecar.
HostApplicationBuilder builder = Host.CreateApplicationBuilder(args);
builder.Services.AddNeuralSparseClient(settings => builder.Configuration.GetSection("NeuralSparse").Bind(settings));
using IHost host = builder.Build();

var setup = new NeuralSparseSetup
{
    Index = "sample-docs",
    SidecarUrl = new Uri(builder.Configuration["NeuralSparse:SidecarUrl"]!),
    SidecarModel = builder.Configuration["NeuralSparse:SidecarModel"]!,
};
ProvisionResult provisioned = await host.Services.GetRequiredService<NeuralSparseProvisioner>().EnsureAsync(setup);
Console.WriteLine($"OpenSearch {provisioned.ClusterVersion}: model {provisioned.ModelId}; changes: {string.Join(", ", provisioned.Changes)}");

BulkIngestResult ingested = await host.Services.GetRequiredService<PreEncodedBulkIngester>().IngestAsync(setup.Index, Documents());
Console.WriteLine($"Indexed {ingested.Indexed}, failed {ingested.Failures.Count}");

// Encode the query with the sidecar and send query_tokens: no ml-commons call at query time.
IReadOnlyDictionary<string, float> tokens = await host.Services.GetRequiredService<ISparseQueryEncoder>().EncodeQueryAsync(args.FirstOrDefault() ?? "weather in ny", default);
var search = new SearchRequest(new NeuralSparseQuery(setup.VectorField) { QueryTokens = tokens }) { Size = 3 };
SearchResult<Passage> result = await host.Services.GetRequiredService<NeuralSparseSearchClient>().SearchAsync(setup.Index, search, SampleJson.Default.Passage);
foreach (SearchHit<Passage> hit in result.Hits)
{
    Console.WriteLine($"{hit.Score:F3}  {hit.Source?.PassageText}");
}

static async IAsyncEnumerable<BulkDocument> Documents()
{
    string[] passages = ["Currently New York is rainy.", "The two-phase pipeline speeds up sparse search.", "Sunny weather in Oslo today."];
    for (int i = 0; i < passages.Length; i++)
    {
        await Task.Yield();
        yield return new BulkDocument($"sample-{i}", passages[i]);
    }
}

internal sealed record Passage([property: JsonPropertyName("passage_text")] string PassageText);

[JsonSerializable(typeof(Passage))]
internal sealed partial class SampleJson : JsonSerializerContext;
