using System.Text;
using System.Text.Json;
using NeuralSparse.Client.Ingest;

namespace NeuralSparse.Sidecar.IntegrationTests;

/// <summary>The SDK's sidecar client against the real service process.</summary>
public sealed class SdkAgainstSidecarTests(ModelDirectories models) : IClassFixture<ModelDirectories>
{
    [Fact]
    public async Task SidecarEncoderClient_ReturnsWhatTheHttpApiReturns_InBothKeyFormats()
    {
        await using SidecarProcess sidecar = await SidecarProcess.StartAsync(models.Args("--NeuralSparse:Auth:ApiKeys:0=sdk-test-key-0123456789"));
        string[] texts = ["hello world", "", "the weather in ny"];
        using var http = new HttpClient { BaseAddress = new Uri(sidecar.Http.BaseAddress!, "/") };

        IReadOnlyList<IReadOnlyDictionary<string, float>> words = await new SidecarEncoderClient(http, "bi", "sdk-test-key-0123456789").EncodeDocumentsAsync(texts, CancellationToken.None);
        IReadOnlyList<IReadOnlyDictionary<string, float>> ids = await new SidecarEncoderClient(http, "bi", "sdk-test-key-0123456789", tokenIds: true).EncodeDocumentsAsync(texts, CancellationToken.None);

        var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/v1/models/bi/documents", UriKind.Relative)) { Content = new StringContent(JsonSerializer.Serialize(texts), Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new("Bearer", "sdk-test-key-0123456789");
        JsonElement expected = JsonDocument.Parse(await (await sidecar.Http.SendAsync(request)).Content.ReadAsStringAsync()).RootElement;
        for (int i = 0; i < texts.Length; i++)
        {
            Assert.Equal(expected[i].EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetSingle()), words[i]);
            Assert.Equal(words[i].Count, ids[i].Count);
            Assert.All(ids[i].Keys, k => Assert.True(int.TryParse(k, out _)));
        }

        await Assert.ThrowsAsync<HttpRequestException>(() => new SidecarEncoderClient(http, "bi", apiKey: null).EncodeDocumentsAsync(texts, CancellationToken.None));
    }

    [Fact]
    public async Task SidecarGrpcEncoderClient_MatchesTheHttpClient_ForDocumentsAndQueries()
    {
        await using SidecarProcess sidecar = await SidecarProcess.StartAsync(models.Args("--NeuralSparse:Auth:ApiKeys:0=sdk-test-key-0123456789"));
        using var http = new HttpClient { BaseAddress = new Uri(sidecar.Http.BaseAddress!, "/") };
        using var grpc = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{sidecar.GrpcPort}") };
        var viaHttp = new SidecarEncoderClient(http, "doc", "sdk-test-key-0123456789");
        var viaGrpc = new SidecarGrpcEncoderClient(grpc, "doc", "sdk-test-key-0123456789");
        string[] texts = ["hello world", "", "the weather in ny"];

        IReadOnlyList<IReadOnlyDictionary<string, float>> expected = await viaHttp.EncodeDocumentsAsync(texts, CancellationToken.None);
        IReadOnlyList<IReadOnlyDictionary<string, float>> actual = await viaGrpc.EncodeDocumentsAsync(texts, CancellationToken.None);

        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < texts.Length; i++)
        {
            Assert.Equal(expected[i], actual[i]);
        }

        Assert.Equal(await viaHttp.EncodeQueryAsync("what's the weather in ny now?", CancellationToken.None),
            await viaGrpc.EncodeQueryAsync("what's the weather in ny now?", CancellationToken.None));
        var error = await Assert.ThrowsAsync<HttpRequestException>(() => new SidecarGrpcEncoderClient(grpc, "nope", "sdk-test-key-0123456789").EncodeDocumentsAsync(["a"], CancellationToken.None));
        Assert.Contains("status 5", error.Message, StringComparison.Ordinal);
    }
}
