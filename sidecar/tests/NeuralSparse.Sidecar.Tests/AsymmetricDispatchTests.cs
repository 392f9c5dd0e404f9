using System.Net;
using System.Text.Json;

namespace NeuralSparse.Sidecar.Tests;

/// <summary>
/// The body neural-search 3.5+ sends for an asymmetric remote model (<c>NeuralSearchMLInputBuilder.createAsymmetricRemoteInput</c>):
/// <c>{"texts": [...], "content_type": "query"|"passage"}</c> on one URL. Passages go through the model; queries take the
/// model's query path, which for a doc-only model is the idf table.
/// </summary>
public sealed class AsymmetricDispatchTests : IAsyncLifetime
{
    private SidecarTestHost _host = null!;

    public async Task InitializeAsync() => _host = await SidecarTestHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Theory]
    [InlineData("doc", "query", "queries")]
    [InlineData("doc", "passage", "documents")]
    [InlineData("bi", "query", "queries")]
    [InlineData("bi", "passage", "documents")]
    public async Task Encode_DispatchesOnContentType(string model, string contentType, string sameAs)
    {
        const string Texts = """["What's the weather in ny now?", "hello world"]""";

        string dispatched = await OkAsync($"/v1/models/{model}/encode", $$"""{ "texts": {{Texts}}, "content_type": "{{contentType}}" }""");
        string direct = await OkAsync($"/v1/models/{model}/{sameAs}", Texts);

        Assert.Equal(direct, dispatched);
    }

    [Fact]
    public async Task Encode_DocOnlyQuery_IsTheIdfPath_NotTheModel()
    {
        string query = await OkAsync("/v1/models/doc/encode", """{ "texts": ["hello world"], "content_type": "query" }""");
        string passage = await OkAsync("/v1/models/doc/encode", """{ "texts": ["hello world"], "content_type": "passage" }""");

        Assert.NotEqual(query, passage);
    }

    [Theory]
    [InlineData("/v1/models/doc/encode", """["hello"]""", "send {\"texts\": [...], \"content_type\"")]
    [InlineData("/v1/models/doc/encode", """{ "texts": ["hello"] }""", "send {\"texts\": [...], \"content_type\"")]
    [InlineData("/v1/models/doc/encode", """{ "texts": ["hello"], "content_type": "document" }""", "\"content_type\" must be \"query\" or \"passage\"; got 'document'")]
    [InlineData("/v1/models/doc/encode", """{ "texts": ["hello"], "content_type": 1 }""", "\"content_type\" must be \"query\" or \"passage\"; got a number")]
    [InlineData("/v1/models/doc/documents", """{ "texts": ["hello"], "content_type": "query" }""", "asks for a query encoding on a /documents route")]
    public async Task Encode_WithoutOrWithAWrongContentType_Is400NamingIt(string path, string body, string detail)
    {
        HttpResponseMessage response = await _host.PostJsonAsync(path, body);

        await HttpErrorTests.AssertProblemAsync(response, 400, "validation", detail);
    }

    [Fact]
    public async Task Documents_WithAMatchingContentType_IsAccepted()
    {
        Assert.Equal(
            await OkAsync("/v1/models/doc/documents", """["hello"]"""),
            await OkAsync("/v1/models/doc/documents", """{ "texts": ["hello"], "content_type": "passage" }"""));
    }

    private async Task<string> OkAsync(string path, string json)
    {
        HttpResponseMessage response = await _host.PostJsonAsync(path, json);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return JsonDocument.Parse(text).RootElement.GetRawText();
    }
}
