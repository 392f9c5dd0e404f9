using System.Net;
using System.Text.Json;
using NeuralSparse.Onnx.Synthetic;

namespace NeuralSparse.Sidecar.Tests;

public sealed class HttpApiTests : IAsyncLifetime
{
    private SidecarTestHost _host = null!;

    public async Task InitializeAsync() => _host = await SidecarTestHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task Documents_BareArray_OneMapPerTextInOrder_WordKeysPositiveWeights()
    {
        JsonElement body = await OkJsonAsync("/v1/documents", """["hello world", "the weather in ny", "hello world"]""");

        Assert.Equal(JsonValueKind.Array, body.ValueKind);
        Assert.Equal(3, body.GetArrayLength());
        foreach (JsonElement map in body.EnumerateArray())
        {
            Assert.True(map.EnumerateObject().Any());
            foreach (JsonProperty entry in map.EnumerateObject())
            {
                Assert.Contains(entry.Name, LookupTableModel.Vocabulary);
                Assert.DoesNotContain(entry.Name, new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" });
                Assert.True(entry.Value.GetSingle() > 0 && float.IsFinite(entry.Value.GetSingle()));
            }
        }

        Assert.Equal(body[0].GetRawText(), body[2].GetRawText());
        Assert.NotEqual(body[0].GetRawText(), body[1].GetRawText());
    }

    [Fact]
    public async Task Documents_ObjectWithTokenIdFormat_KeysAreIntegerIds_CaseInsensitive()
    {
        JsonElement words = await OkJsonAsync("/v1/documents", """{ "texts": ["hello world"], "sparse_embedding_format": "WORD" }""");
        JsonElement ids = await OkJsonAsync("/v1/documents", """{ "texts": ["hello world"], "sparse_embedding_format": "token_id" }""");

        Dictionary<string, float> expected = words[0].EnumerateObject().ToDictionary(
            p => Array.IndexOf(LookupTableModel.Vocabulary, p.Name).ToString(System.Globalization.CultureInfo.InvariantCulture), p => p.Value.GetSingle());
        Assert.Equal(expected, ids[0].EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetSingle()));
    }

    [Fact]
    public async Task Documents_EnvelopeResponse_WrapsTheArray()
    {
        JsonElement body = await OkJsonAsync("/v1/documents?envelope=response", """["hello"]""");

        Assert.Equal(1, body.GetProperty("response").GetArrayLength());
    }

    [Fact]
    public async Task Documents_EmptyString_IsAnEmptyMap_CountAndOrderKept()
    {
        JsonElement body = await OkJsonAsync("/v1/documents", """["hello", "", "world"]""");

        Assert.Equal(3, body.GetArrayLength());
        Assert.Empty(body[1].EnumerateObject());
        Assert.NotEmpty(body[2].EnumerateObject());
    }

    [Fact]
    public async Task Documents_NulCharacters_AreRemovedLikeHuggingFaceDoes()
    {
        JsonElement body = await OkJsonAsync("/v1/documents", """["hel\u0000lo world", "hello world"]""");

        Assert.Equal(body[1].GetRawText(), body[0].GetRawText());
    }

    [Fact]
    public async Task Documents_PruneOptions_AreApplied()
    {
        JsonElement all = await OkJsonAsync("/v1/documents", """["hello world the weather"]""");
        JsonElement top = await OkJsonAsync("/v1/documents", """{ "texts": ["hello world the weather"], "prune_type": "top_k", "prune_ratio": 2 }""");

        Assert.True(all[0].EnumerateObject().Count() > 2);
        Assert.Equal(2, top[0].EnumerateObject().Count());
        float[] largest = [.. all[0].EnumerateObject().Select(p => p.Value.GetSingle()).OrderDescending().Take(2)];
        Assert.Equal(largest, top[0].EnumerateObject().Select(p => p.Value.GetSingle()).OrderDescending());
    }

    [Fact]
    public async Task Queries_DocOnlyModel_UseIdfWeights()
    {
        JsonElement body = await OkJsonAsync("/v1/models/doc/queries", """["What's the weather in ny now?"]""");

        var weights = body[0].EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetSingle());
        Assert.Equal(4.568416f, weights["weather"], 5);
        Assert.Equal(5.772862f, weights["ny"], 5);
        Assert.Equal(1f, weights["?"]); // not in idf.json
        Assert.DoesNotContain("[CLS]", weights.Keys);
    }

    [Fact]
    public async Task Queries_BiEncoder_WeightsAreClampedTo64()
    {
        // A bi-encoder whose logits reach e^70: log(1 + x) > 64 must come back as 64, the most Lucene accepts.
        string directory = Path.Combine(Path.GetTempPath(), "huge-" + Guid.NewGuid().ToString("N"));
        LookupTableModel.CreateDirectory(directory, Core.Models.SparseModelMode.BiEncoder, seed: 1, scale: 1e30f);
        await using SidecarTestHost huge = await SidecarTestHost.StartAsync($"--NeuralSparse:Models:0:Directory={directory}");
        try
        {
            HttpResponseMessage documents = await huge.PostJsonAsync("/v1/documents", """["hello world"]""");
            HttpResponseMessage queries = await huge.PostJsonAsync("/v1/queries", """["hello world"]""");
            float[] documentWeights = [.. (await Json(documents))[0].EnumerateObject().Select(p => p.Value.GetSingle())];
            float[] queryWeights = [.. (await Json(queries))[0].EnumerateObject().Select(p => p.Value.GetSingle())];

            Assert.Contains(documentWeights, w => w > 64);
            Assert.All(queryWeights, w => Assert.InRange(w, float.Epsilon, 64f));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Tokenize_AndDecode_RoundTrip()
    {
        JsonElement tokens = await OkJsonAsync("/v1/tokenize", """{ "texts": ["Hello, world!"] }""");
        int[] ids = [.. tokens[0].GetProperty("ids").EnumerateArray().Select(e => e.GetInt32())];
        JsonElement decoded = await OkJsonAsync("/v1/decode", JsonSerializer.Serialize(new { ids }));

        Assert.Equal(["[CLS]", "hello", ",", "world", "!", "[SEP]"], tokens[0].GetProperty("tokens").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("hello, world!", decoded[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task Info_ListsModelsWithModes()
    {
        JsonElement info = JsonDocument.Parse(await _host.Client.GetStringAsync(new Uri("/v1/info", UriKind.Relative))).RootElement;

        Assert.True(info.GetProperty("ready").GetBoolean());
        Assert.Equal(["bi-encoder", "doc-only"], info.GetProperty("models").EnumerateArray().Select(m => m.GetProperty("mode").GetString()));
        Assert.All(info.GetProperty("models").EnumerateArray(), m => Assert.True(m.GetProperty("synthetic").GetBoolean()));
    }

    [Fact]
    public async Task Health_LiveAndReady_Answer200()
    {
        Assert.Equal(HttpStatusCode.OK, (await _host.Client.GetAsync(new Uri("/health/live", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _host.Client.GetAsync(new Uri("/health/ready", UriKind.Relative))).StatusCode);
    }

    [Theory]
    [InlineData("/v1/queries", """["hello world"]""", HttpStatusCode.OK)]
    [InlineData("/v1/queries", """{ "texts": 3 }""", HttpStatusCode.BadRequest)]
    public async Task EveryResponse_CarriesTheServicesOwnTime_AsServerTiming(string path, string json, HttpStatusCode status)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        HttpResponseMessage response = await _host.PostJsonAsync(path, json);
        double clientMilliseconds = clock.Elapsed.TotalMilliseconds;

        Assert.Equal(status, response.StatusCode);
        string timing = Assert.Single(response.Headers.GetValues("Server-Timing"));
        Assert.Matches(@"^app;dur=\d+\.\d{3}$", timing);
        double serverMilliseconds = double.Parse(timing["app;dur=".Length..], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(serverMilliseconds, 0.001, clientMilliseconds);
    }

    private async Task<JsonElement> OkJsonAsync(string path, string json)
    {
        HttpResponseMessage response = await _host.PostJsonAsync(path, json);
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return await Json(response);
    }

    private static async Task<JsonElement> Json(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
}
