using System.Text.Json;
using NeuralSparse.Grpc.V1;

namespace NeuralSparse.Sidecar.Tests;

/// <summary>
/// The blank-text rule over both protocols: empty, whitespace-only and nothing-but-removed-characters texts are empty
/// vectors, as documents and queries, for the bi-encoder and the doc-only model; count and order are kept.
/// </summary>
public sealed class BlankTextRouteTests : IAsyncLifetime
{
    private static readonly string[] Blank = ["", " ", "\t\n", "\u3000\u00A0", "\u200B\u0000"];
    private SidecarTestHost _host = null!;

    public async Task InitializeAsync() => _host = await SidecarTestHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Theory]
    [InlineData("/v1/models/bi/documents")]
    [InlineData("/v1/models/bi/queries")]
    [InlineData("/v1/models/doc/documents")]
    [InlineData("/v1/models/doc/queries")]
    public async Task Http_BlankTexts_AreEmptyMaps(string route)
    {
        HttpResponseMessage response = await _host.PostJsonAsync(route, JsonSerializer.Serialize<string[]>([.. Blank, "hello world"]));
        JsonElement body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Blank.Length + 1, body.GetArrayLength());
        Assert.All(body.EnumerateArray().Take(Blank.Length), vector => Assert.Empty(vector.EnumerateObject()));
        Assert.NotEmpty(body[Blank.Length].EnumerateObject());
    }

    [Theory]
    [InlineData("bi", false)]
    [InlineData("bi", true)]
    [InlineData("doc", false)]
    [InlineData("doc", true)]
    public async Task Grpc_BlankTexts_AreEmptyVectors(string model, bool query)
    {
        var request = new EncodeRequest { Model = model, Kind = query ? EncodeKind.Query : EncodeKind.Document, Texts = { Blank }, IncludeTokens = true };
        request.Texts.Add("hello world");

        GrpcTestClient.GrpcResult result = await GrpcTestClient.CallAsync(
            _host.Client, "/neuralsparse.v1.SparseEncoder/Encode", GrpcTestClient.Frame(request));

        Assert.Equal(0, result.Status);
        EncodeResponse response = result.Single(EncodeResponse.Parser);
        Assert.Equal(Blank.Length + 1, response.Vectors.Count);
        Assert.All(response.Vectors.Take(Blank.Length), vector => Assert.Empty(vector.TokenIds));
        Assert.NotEmpty(response.Vectors[^1].TokenIds);
    }
}
