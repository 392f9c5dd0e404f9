using System.Net;
using System.Text;
using System.Text.Json;

namespace NeuralSparse.Sidecar.Tests;

/// <summary>Every bad-input row gets its 4xx status and a ProblemDetails body naming the problem; never a 500.</summary>
public sealed class HttpErrorTests : IAsyncLifetime
{
    private SidecarTestHost _host = null!;

    public async Task InitializeAsync() => _host = await SidecarTestHost.StartAsync(
        "--NeuralSparse:Limits:MaxTextsPerRequest=4", "--NeuralSparse:Limits:MaxCharactersPerText=50", "--NeuralSparse:Limits:MaxRequestBytes=2048");

    public async Task DisposeAsync() => await _host.DisposeAsync();

    public static TheoryData<string, string, int, string, string> Rows() => new()
    {
        { "invalid JSON", "[\"a\", ", 400, "validation", "not valid JSON" },
        { "number in the array", "[\"a\", 3]", 400, "validation", "texts[1] must be a string; got a number" },
        { "null in the array", "[\"a\", null]", 400, "validation", "texts[1] must be a string; got null" },
        { "a bare string body", "\"hello\"", 400, "validation", "JSON array of strings" },
        { "object without texts", "{\"input\": [\"a\"]}", 400, "validation", "\"texts\"" },
        { "texts of wrong type", "{\"texts\": 5}", 400, "validation", "\"texts\" must be an array of strings; got a number" },
        { "empty list", "[]", 400, "validation", "empty" },
        { "too many texts", "[\"a\",\"b\",\"c\",\"d\",\"e\"]", 400, "validation", "at most 4" },
        { "text over the character limit", "[\"ok\", \"" + new string('x', 51) + "\"]", 400, "validation", "texts[1] has 51 characters" },
        { "unknown embedding format", "{\"texts\": [\"a\"], \"sparse_embedding_format\": \"dense\"}", 400, "validation", "\"WORD\" or \"TOKEN_ID\"" },
        { "illegal prune ratio", "{\"texts\": [\"a\"], \"prune_type\": \"max_ratio\", \"prune_ratio\": 1.5}", 400, "validation", "Illegal prune_ratio 1.500000 for prune_type: max_ratio" },
        { "unknown prune type", "{\"texts\": [\"a\"], \"prune_type\": \"max\", \"prune_ratio\": 0.5}", 400, "validation", "Unknown prune type: max" },
        { "ratio without type", "{\"texts\": [\"a\"], \"prune_ratio\": 0.5}", 400, "validation", "prune_ratio field is not supported" },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public async Task BadBody_GetsProblemDetails(string row, string body, int status, string errorType, string detail)
    {
        HttpResponseMessage response = await _host.PostJsonAsync("/v1/documents", body);

        await AssertProblemAsync(response, status, errorType, detail, row);
    }

    [Fact]
    public async Task InvalidUtf8_Is400NamingTheText()
    {
        var content = new ByteArrayContent([(byte)'[', (byte)'"', 0xFF, 0xFE, (byte)'"', (byte)']']);
        content.Headers.ContentType = new("application/json");

        HttpResponseMessage response = await _host.Client.PostAsync(new Uri("/v1/documents", UriKind.Relative), content);

        await AssertProblemAsync(response, 400, "validation", "texts[0] is not valid UTF-8");
    }

    [Fact]
    public async Task WrongContentType_Is415()
    {
        HttpResponseMessage response = await _host.PostJsonAsync("/v1/documents", "[\"a\"]", contentType: "text/plain");

        await AssertProblemAsync(response, 415, "unsupported_media_type", "application/json");
    }

    [Fact]
    public async Task BodyOverTheLimit_Is413()
    {
        string body = "[" + string.Join(',', Enumerable.Repeat("\"" + new string('a', 40) + "\"", 60)) + "]";

        HttpResponseMessage response = await _host.PostJsonAsync("/v1/documents", body);

        await AssertProblemAsync(response, 413, "payload_too_large", "2048");
    }

    [Fact]
    public async Task UnknownModel_Is404ListingServedModels()
    {
        HttpResponseMessage response = await _host.PostJsonAsync("/v1/models/nope/documents", "[\"a\"]");

        await AssertProblemAsync(response, 404, "model_not_found", "Served models: bi, doc");
    }

    [Fact]
    public async Task UnknownRoute_Is404()
    {
        HttpResponseMessage response = await _host.PostJsonAsync("/v1/nothing", "[\"a\"]");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Decode_IdOutsideVocabulary_Is400()
    {
        HttpResponseMessage response = await _host.PostJsonAsync("/v1/decode", "{\"ids\": [5, 999999]}");

        await AssertProblemAsync(response, 400, "validation", "ids[1] must be an integer");
    }

    internal static async Task AssertProblemAsync(HttpResponseMessage response, int status, string errorType, string detail, string? row = null)
    {
        string text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"{row}: expected {status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        JsonElement problem = JsonDocument.Parse(text).RootElement;
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        Assert.Equal(errorType, problem.GetProperty("errorType").GetString());
        Assert.Equal("urn:neural-sparse:error:" + errorType, problem.GetProperty("type").GetString());
        Assert.Contains(detail, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }
}

/// <summary>Rows that need their own service settings: auth, overload, deadline.</summary>
public sealed class HttpAdmissionTests
{
    [Fact]
    public async Task ApiKey_MissingOrWrong_Is401_RightKeyPasses_HealthStaysOpen()
    {
        await using SidecarTestHost host = await SidecarTestHost.StartAsync($"--NeuralSparse:Auth:ApiKeys:0={SidecarTestHost.ApiKey}");

        HttpResponseMessage missing = await host.PostJsonAsync("/v1/documents", "[\"a\"]");
        HttpResponseMessage wrong = await host.PostJsonAsync("/v1/documents", "[\"a\"]", apiKey: "wrong-key-0123456789abcdef");
        HttpResponseMessage right = await host.PostJsonAsync("/v1/documents", "[\"a\"]", apiKey: SidecarTestHost.ApiKey);
        var headerRequest = new HttpRequestMessage(HttpMethod.Post, new Uri("/v1/documents", UriKind.Relative)) { Content = new StringContent("[\"a\"]", Encoding.UTF8, "application/json") };
        headerRequest.Headers.Add("X-Api-Key", SidecarTestHost.ApiKey);
        HttpResponseMessage viaHeader = await host.Client.SendAsync(headerRequest);

        await HttpErrorTests.AssertProblemAsync(missing, 401, "unauthenticated", "Authorization: Bearer");
        Assert.Equal("Bearer", missing.Headers.WwwAuthenticate.Single().Scheme);
        await HttpErrorTests.AssertProblemAsync(wrong, 401, "unauthenticated", "API key");
        Assert.Equal(HttpStatusCode.OK, right.StatusCode);
        Assert.Equal(HttpStatusCode.OK, viaHeader.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await host.Client.GetAsync(new Uri("/health/ready", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task ApiKeys_FromTheCommaSeparatedVariable_AllWork()
    {
        // The Helm chart passes its Secret as NEURAL_SPARSE_API_KEYS="key1,key2".
        const string second = "second-key-0123456789abcdef";
        await using SidecarTestHost host = await SidecarTestHost.StartAsync($"--{SidecarApp.ApiKeysVariable}={SidecarTestHost.ApiKey}, {second}");

        Assert.Equal(HttpStatusCode.OK, (await host.PostJsonAsync("/v1/documents", "[\"a\"]", apiKey: SidecarTestHost.ApiKey)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await host.PostJsonAsync("/v1/documents", "[\"a\"]", apiKey: second)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await host.PostJsonAsync("/v1/documents", "[\"a\"]")).StatusCode);
    }

    [Fact]
    public async Task QueueFull_Is429WithRetryAfterAndThrottlingHeader_EveryRequestAnswered()
    {
        // Capacity 2 and a 300 ms gathering window: the first request holds the queue while the rest arrive.
        await using SidecarTestHost host = await SidecarTestHost.StartAsync(
            "--NeuralSparse:Batching:QueueCapacity=2", "--NeuralSparse:Limits:MaxTextsPerRequest=2", "--NeuralSparse:Batching:MaxWaitMilliseconds=300");

        HttpResponseMessage[] responses = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => host.PostJsonAsync("/v1/documents", "[\"hello\", \"world\"]")));

        Assert.All(responses, r => Assert.Contains(r.StatusCode, new[] { HttpStatusCode.OK, HttpStatusCode.TooManyRequests }));
        Assert.Contains(responses, r => r.StatusCode == HttpStatusCode.OK);
        HttpResponseMessage throttled = Assert.IsType<HttpResponseMessage>(responses.FirstOrDefault(r => r.StatusCode == HttpStatusCode.TooManyRequests), exactMatch: false);
        Assert.Equal(TimeSpan.FromSeconds(1), throttled.Headers.RetryAfter?.Delta);
        Assert.Equal("ThrottlingException", throttled.Headers.GetValues("x-amzn-ErrorType").Single());
        await HttpErrorTests.AssertProblemAsync(throttled, 429, "overloaded", "retry later");
    }

    [Fact]
    public async Task RequestTimeout_Is503DeadlineExceededWithRetryAfter()
    {
        await using SidecarTestHost host = await SidecarTestHost.StartAsync(
            "--NeuralSparse:Limits:RequestTimeoutSeconds=0.05", "--NeuralSparse:Batching:MaxWaitMilliseconds=1000");

        HttpResponseMessage response = await host.PostJsonAsync("/v1/documents", "[\"hello\"]");

        await HttpErrorTests.AssertProblemAsync(response, 503, "deadline_exceeded", "RequestTimeoutSeconds");
        Assert.NotNull(response.Headers.RetryAfter);
    }
}
