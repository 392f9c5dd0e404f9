using System.Diagnostics;
using System.Diagnostics.Metrics;
using NeuralSparse.Core.Inference;

namespace NeuralSparse.Sidecar.Metrics;

/// <summary>
/// The service's instruments on one versioned <see cref="Meter"/>, and a trace span per model run on one
/// <see cref="ActivitySource"/>, both named <see cref="Name"/>. OpenTelemetry exports them (see <see cref="SidecarTelemetry"/>):
/// Prometheus at <c>/metrics</c> as <c>neural_sparse_requests_total</c>, <c>neural_sparse_inference_duration_seconds</c>, ...
/// </summary>
internal sealed class SidecarMetrics : IDisposable
{
    public const string Name = "NeuralSparse.Sidecar";

    /// <summary>The span of one merged model run.</summary>
    public const string ModelRunActivity = "neural_sparse.model.run";

    // Bucket boundaries for the exporters (OpenTelemetry's defaults suit milliseconds, not seconds or token counts).
    private static readonly InstrumentAdvice<double> SecondsBuckets = new() { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] };
    private static readonly InstrumentAdvice<int> TextBuckets = new() { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096] };
    private static readonly InstrumentAdvice<int> TokenBuckets = new() { HistogramBucketBoundaries = [16, 64, 256, 1024, 2048, 4096, 8192, 16384, 65536] };

    private static readonly string? Version = typeof(SidecarMetrics).Assembly.GetName().Version?.ToString();

    private readonly Meter _meter = new(Name, Version);
    private readonly ActivitySource _activities = new(Name, Version);
    private readonly Counter<long> _requests;
    private readonly Histogram<double> _requestDuration;
    private readonly Histogram<int> _batchSize;
    private readonly Histogram<int> _batchTokens;
    private readonly Histogram<double> _inferenceDuration;
    private readonly Histogram<double> _tokenizeDuration;

    public SidecarMetrics()
    {
        _requests = _meter.CreateCounter<long>("neural_sparse.requests", description: "Requests answered, by route, protocol and status.");
        _requestDuration = _meter.CreateHistogram("neural_sparse.request.duration", "s", "Time to answer a request.", advice: SecondsBuckets);
        _batchSize = _meter.CreateHistogram("neural_sparse.batch.size", "{text}", "Texts per merged model run.", advice: TextBuckets);
        _batchTokens = _meter.CreateHistogram("neural_sparse.batch.tokens", "{token}", "Tokens per merged model run.", advice: TokenBuckets);
        _inferenceDuration = _meter.CreateHistogram("neural_sparse.inference.duration", "s", "Time of a merged model run.", advice: SecondsBuckets);
        _tokenizeDuration = _meter.CreateHistogram("neural_sparse.tokenize.duration", "s", "Time to tokenize one request's texts.", advice: SecondsBuckets);
    }

    public void RequestCompleted(string route, string protocol, int status, TimeSpan duration)
    {
        _requests.Add(1, new("route", route), new("protocol", protocol), new("status", status));
        _requestDuration.Record(duration.TotalSeconds, new KeyValuePair<string, object?>("route", route));
    }

    /// <summary>Records the batches and tokenization of <paramref name="scheduler"/>, and a span per model run.</summary>
    public void Attach(EncodeScheduler scheduler)
    {
        string modelName = scheduler.Encoder.Model.Name;
        var model = new KeyValuePair<string, object?>("model", modelName);
        scheduler.BatchCompleted += (texts, tokens, duration) =>
        {
            _batchSize.Record(texts, model);
            _batchTokens.Record(tokens, model);
            _inferenceDuration.Record(duration.TotalSeconds, model);
            RecordRun(modelName, texts, tokens, duration);
        };
        scheduler.Tokenized += (_, duration) => _tokenizeDuration.Record(duration.TotalSeconds, model);
    }

    /// <summary>Publishes each scheduler's queued and running texts as a gauge.</summary>
    public void ObserveQueues(Func<IEnumerable<EncodeScheduler>> schedulers) =>
        _meter.CreateObservableGauge("neural_sparse.queue.texts", () => schedulers().Select(s =>
            new Measurement<int>(s.TextsInFlight, new KeyValuePair<string, object?>("model", s.Encoder.Model.Name))),
            unit: "{text}", description: "Texts queued or running per model.");

    public void Dispose()
    {
        _meter.Dispose();
        _activities.Dispose();
    }

    /// <summary>
    /// One span for a run that has just ended: a run merges texts from many requests, so it is a root span of its own,
    /// timed from the scheduler's measurement.
    /// </summary>
    private void RecordRun(string modelName, int texts, int tokens, TimeSpan duration)
    {
        if (!_activities.HasListeners())
        {
            return;
        }

        DateTimeOffset end = DateTimeOffset.UtcNow;
        using Activity? run = _activities.StartActivity(ModelRunActivity, ActivityKind.Internal, parentContext: default,
            tags: [new("neural_sparse.model", modelName), new("neural_sparse.batch.size", texts), new("neural_sparse.batch.tokens", tokens)],
            startTime: end - duration);
        run?.SetEndTime(end.UtcDateTime);
    }
}
