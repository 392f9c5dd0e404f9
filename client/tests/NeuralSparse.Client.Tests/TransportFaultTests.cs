using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using NeuralSparse.Client.Transport;

namespace NeuralSparse.Client.Tests;

/// <summary>Retries, fail-over and errors through the transport seam, with no server.</summary>
public sealed class TransportFaultTests
{
    private static readonly Uri NodeA = new("http://node-a:9200");
    private static readonly Uri NodeB = new("http://node-b:9200");
    private static readonly OpenSearchRequest Ping = new(HttpMethod.Get, "/");

    [Fact]
    public async Task TooManyRequestsStorm_IsRetriedUntilItPasses()
    {
        var handler = new ScriptedHandler((_, attempt) => attempt < 4 ? Status(429, retryAfterSeconds: 0) : Status(200));
        using var transport = Transport(handler, maxRetries: 5);

        OpenSearchResponse response = await transport.SendAsync(Ping, CancellationToken.None);

        Assert.Equal(200, response.Status);
        Assert.Equal(5, handler.Calls.Count);
    }

    [Fact]
    public async Task RetryAfter_OverridesTheComputedBackoff()
    {
        // A ten-minute base delay would outlast the overall timeout; Retry-After: 0 must win, or the call fails.
        var handler = new ScriptedHandler((_, attempt) => attempt == 0 ? Status(503, retryAfterSeconds: 0) : Status(200));
        using var transport = Transport(handler, maxRetries: 2, baseDelay: TimeSpan.FromMinutes(10), overall: TimeSpan.FromSeconds(30));

        Assert.Equal(200, (await transport.SendAsync(Ping, CancellationToken.None)).Status);
    }

    [Fact]
    public async Task ServiceUnavailableNode_FailsOverAndIsSkippedAfterwards()
    {
        var handler = new ScriptedHandler((request, _) => request.RequestUri!.Host == "node-a" ? Status(503, retryAfterSeconds: 0) : Status(200));
        using var transport = Transport(handler, maxRetries: 2);

        Assert.Equal(200, (await transport.SendAsync(Ping, CancellationToken.None)).Status);
        Assert.Equal(200, (await transport.SendAsync(Ping, CancellationToken.None)).Status);

        Assert.Equal(["node-a", "node-b", "node-b"], handler.Calls.Select(c => c.Host));
    }

    [Fact]
    public async Task NodeDown_ConnectionErrorsFailOverToTheOtherNode()
    {
        var handler = new ScriptedHandler((request, _) => request.RequestUri!.Host == "node-a"
            ? throw new HttpRequestException("Connection refused")
            : Status(200));
        using var transport = Transport(handler, maxRetries: 2);

        Assert.Equal(NodeB, (await transport.SendAsync(Ping, CancellationToken.None)).Node);
    }

    [Fact]
    public async Task SlowAttempt_TimesOutAndIsRetried()
    {
        var handler = new ScriptedHandler(async (_, attempt, token) =>
        {
            if (attempt == 0)
            {
                await Task.Delay(TimeSpan.FromSeconds(30), token);
            }

            return Status(200);
        });
        using var transport = Transport(handler, maxRetries: 2, attempt: TimeSpan.FromMilliseconds(200));

        Assert.Equal(200, (await transport.SendAsync(Ping, CancellationToken.None)).Status);
        Assert.Equal(2, handler.Calls.Count);
    }

    [Fact]
    public async Task EveryAttemptFailing_ReportsTheRequestAndNoStatus()
    {
        var handler = new ScriptedHandler((_, _) => throw new HttpRequestException("Connection refused"));
        using var transport = Transport(handler, maxRetries: 2);

        var error = await Assert.ThrowsAsync<OpenSearchException>(() => transport.SendAsync(new OpenSearchRequest(HttpMethod.Post, "/idx/_search"), CancellationToken.None));

        Assert.Null(error.Status);
        Assert.Equal("/idx/_search", error.Path);
        Assert.Contains("after 3 attempt(s)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClientError_IsNotRetried_AndCarriesOpenSearchsTypeAndReason()
    {
        var handler = new ScriptedHandler((_, _) => Status(400, """{"error":{"type":"illegal_argument_exception","reason":"weight must be in (0, 64.0], got: 70.0"},"status":400}"""));
        using var transport = Transport(handler, maxRetries: 3);
        var client = new NeuralSparseSearchClient(transport);

        var error = await Assert.ThrowsAsync<OpenSearchException>(() => client.SendAsync(new OpenSearchRequest(HttpMethod.Post, "/idx/_search", new JsonObject())));

        Assert.Single(handler.Calls);
        Assert.Equal(400, error.Status);
        Assert.Equal("illegal_argument_exception", error.ErrorType);
        Assert.Equal("weight must be in (0, 64.0], got: 70.0", error.Reason);
        Assert.Equal("POST", error.Method);
    }

    [Fact]
    public async Task ApiKeyAndBasicAuth_AreSent()
    {
        var handler = new ScriptedHandler((_, _) => Status(200));
        using (var apiKey = new HttpOpenSearchTransport(new OpenSearchClientOptions { Nodes = [NodeA], ApiKey = "k" }, handler))
        {
            await apiKey.SendAsync(Ping, CancellationToken.None);
        }

        using (var basic = new HttpOpenSearchTransport(new OpenSearchClientOptions { Nodes = [NodeA], Username = "u", Password = "p" }, handler))
        {
            await basic.SendAsync(Ping, CancellationToken.None);
        }

        Assert.Equal("ApiKey k", handler.Calls[0].Authorization);
        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("u:p")), handler.Calls[1].Authorization);
    }

    [Fact]
    public async Task Cancellation_StopsTheCall()
    {
        var handler = new ScriptedHandler(async (_, _, token) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(30), token);
            return Status(200);
        });
        using var transport = Transport(handler, maxRetries: 3);
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => transport.SendAsync(Ping, cancellation.Token));
    }

    [Theory]
    [InlineData("no nodes")]
    [InlineData("api key and basic")]
    [InlineData("user without password")]
    public void Options_Misconfiguration_IsRefusedUpFront(string row)
    {
        OpenSearchClientOptions options = row switch
        {
            "no nodes" => new OpenSearchClientOptions(),
            "api key and basic" => new OpenSearchClientOptions { Nodes = [NodeA], ApiKey = "k", Username = "u", Password = "p" },
            _ => new OpenSearchClientOptions { Nodes = [NodeA], Username = "u" },
        };

        Assert.Throws<ArgumentException>(options.Validate);
    }

    private static HttpOpenSearchTransport Transport(ScriptedHandler handler, int maxRetries, TimeSpan? baseDelay = null, TimeSpan? attempt = null, TimeSpan? overall = null) =>
        new(new OpenSearchClientOptions
        {
            Nodes = [NodeA, NodeB],
            MaxRetries = maxRetries,
            RetryBaseDelay = baseDelay ?? TimeSpan.FromMilliseconds(1),
            AttemptTimeout = attempt ?? TimeSpan.FromSeconds(10),
            OverallTimeout = overall ?? TimeSpan.FromSeconds(30),
            DeadNodeBackoff = TimeSpan.FromMinutes(1),
        }, handler);

    private static HttpResponseMessage Status(int status, string body = "{}", int? retryAfterSeconds = null)
    {
        var response = new HttpResponseMessage((HttpStatusCode)status) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (retryAfterSeconds is { } seconds)
        {
            response.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.FromSeconds(seconds));
        }

        return response;
    }

    /// <summary>An HttpMessageHandler that answers from a script and records every call.</summary>
    private sealed class ScriptedHandler(Func<HttpRequestMessage, int, CancellationToken, Task<HttpResponseMessage>> script) : HttpMessageHandler
    {
        public ScriptedHandler(Func<HttpRequestMessage, int, HttpResponseMessage> script)
            : this((request, attempt, _) => Task.FromResult(script(request, attempt)))
        {
        }

        public List<(string Host, string? Authorization)> Calls { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            int attempt;
            lock (Calls)
            {
                attempt = Calls.Count;
                Calls.Add((request.RequestUri!.Host, request.Headers.Authorization?.ToString()));
            }

            return script(request, attempt, cancellationToken);
        }
    }
}
