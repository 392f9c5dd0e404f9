using System.Net;
using System.Text.Json;
using Google.Protobuf;
using NeuralSparse.Grpc;
using NeuralSparse.Grpc.Health.V1;
using NeuralSparse.Grpc.V1;

namespace NeuralSparse.Sidecar.Tests;

public sealed class GrpcTests : IAsyncLifetime
{
    private const string Encoder = "/neuralsparse.v1.SparseEncoder/";
    private SidecarTestHost _host = null!;

    public async Task InitializeAsync() => _host = await SidecarTestHost.StartAsync(
        "--NeuralSparse:Limits:MaxRequestBytes=4096", "--NeuralSparse:Limits:MaxTextsPerRequest=8");

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task Encode_MatchesTheHttpApi()
    {
        var request = new EncodeRequest { Texts = { "hello world", "", "the weather in ny" }, IncludeTokens = true };

        GrpcTestClient.GrpcResult result = await CallAsync("Encode", request);
        JsonElement http = JsonDocument.Parse(await (await _host.PostJsonAsync("/v1/documents", """["hello world", "", "the weather in ny"]""")).Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(0, result.Status);
        EncodeResponse response = result.Single(EncodeResponse.Parser);
        Assert.Equal("bi", response.Model);
        Assert.Equal(3, response.Vectors.Count);
        for (int i = 0; i < 3; i++)
        {
            var expected = http[i].EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetSingle());
            Assert.Equal(expected, response.Vectors[i].Tokens.Zip(response.Vectors[i].Weights).ToDictionary(p => p.First, p => p.Second));
            Assert.Equal(response.Vectors[i].TokenIds.Order(), response.Vectors[i].TokenIds);
        }
    }

    [Fact]
    public async Task EncodeStream_AnswersEachMessageInOrder()
    {
        byte[] body = [
            .. GrpcTestClient.Frame(new EncodeRequest { Texts = { "hello" } }),
            .. GrpcTestClient.Frame(new EncodeRequest { Model = "doc", Texts = { "ny now", "world" }, Kind = EncodeKind.Query }),
            .. GrpcTestClient.Frame(new EncodeRequest { Texts = { "a", "b", "c" } }),
        ];

        GrpcTestClient.GrpcResult result = await GrpcTestClient.CallAsync(_host.Client, Encoder + "EncodeStream", body);

        Assert.Equal(0, result.Status);
        EncodeResponse[] responses = [.. result.Messages.Select(EncodeResponse.Parser.ParseFrom)];
        Assert.Equal([1, 2, 3], responses.Select(r => r.Vectors.Count));
        Assert.Equal(["bi", "doc", "bi"], responses.Select(r => r.Model));
        Assert.Equal([5.772862f, 3.58955f], responses[1].Vectors[0].Weights); // idf of ny, now
    }

    [Fact]
    public async Task TokenizeAndInfo_Work()
    {
        TokenizeResponse tokens = (await CallAsync("Tokenize", new TokenizeRequest { Texts = { "Hello, world!" } })).Single(TokenizeResponse.Parser);
        InfoResponse info = (await CallAsync("Info", new InfoRequest())).Single(InfoResponse.Parser);

        Assert.Equal(["[CLS]", "hello", ",", "world", "!", "[SEP]"], tokens.Texts[0].Tokens);
        Assert.Equal(["bi", "doc"], info.Models.Select(m => m.Name));
        Assert.Equal("doc-only", info.Models[1].Mode);
    }

    [Fact]
    public async Task HealthCheck_ServingForKnownServices_NotFoundForOthers()
    {
        GrpcTestClient.GrpcResult all = await GrpcTestClient.CallAsync(_host.Client, "/grpc.health.v1.Health/Check", GrpcTestClient.Frame(new HealthCheckRequest()));
        GrpcTestClient.GrpcResult encoder = await GrpcTestClient.CallAsync(_host.Client, "/grpc.health.v1.Health/Check",
            GrpcTestClient.Frame(new HealthCheckRequest { Service = "neuralsparse.v1.SparseEncoder" }));
        GrpcTestClient.GrpcResult other = await GrpcTestClient.CallAsync(_host.Client, "/grpc.health.v1.Health/Check",
            GrpcTestClient.Frame(new HealthCheckRequest { Service = "other.Service" }));

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, all.Single(HealthCheckResponse.Parser).Status);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, encoder.Single(HealthCheckResponse.Parser).Status);
        Assert.Equal((int)GrpcStatusCode.NotFound, other.Status);
    }

    [Fact]
    public async Task HealthWatch_SendsTheCurrentStatusFirst()
    {
        using var cancellation = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/grpc.health.v1.Health/Watch", UriKind.Relative))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(GrpcTestClient.Frame(new HealthCheckRequest())),
        };
        request.Content.Headers.ContentType = new("application/grpc");

        using HttpResponseMessage response = await _host.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellation.Token);
        await using Stream stream = await response.Content.ReadAsStreamAsync(cancellation.Token);
        byte[] frame = new byte[5 + 2];
        await stream.ReadExactlyAsync(frame, cancellation.Token);

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, HealthCheckResponse.Parser.ParseFrom(frame.AsSpan(5)).Status);
    }

    public static TheoryData<string, int, string> ErrorRows() => new()
    {
        { "unknown model", (int)GrpcStatusCode.NotFound, "not served" },
        { "too many texts", (int)GrpcStatusCode.InvalidArgument, "at most 8" },
        { "illegal prune", (int)GrpcStatusCode.InvalidArgument, "Illegal prune_ratio" },
        { "unknown method", (int)GrpcStatusCode.Unimplemented, "does not exist" },
    };

    [Theory]
    [MemberData(nameof(ErrorRows))]
    public async Task BadRequests_GetTheirStatusInTrailers(string row, int status, string message)
    {
        (string method, IMessage request) = row switch
        {
            "unknown model" => ("Encode", new EncodeRequest { Model = "nope", Texts = { "a" } }),
            "too many texts" => ("Encode", new EncodeRequest { Texts = { Enumerable.Repeat("a", 9) } }),
            "illegal prune" => ("Encode", new EncodeRequest { Texts = { "a" }, Prune = new PruneRule { Type = PruneType.TopK, Ratio = 0.5 } }),
            _ => ("Nope", new EncodeRequest()),
        };

        GrpcTestClient.GrpcResult result = await CallAsync(method, request);

        Assert.Equal(HttpStatusCode.OK, result.HttpStatus);
        Assert.Equal(status, result.Status);
        Assert.Contains(message, result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CompressedMessage_IsUnimplemented()
    {
        GrpcTestClient.GrpcResult result = await GrpcTestClient.CallAsync(_host.Client, Encoder + "Encode", GrpcTestClient.Frame(new EncodeRequest { Texts = { "a" } }, flag: 1));

        Assert.Equal((int)GrpcStatusCode.Unimplemented, result.Status);
        Assert.Contains("Compressed", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnsupportedEncodingHeader_IsUnimplemented()
    {
        GrpcTestClient.GrpcResult result = await GrpcTestClient.CallAsync(_host.Client, Encoder + "Encode",
            GrpcTestClient.Frame(new EncodeRequest { Texts = { "a" } }), headers: new Dictionary<string, string> { ["grpc-encoding"] = "gzip" });

        Assert.Equal((int)GrpcStatusCode.Unimplemented, result.Status);
    }

    [Fact]
    public async Task MessageOverTheLimit_IsResourceExhausted()
    {
        var request = new EncodeRequest { Texts = { new string('a', 5000) } };

        GrpcTestClient.GrpcResult result = await CallAsync("Encode", request);

        Assert.Equal((int)GrpcStatusCode.ResourceExhausted, result.Status);
        Assert.Contains("exceeds the limit of 4096 bytes", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TruncatedMessage_IsInternal_NotACrash()
    {
        byte[] frame = GrpcTestClient.Frame(new EncodeRequest { Texts = { "hello world" } });

        GrpcTestClient.GrpcResult result = await GrpcTestClient.CallAsync(_host.Client, Encoder + "Encode", frame[..^3]);

        Assert.Equal((int)GrpcStatusCode.Internal, result.Status);
    }

    [Fact]
    public async Task Http11_Gets426()
    {
        GrpcTestClient.GrpcResult result = await GrpcTestClient.CallAsync(_host.Client, Encoder + "Encode",
            GrpcTestClient.Frame(new EncodeRequest { Texts = { "a" } }), version: HttpVersion.Version11);

        Assert.Equal(HttpStatusCode.UpgradeRequired, result.HttpStatus);
    }

    [Fact]
    public async Task NonAsciiStatusMessage_IsPercentEncoded()
    {
        GrpcTestClient.GrpcResult result = await CallAsync("Encode", new EncodeRequest { Model = "modèle", Texts = { "a" } });

        Assert.Equal((int)GrpcStatusCode.NotFound, result.Status);
        Assert.Contains("modèle", result.Message, StringComparison.Ordinal); // the client unescaped %C3%A8
    }

    private Task<GrpcTestClient.GrpcResult> CallAsync(string method, IMessage request) =>
        GrpcTestClient.CallAsync(_host.Client, Encoder + method, GrpcTestClient.Frame(request));
}

public sealed class GrpcAdmissionTests
{
    [Fact]
    public async Task MissingApiKey_IsUnauthenticated_HealthStaysOpen()
    {
        await using SidecarTestHost host = await SidecarTestHost.StartAsync($"--NeuralSparse:Auth:ApiKeys:0={SidecarTestHost.ApiKey}");
        byte[] encode = GrpcTestClient.Frame(new EncodeRequest { Texts = { "a" } });

        GrpcTestClient.GrpcResult missing = await GrpcTestClient.CallAsync(host.Client, "/neuralsparse.v1.SparseEncoder/Encode", encode);
        GrpcTestClient.GrpcResult right = await GrpcTestClient.CallAsync(host.Client, "/neuralsparse.v1.SparseEncoder/Encode", encode,
            headers: new Dictionary<string, string> { ["authorization"] = "Bearer " + SidecarTestHost.ApiKey });
        GrpcTestClient.GrpcResult health = await GrpcTestClient.CallAsync(host.Client, "/grpc.health.v1.Health/Check", GrpcTestClient.Frame(new HealthCheckRequest()));

        Assert.Equal((int)GrpcStatusCode.Unauthenticated, missing.Status);
        Assert.Equal(0, right.Status);
        Assert.Equal(0, health.Status);
    }

    [Fact]
    public async Task DeadlineShorterThanTheWork_IsDeadlineExceeded()
    {
        await using SidecarTestHost host = await SidecarTestHost.StartAsync("--NeuralSparse:Batching:MaxWaitMilliseconds=1000");

        GrpcTestClient.GrpcResult result = await GrpcTestClient.CallAsync(host.Client, "/neuralsparse.v1.SparseEncoder/Encode",
            GrpcTestClient.Frame(new EncodeRequest { Texts = { "a" } }), headers: new Dictionary<string, string> { ["grpc-timeout"] = "50m" });

        Assert.Equal((int)GrpcStatusCode.DeadlineExceeded, result.Status);
    }

    [Fact]
    public async Task QueueFull_IsResourceExhausted()
    {
        await using SidecarTestHost host = await SidecarTestHost.StartAsync(
            "--NeuralSparse:Batching:QueueCapacity=2", "--NeuralSparse:Limits:MaxTextsPerRequest=2", "--NeuralSparse:Batching:MaxWaitMilliseconds=300");
        byte[] encode = GrpcTestClient.Frame(new EncodeRequest { Texts = { "hello", "world" } });

        GrpcTestClient.GrpcResult[] results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ =>
            GrpcTestClient.CallAsync(host.Client, "/neuralsparse.v1.SparseEncoder/Encode", encode)));

        Assert.All(results, r => Assert.Contains(r.Status, new int?[] { 0, (int)GrpcStatusCode.ResourceExhausted }));
        Assert.Contains(results, r => r.Status == (int)GrpcStatusCode.ResourceExhausted);
        Assert.Contains(results, r => r.Status == 0);
    }

    [Theory]
    [InlineData("10S", 10_000)]
    [InlineData("250m", 250)]
    [InlineData("2M", 120_000)]
    [InlineData("1H", 3_600_000)]
    [InlineData("5000u", 5)]
    [InlineData("7000000n", 7)]
    public void ParseTimeout_AllUnits(string header, double milliseconds) =>
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), GrpcFraming.ParseTimeout(header));

    [Theory]
    [InlineData("")]
    [InlineData("10")]
    [InlineData("10x")]
    [InlineData("123456789S")]
    [InlineData("-5S")]
    public void ParseTimeout_Malformed_IsIgnored(string header) => Assert.Null(GrpcFraming.ParseTimeout(header));
}
