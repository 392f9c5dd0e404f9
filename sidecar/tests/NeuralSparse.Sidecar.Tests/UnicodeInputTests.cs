using System.Text;
using System.Text.Json;
using NeuralSparse.Grpc.V1;
using NeuralSparse.Sidecar.Configuration;
using NeuralSparse.Sidecar.Http;

namespace NeuralSparse.Sidecar.Tests;

/// <summary>
/// Text that is not valid Unicode (unpaired surrogate escapes in JSON, invalid UTF-8 in JSON or protobuf) becomes
/// U+FFFD per bad unit on every protocol, which the tokenizer drops: never a 500, and the same answer as the text
/// without the bad units.
/// </summary>
public sealed class UnicodeInputTests : IAsyncLifetime
{
    private const string Encoder = "/neuralsparse.v1.SparseEncoder/";
    private SidecarTestHost _host = null!;

    public async Task InitializeAsync() => _host = await SidecarTestHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    public static TheoryData<string, string> SurrogateEscapes() => new()
    {
        { """["\ud800"]""", "\uFFFD" },
        { """["a\udc00b"]""", "a\uFFFDb" },
        { """["\ud800\u0041"]""", "\uFFFDA" },
        { """["\ud800\ud800\udc00"]""", "\uFFFD\U00010000" },
        { """["\udc00\ud800"]""", "\uFFFD\uFFFD" },
        { """["tab\t\ud800 \"q\" \/ \\ \n"]""", "tab\t\uFFFD \"q\" / \\ \n" },
        { """["\ud83d\ude00 ok"]""", "\U0001F600 ok" },
    };

    [Theory]
    [MemberData(nameof(SurrogateEscapes))]
    public void Parse_UnpairedSurrogateEscape_BecomesReplacementCharacter(string json, string expected)
    {
        using JsonDocument body = JsonDocument.Parse(json);

        Assert.Equal([expected], EncodeRequestParser.Parse(body.RootElement, new LimitsOptions()).Texts);
    }

    [Fact]
    public void Parse_InvalidUtf8Bytes_BecomeReplacementCharacters()
    {
        // 0xFF is never UTF-8; ED A0 80 is a surrogate encoded as UTF-8 (CESU-8), invalid too: one U+FFFD per byte.
        byte[] json = [.. "[\"a"u8, 0xFF, .. "b\\u00e9"u8, 0xED, 0xA0, 0x80, .. "\", \"ok\"]"u8];
        using JsonDocument body = JsonDocument.Parse(json);

        Assert.Equal(["a\uFFFDb\u00E9\uFFFD\uFFFD\uFFFD", "ok"], EncodeRequestParser.Parse(body.RootElement, new LimitsOptions()).Texts);
    }

    [Fact]
    public void Parse_SurrogateEscapeInFormat_IsAValidationError()
    {
        using JsonDocument body = JsonDocument.Parse("""{"texts": ["a"], "sparse_embedding_format": "WORD\ud800"}""");

        var error = Assert.Throws<NeuralSparse.Core.Errors.NeuralSparseException>(() => EncodeRequestParser.Parse(body.RootElement, new LimitsOptions()));
        Assert.Contains("\"WORD\" or \"TOKEN_ID\"", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/v1/documents")]
    [InlineData("/v1/queries")]
    [InlineData("/v1/models/doc/documents")]
    [InlineData("/v1/models/doc/queries")]
    [InlineData("/v1/tokenize")]
    public async Task Route_UnpairedSurrogateEscapes_AnswerAsWithoutThem(string route)
    {
        string clean = await PostOkAsync(route, """["", "ab", "hello world"]""");
        string escaped = await PostOkAsync(route, """["\ud800", "a\udc00b", "hello\ud83d world\udfff"]""");

        Assert.Equal(clean, escaped);
    }

    [Theory]
    [InlineData("/v1/documents")]
    [InlineData("/v1/queries")]
    [InlineData("/v1/tokenize")]
    public async Task Route_InvalidUtf8_AnswersAsWithoutIt(string route)
    {
        var content = new ByteArrayContent([.. "[\"hel"u8, 0xFF, 0xFE, .. "lo\"]"u8]);
        content.Headers.ContentType = new("application/json");

        HttpResponseMessage response = await _host.Client.PostAsync(new Uri(route, UriKind.Relative), content);

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(await PostOkAsync(route, """["hello"]"""), await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task GrpcEncode_InvalidUtf8InATextField_AnswersAsWithoutIt()
    {
        // A surrogate half encoded as UTF-8 (ED A0 80), as a careless encoder of UTF-16 writes it, then a stray 0xFF.
        byte[] text = [.. "a"u8, 0xED, 0xA0, 0x80, .. "b hello"u8, 0xFF];
        byte[] request = [0x12, (byte)text.Length, .. text, 0x28, 0x01]; // EncodeRequest: texts = <bytes>; include_tokens = true

        GrpcTestClient.GrpcResult bad = await GrpcTestClient.CallAsync(_host.Client, Encoder + "Encode", RawFrame(request));
        GrpcTestClient.GrpcResult clean = await GrpcTestClient.CallAsync(_host.Client, Encoder + "Encode",
            GrpcTestClient.Frame(new EncodeRequest { Texts = { "ab hello" }, IncludeTokens = true }));

        Assert.Equal(0, bad.Status);
        Assert.Equal(clean.Single(EncodeResponse.Parser), bad.Single(EncodeResponse.Parser));
    }

    [Fact]
    public async Task GrpcTokenize_InvalidUtf8InATextField_AnswersAsWithoutIt()
    {
        byte[] text = [.. "hel"u8, 0xC3, .. "lo"u8];
        byte[] request = [0x12, (byte)text.Length, .. text]; // TokenizeRequest: texts = <bytes>

        GrpcTestClient.GrpcResult result = await GrpcTestClient.CallAsync(_host.Client, Encoder + "Tokenize", RawFrame(request));

        Assert.Equal(0, result.Status);
        Assert.Equal(["[CLS]", "hello", "[SEP]"], result.Single(TokenizeResponse.Parser).Texts[0].Tokens);
    }

    /// <summary>A gRPC frame around message bytes written by hand, so they reach the server exactly as they are.</summary>
    private static byte[] RawFrame(byte[] message) => [0, 0, 0, 0, (byte)message.Length, .. message];

    private async Task<string> PostOkAsync(string route, string json)
    {
        HttpResponseMessage response = await _host.PostJsonAsync(route, json);
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{route} answered {(int)response.StatusCode}: {body}");
        return body;
    }
}
