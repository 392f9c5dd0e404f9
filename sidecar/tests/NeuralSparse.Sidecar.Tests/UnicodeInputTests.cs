using System.Net;
using System.Text.Json;
using NeuralSparse.Core.Errors;
using NeuralSparse.Grpc.V1;
using NeuralSparse.Sidecar.Configuration;
using NeuralSparse.Sidecar.Http;

namespace NeuralSparse.Sidecar.Tests;

/// <summary>
/// Text that is not valid Unicode is refused on every protocol, naming where it is: an unpaired surrogate escape or
/// bytes that are not UTF-8 in a JSON string get a 400 naming the text's index (never a 500), and a protobuf string
/// that is not UTF-8 gets INVALID_ARGUMENT (Google.Protobuf refuses it when parsing).
/// </summary>
public sealed class UnicodeInputTests : IAsyncLifetime
{
    private const string Encoder = "/neuralsparse.v1.SparseEncoder/";
    private SidecarTestHost _host = null!;

    public async Task InitializeAsync() => _host = await SidecarTestHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    public static TheoryData<string, string> SurrogateEscapes() => new()
    {
        { """["\ud800"]""", "texts[0]" },
        { """["ok", "a\udc00b"]""", "texts[1]" },
        { """["ok", "ok", "\ud800\u0041"]""", "texts[2]" },
        { """{"texts": ["\udc00\ud800"]}""", "texts[0]" },
        { """{"texts": ["a"], "sparse_embedding_format": "WORD\ud800"}""", "\"sparse_embedding_format\"" },
        { """{"texts": ["a"], "prune_type": "\udfff"}""", "\"prune_type\"" },
    };

    [Theory]
    [MemberData(nameof(SurrogateEscapes))]
    public void Parse_UnpairedSurrogateEscape_IsRefusedNamingTheField(string json, string field)
    {
        using JsonDocument body = JsonDocument.Parse(json);

        var error = Assert.Throws<NeuralSparseException>(() => EncodeRequestParser.Parse(body.RootElement, new LimitsOptions()));

        Assert.Equal(NeuralSparseErrorKind.Validation, error.Kind);
        Assert.StartsWith(field + " is not valid UTF-8 text", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SurrogatePairEscape_IsOneCharacter()
    {
        using JsonDocument body = JsonDocument.Parse("""["\ud83d\ude00 ok"]""");

        Assert.Equal(["\U0001F600 ok"], EncodeRequestParser.Parse(body.RootElement, new LimitsOptions()).Texts);
    }

    [Theory]
    [InlineData("/v1/documents")]
    [InlineData("/v1/queries")]
    [InlineData("/v1/models/doc/documents")]
    [InlineData("/v1/models/doc/queries")]
    [InlineData("/v1/tokenize")]
    public async Task Route_UnpairedSurrogateEscape_Is400NamingTheText(string route)
    {
        HttpResponseMessage response = await _host.PostJsonAsync(route, """["hello", "a\udc00b"]""");

        await AssertValidationAsync(response, "texts[1] is not valid UTF-8 text");
    }

    [Theory]
    [InlineData("/v1/documents")]
    [InlineData("/v1/queries")]
    [InlineData("/v1/tokenize")]
    public async Task Route_BytesThatAreNotUtf8_Are400NamingTheText(string route)
    {
        // ED A0 80 is a surrogate half encoded as if it were a character (CESU-8), what a careless UTF-16 encoder writes.
        var content = new ByteArrayContent([.. "[\"ok\", \"hel"u8, 0xED, 0xA0, 0x80, .. "lo\"]"u8]);
        content.Headers.ContentType = new("application/json");

        HttpResponseMessage response = await _host.Client.PostAsync(new Uri(route, UriKind.Relative), content);

        await AssertValidationAsync(response, "texts[1] is not valid UTF-8 text");
    }

    [Fact]
    public async Task GrpcEncode_StringThatIsNotUtf8_IsInvalidArgument()
    {
        byte[] text = [.. "a"u8, 0xED, 0xA0, 0x80, .. "b hello"u8, 0xFF];
        byte[] request = [0x12, (byte)text.Length, .. text]; // EncodeRequest: texts = <bytes>

        GrpcTestClient.GrpcResult result = await GrpcTestClient.CallAsync(_host.Client, Encoder + "Encode", RawFrame(request));

        Assert.Equal(3, result.Status); // INVALID_ARGUMENT
        Assert.Contains("UTF-8", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GrpcTokenize_StringThatIsNotUtf8_IsInvalidArgument()
    {
        byte[] text = [.. "hel"u8, 0xC3, .. "lo"u8];
        byte[] request = [0x12, (byte)text.Length, .. text]; // TokenizeRequest: texts = <bytes>

        GrpcTestClient.GrpcResult result = await GrpcTestClient.CallAsync(_host.Client, Encoder + "Tokenize", RawFrame(request));

        Assert.Equal(3, result.Status);
        Assert.Contains("UTF-8", result.Message, StringComparison.Ordinal);
    }

    /// <summary>A gRPC frame around message bytes written by hand, so they reach the server exactly as they are.</summary>
    private static byte[] RawFrame(byte[] message) => [0, 0, 0, 0, (byte)message.Length, .. message];

    private static async Task AssertValidationAsync(HttpResponseMessage response, string detail)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode}: {body}");
        Assert.Contains(detail, JsonDocument.Parse(body).RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }
}
