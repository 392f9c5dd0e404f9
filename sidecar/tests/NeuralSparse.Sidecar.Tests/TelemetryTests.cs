using System.Diagnostics;
using System.Net;
using NeuralSparse.Sidecar.Metrics;
using NeuralSparse.Tests;

namespace NeuralSparse.Sidecar.Tests;

/// <summary>
/// Run alone: every host in the process has a meter and an activity source of the same name, and OpenTelemetry (like any
/// listener) subscribes by name, so hosts of tests running in parallel would add their counts.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TelemetryCollection
{
    public const string Name = "telemetry";
}

[Collection(TelemetryCollection.Name)]
public sealed class TelemetryTests
{
    [Fact]
    public async Task Metrics_PrometheusText_CountsRequestsAndBatches()
    {
        await using SidecarTestHost host = await SidecarTestHost.StartAsync();
        Assert.Equal(HttpStatusCode.OK, (await host.PostJsonAsync("/v1/documents", """["hello world", "ny"]""")).StatusCode);
        await host.PostJsonAsync("/v1/documents", "not json");

        HttpResponseMessage response = await host.Client.GetAsync(new Uri("/metrics", UriKind.Relative));
        string text = await response.Content.ReadAsStringAsync();
        PrometheusText metrics = PrometheusText.Parse(text);

        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("counter", metrics.Type("neural_sparse_requests_total"));
        Assert.True(metrics.Value("neural_sparse_requests_total", ("protocol", "http"), ("route", "/v1/documents"), ("status", "200")) >= 1, text);
        Assert.Equal(1, metrics.Value("neural_sparse_requests_total", ("protocol", "http"), ("route", "/v1/documents"), ("status", "400")));
        Assert.Equal("histogram", metrics.Type("neural_sparse_batch_size"));
        Assert.Equal("histogram", metrics.Type("neural_sparse_batch_tokens"));
        Assert.True(metrics.Value("neural_sparse_inference_duration_seconds_bucket", ("model", "bi"), ("le", "+Inf")) >= 1, text);
        Assert.True(metrics.Value("neural_sparse_inference_duration_seconds_bucket", ("model", "bi"), ("le", "0.0005")) >= 0, text); // seconds buckets
        Assert.True(metrics.Value("neural_sparse_request_duration_seconds_count", ("route", "/v1/documents")) >= 2, text);
        Assert.Equal(0, metrics.Value("neural_sparse_queue_texts", ("model", "bi")));
        Assert.True(metrics.Value("neural_sparse_tokenize_duration_seconds_count", ("model", "bi")) >= 1, text);
        // ASP.NET Core's and the runtime's instruments come along.
        Assert.Equal("histogram", metrics.Type("http_server_request_duration_seconds"));
        Assert.Contains(metrics.Names, n => n.StartsWith("dotnet_gc_", StringComparison.Ordinal) || n.StartsWith("process_runtime_dotnet_", StringComparison.Ordinal));
    }

    [Fact]
    public async Task EachModelRun_IsASpan_WithBatchSizeAndTokens()
    {
        var runs = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == SidecarMetrics.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                lock (runs)
                {
                    runs.Add(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        await using SidecarTestHost host = await SidecarTestHost.StartAsync();

        Assert.Equal(HttpStatusCode.OK, (await host.PostJsonAsync("/v1/models/bi/documents", """["hello world", "the weather in ny"]""")).StatusCode);

        Activity[] modelRuns;
        lock (runs)
        {
            modelRuns = [.. runs.Where(a => a.OperationName == SidecarMetrics.ModelRunActivity && (string?)a.GetTagItem("neural_sparse.model") == "bi")];
        }

        Assert.Contains(modelRuns, a => (int?)a.GetTagItem("neural_sparse.batch.size") == 2 && (int?)a.GetTagItem("neural_sparse.batch.tokens") > 0);
        Assert.All(modelRuns, a => Assert.True(a.Duration > TimeSpan.Zero));
    }
}
