using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;

namespace NeuralSparse.Client.Transport;

/// <summary>
/// The default transport: HttpClient over a round-robin node pool, with a Polly pipeline: an overall timeout, then
/// retries with jittered exponential back-off on 429/502/503/504 and transport errors (honouring Retry-After), a
/// circuit breaker, and a per-attempt timeout. Each attempt goes to the next live node.
/// </summary>
public sealed class HttpOpenSearchTransport : IOpenSearchTransport, IDisposable
{
    private readonly HttpClient _http;
    private readonly NodePool _nodes;
    private readonly ResiliencePipeline<OpenSearchResponse> _pipeline;
    private readonly AuthenticationHeaderValue? _authorization;

    /// <summary>Creates the transport; <paramref name="handler"/> replaces the network (tests, proxies).</summary>
    public HttpOpenSearchTransport(OpenSearchClientOptions options, HttpMessageHandler? handler = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        time ??= TimeProvider.System;
        handler ??= new SocketsHttpHandler { SslOptions = TlsOptions(options) };
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        _nodes = new NodePool(options.Nodes, options.DeadNodeBackoff, time);
        _authorization = options.ApiKey is not null
            ? new AuthenticationHeaderValue("ApiKey", options.ApiKey)
            : options.Username is not null
                ? new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{options.Username}:{options.Password}")))
                : null;

        var transient = new PredicateBuilder<OpenSearchResponse>()
            .HandleResult(r => r.Status is 429 or 502 or 503 or 504)
            .Handle<HttpRequestException>()
            .Handle<TimeoutRejectedException>();
        var pipeline = new ResiliencePipelineBuilder<OpenSearchResponse> { TimeProvider = time }.AddTimeout(options.OverallTimeout);
        if (options.MaxRetries > 0)
        {
            pipeline.AddRetry(new RetryStrategyOptions<OpenSearchResponse>
            {
                ShouldHandle = transient,
                MaxRetryAttempts = options.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryBaseDelay,

                // The server knows best: a Retry-After overrides the computed back-off (null falls back to it).
                DelayGenerator = args => ValueTask.FromResult(args.Outcome.Result?.RetryAfter),
            });
        }

        _pipeline = pipeline
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions<OpenSearchResponse>
            {
                ShouldHandle = transient,
                FailureRatio = 0.9,
                MinimumThroughput = 20,
                SamplingDuration = TimeSpan.FromSeconds(30),
                BreakDuration = TimeSpan.FromSeconds(5),
            })
            .AddTimeout(options.AttemptTimeout)
            .Build();
    }

    /// <inheritdoc />
    public async Task<OpenSearchResponse> SendAsync(OpenSearchRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        int attempts = 0;
        try
        {
            return await _pipeline.ExecuteAsync(async token =>
            {
                attempts++;
                return await SendOnceAsync(request, token);
            }, cancellationToken);
        }
        catch (Exception ex) when (ex is HttpRequestException or TimeoutRejectedException or BrokenCircuitException)
        {
            throw new OpenSearchException(
                $"{request.Method} {request.Path} got no response after {attempts} attempt(s): {ex.Message}", null, null, null, request.Method.Method, request.Path, ex);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();

    /// <summary>Server certificate validation (the system store, a custom CA, or none) and the client certificate.</summary>
    internal static SslClientAuthenticationOptions TlsOptions(OpenSearchClientOptions options) =>
        TlsFiles.ClientOptions(options.SkipCertificateValidation, options.CertificateAuthorityPath, options.ClientCertificatePath, options.ClientCertificateKeyPath);

    private async Task<OpenSearchResponse> SendOnceAsync(OpenSearchRequest request, CancellationToken cancellationToken)
    {
        Uri node = _nodes.Next();
        using var message = new HttpRequestMessage(request.Method, new Uri(node, request.Path));
        message.Headers.Authorization = _authorization;
        if (request.NdJson is not null)
        {
            message.Content = new StringContent(request.NdJson, Encoding.UTF8, "application/x-ndjson");
        }
        else if (request.Body is not null)
        {
            message.Content = new StringContent(request.Body.ToJsonString(), Encoding.UTF8, "application/json");
        }

        try
        {
            using HttpResponseMessage response = await _http.SendAsync(message, cancellationToken);
            string body = await response.Content.ReadAsStringAsync(cancellationToken);
            int status = (int)response.StatusCode;
            if (status is 502 or 503 or 504)
            {
                _nodes.MarkDead(node);
            }
            else
            {
                _nodes.MarkAlive(node);
            }

            TimeSpan? retryAfter = response.Headers.RetryAfter?.Delta
                ?? (response.Headers.RetryAfter?.Date is { } date ? date - DateTimeOffset.UtcNow : null);
            return new OpenSearchResponse(status, body, node, retryAfter);
        }
        catch (HttpRequestException)
        {
            _nodes.MarkDead(node);
            throw;
        }
    }
}
