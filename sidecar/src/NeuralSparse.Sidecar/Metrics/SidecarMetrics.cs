using System.Diagnostics.Metrics;
using NeuralSparse.Core.Inference;

namespace NeuralSparse.Sidecar.Metrics;

/// <summary>
/// The service's instruments, on one versioned <see cref="Meter"/>. Exposed in Prometheus text format at
/// <c>/metrics</c> by <see cref="PrometheusExporter"/>, and to any OpenTelemetry listener of the meter.
/// </summary>
internal sealed class SidecarMetrics : IDisposable
{
    public const string MeterName = "NeuralSparse.Sidecar";

    private readonly Meter _meter = new(MeterName, typeof(SidecarMetrics).Assembly.GetName().Version?.ToString());
    private readonly Counter<long> _requests;
    private readonly Histogram<double> _requestDuration;
    private readonly Histogram<int> _batchSize;
    private readonly Histogram<int> _batchTokens;
    private readonly Histogram<double> _inferenceDuration;
    private readonly Histogram<double> _tokenizeDuration;

    public SidecarMetrics()
    {
        _requests = _meter.CreateCounter<long>("neural_sparse.requests", description: "Requests answered, by route, protocol and status.");
        _requestDuration = _meter.CreateHistogram<double>("neural_sparse.request.duration", unit: "s", description: "Time to answer a request.");
        _batchSize = _meter.CreateHistogram<int>("neural_sparse.batch.size", unit: "{text}", description: "Texts per merged model run.");
        _batchTokens = _meter.CreateHistogram<int>("neural_sparse.batch.tokens", unit: "{token}", description: "Tokens per merged model run.");
        _inferenceDuration = _meter.CreateHistogram<double>("neural_sparse.inference.duration", unit: "s", description: "Time of a merged model run.");
        _tokenizeDuration = _meter.CreateHistogram<double>("neural_sparse.tokenize.duration", unit: "s", description: "Time to tokenize one request's texts.");
    }

    public Meter Meter => _meter;

    public void RequestCompleted(string route, string protocol, int status, TimeSpan duration)
    {
        _requests.Add(1, new("route", route), new("protocol", protocol), new("status", status));
        _requestDuration.Record(duration.TotalSeconds, new KeyValuePair<string, object?>("route", route));
    }

    /// <summary>Records the batches and tokenization of <paramref name="scheduler"/>.</summary>
    public void Attach(EncodeScheduler scheduler)
    {
        var model = new KeyValuePair<string, object?>("model", scheduler.Encoder.Model.Name);
        scheduler.BatchCompleted += (texts, tokens, duration) =>
        {
            _batchSize.Record(texts, model);
            _batchTokens.Record(tokens, model);
            _inferenceDuration.Record(duration.TotalSeconds, model);
        };
        scheduler.Tokenized += (_, duration) => _tokenizeDuration.Record(duration.TotalSeconds, model);
    }

    /// <summary>Publishes each scheduler's queued and running texts as a gauge.</summary>
    public void ObserveQueues(Func<IEnumerable<EncodeScheduler>> schedulers) =>
        _meter.CreateObservableGauge("neural_sparse.queue.texts", () => schedulers().Select(s =>
            new Measurement<int>(s.TextsInFlight, new KeyValuePair<string, object?>("model", s.Encoder.Model.Name))),
            unit: "{text}", description: "Texts queued or running per model.");

    public void Dispose() => _meter.Dispose();
}
