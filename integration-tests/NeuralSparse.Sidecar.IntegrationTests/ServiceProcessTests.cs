using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using NeuralSparse.Tests;

namespace NeuralSparse.Sidecar.IntegrationTests;

/// <summary>The sidecar as users run it: a separate process, real sockets, real signals.</summary>
public sealed class ServiceProcessTests(ModelDirectories models) : IClassFixture<ModelDirectories>
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Process_ServesTheContract_LogsHowToCallIt_AndExitsCleanlyOnSigterm()
    {
        await using SidecarProcess sidecar = await SidecarProcess.StartAsync(models.Args());

        HttpResponseMessage response = await sidecar.Http.PostAsync(new Uri("/v1/documents", UriKind.Relative),
            new StringContent("""["hello world", "", "the weather in ny"]""", Encoding.UTF8, "application/json"));
        byte[] bytes = await response.Content.ReadAsByteArrayAsync();
        JsonElement body = JsonDocument.Parse(bytes).RootElement;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(3, body.GetArrayLength());
        // Sent whole with its length, not chunked: a client has the answer without waiting for a closing chunk.
        Assert.NotEqual(true, response.Headers.TransferEncodingChunked);
        Assert.Equal(bytes.Length, response.Content.Headers.ContentLength);
        Assert.Contains($"HTTP API on http://127.0.0.1:{sidecar.HttpPort}", sidecar.Output, StringComparison.Ordinal);
        Assert.Equal(0, await sidecar.TerminateAsync(ExitTimeout));
    }

    [Fact]
    public async Task Sigterm_DuringLoad_NoRequestIsLost()
    {
        // Requests wait up to 400 ms in the batching window, so many are in flight when the signal arrives.
        await using SidecarProcess sidecar = await SidecarProcess.StartAsync(models.Args("--NeuralSparse:Batching:MaxWaitMilliseconds=400"));
        Task<HttpResponseMessage>[] requests = [.. Enumerable.Range(0, 24).Select(i => sidecar.Http.PostAsync(new Uri("/v1/documents", UriKind.Relative),
            new StringContent($"[\"hello world {i}\", \"ny now\"]", Encoding.UTF8, "application/json")))];
        await Task.Delay(150);

        Task<int> exit = sidecar.TerminateAsync(ExitTimeout);
        HttpResponseMessage[] responses = await Task.WhenAll(requests);

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        foreach (HttpResponseMessage r in responses)
        {
            Assert.Equal(2, JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.GetArrayLength());
        }

        Assert.Equal(0, await exit);
        Assert.Contains("Shutting down: readiness dropped", sidecar.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Overload_TenTimesCapacity_OnlyOkAndTooManyRequests_EveryRequestAnswered_ServiceSurvives()
    {
        const int capacity = 8;
        await using SidecarProcess sidecar = await SidecarProcess.StartAsync(models.Args(
            $"--NeuralSparse:Batching:QueueCapacity={capacity}", "--NeuralSparse:Limits:MaxTextsPerRequest=1", "--NeuralSparse:Batching:MaxWaitMilliseconds=50"));
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 200 }) { BaseAddress = sidecar.Http.BaseAddress };

        long before = sidecar.PeakResidentMegabytes ?? 0;
        HttpResponseMessage[] responses = await Task.WhenAll(Enumerable.Range(0, capacity * 10).Select(i =>
            client.PostAsync(new Uri("/v1/documents", UriKind.Relative), new StringContent($"[\"text {i}\"]", Encoding.UTF8, "application/json"))));

        // Refused requests hold nothing: the burst may not grow the process by more than a small fixed amount.
        Assert.True((sidecar.PeakResidentMegabytes ?? 0) - before < 256, $"peak resident memory grew from {before} to {sidecar.PeakResidentMegabytes} MiB");

        Assert.Equal(capacity * 10, responses.Length);
        Assert.All(responses, r => Assert.Contains(r.StatusCode, new[] { HttpStatusCode.OK, HttpStatusCode.TooManyRequests }));
        Assert.Contains(responses, r => r.StatusCode == HttpStatusCode.OK);
        Assert.All(responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests), r => Assert.NotNull(r.Headers.RetryAfter));
        Assert.Equal(HttpStatusCode.OK, (await sidecar.Http.GetAsync(new Uri("/health/ready", UriKind.Relative))).StatusCode);
        string metrics = await sidecar.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        PrometheusText scraped = PrometheusText.Parse(metrics);
        Assert.Equal(0, scraped.Value("neural_sparse_queue_texts", ("model", "bi")));
        Assert.Equal(capacity * 10, scraped.Value("neural_sparse_requests_total", ("route", "/v1/documents"), ("status", "200"))
            + scraped.Value("neural_sparse_requests_total", ("route", "/v1/documents"), ("status", "429")));
    }

    [Fact]
    public async Task WrongSettings_FailStartUp_NamingEveryKey()
    {
        await using SidecarProcess sidecar = await SidecarProcess.StartAsync(
            models.Args("--NeuralSparse:Batching:MaxBatchSize=0", "--NeuralSparse:Models:0:Device=tpu"), waitUntilReady: false);

        Assert.Equal(2, await sidecar.WaitForExitAsync(ExitTimeout));
        Assert.Contains("NeuralSparse:Batching:MaxBatchSize must be between 1 and 4096 (got '0')", sidecar.Output, StringComparison.Ordinal);
        Assert.Contains("NeuralSparse:Models:0:Device must be 'cpu' or 'cuda' (got 'tpu')", sidecar.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnusableModelDirectory_FailsStartUp_SayingTheFix()
    {
        string empty = Directory.CreateDirectory(Path.Combine(models.Root, "empty")).FullName;
        await using SidecarProcess sidecar = await SidecarProcess.StartAsync([$"--model-dir={empty}"], waitUntilReady: false);

        Assert.Equal(1, await sidecar.WaitForExitAsync(ExitTimeout));
        Assert.Contains("has neither model.onnx nor a Hugging Face model (config.json + model.safetensors)", sidecar.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BodyOverTheLimitWithoutContentLength_Is413()
    {
        await using SidecarProcess sidecar = await SidecarProcess.StartAsync(models.Args("--NeuralSparse:Limits:MaxRequestBytes=4096"));
        var chunked = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes("[\"" + new string('a', 10_000) + "\"]")));
        chunked.Headers.ContentType = new("application/json");
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/v1/documents", UriKind.Relative)) { Content = chunked };
        request.Headers.TransferEncodingChunked = true;

        HttpResponseMessage response = await sidecar.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("payload_too_large", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Https_WithAConfiguredCertificate_ServesTls()
    {
        string pfx = Path.Combine(models.Root, "sidecar.pfx");
        using (var key = RSA.Create(2048))
        {
            var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(names.Build());
            using X509Certificate2 certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            await File.WriteAllBytesAsync(pfx, certificate.Export(X509ContentType.Pfx, "pw"));
        }

        await using SidecarProcess sidecar = await SidecarProcess.StartAsync(
            models.Args($"--NeuralSparse:Listen:CertificatePath={pfx}", "--NeuralSparse:Listen:CertificatePassword=pw"), waitUntilReady: false);
        using var tls = new HttpClient(new SocketsHttpHandler
        {
            SslOptions = { RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate?.Subject == "CN=127.0.0.1" },
        }) { BaseAddress = new Uri($"https://127.0.0.1:{sidecar.HttpPort}") };

        HttpResponseMessage? ready = null;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(60) && ready?.StatusCode != HttpStatusCode.OK)
        {
            try
            {
                ready = await tls.GetAsync(new Uri("/health/ready", UriKind.Relative));
            }
            catch (HttpRequestException)
            {
                Assert.False(sidecar.HasExited, sidecar.Output);
                await Task.Delay(100);
            }
        }

        HttpResponseMessage response = await tls.PostAsync(new Uri("/v1/documents", UriKind.Relative), new StringContent("[\"hello\"]", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task OtlpEndpointSet_MetricsAndModelRunSpansArePushed()
    {
        // A loopback OTLP/HTTP receiver that keeps what it is sent.
        int port = SidecarProcess.FreePort();
        using var receiver = new HttpListener();
        receiver.Prefixes.Add($"http://127.0.0.1:{port}/");
        receiver.Start();
        var received = new System.Collections.Concurrent.ConcurrentDictionary<string, byte[]>();
        using var stop = new CancellationTokenSource();
        Task receiving = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                HttpListenerContext context;
                try
                {
                    context = await receiver.GetContextAsync().WaitAsync(stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                using var body = new MemoryStream();
                await context.Request.InputStream.CopyToAsync(body);
                received.AddOrUpdate(context.Request.Url!.AbsolutePath, body.ToArray(), (_, before) => [.. before, .. body.ToArray()]);
                context.Response.StatusCode = 200;
                context.Response.Close();
            }
        });

        await using (SidecarProcess sidecar = await SidecarProcess.StartAsync(models.Args(), environment: new Dictionary<string, string>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = $"http://127.0.0.1:{port}",
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "200",
        }))
        {
            await sidecar.Http.PostAsync(new Uri("/v1/documents", UriKind.Relative), new StringContent("""["hello world"]""", Encoding.UTF8, "application/json"));
            Assert.Equal(0, await sidecar.TerminateAsync(ExitTimeout)); // shutdown flushes both exporters
        }

        await stop.CancelAsync();
        await receiving;
        string Received(string path) => Encoding.UTF8.GetString(received.GetValueOrDefault(path) ?? []);
        Assert.Contains("neural_sparse.model.run", Received("/v1/traces"), StringComparison.Ordinal);
        Assert.Contains("neural_sparse.batch.tokens", Received("/v1/traces"), StringComparison.Ordinal);
        Assert.Contains("neural_sparse.inference.duration", Received("/v1/metrics"), StringComparison.Ordinal);
    }
}
