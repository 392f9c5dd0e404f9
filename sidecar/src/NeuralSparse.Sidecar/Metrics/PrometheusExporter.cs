using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace NeuralSparse.Sidecar.Metrics;

/// <summary>
/// Renders the service's <see cref="Meter"/> in the Prometheus text exposition format (0.0.4): counters as
/// <c>_total</c>, histograms with fixed buckets per unit, observable gauges read at scrape time. A small stand-in for
/// the OpenTelemetry Prometheus exporter, which this project's package source does not hold.
/// </summary>
internal sealed class PrometheusExporter : IDisposable
{
    private static readonly double[] SecondsBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
    private static readonly double[] CountBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096];
    private static readonly double[] TokenBuckets = [16, 64, 256, 1024, 2048, 4096, 8192, 16384, 65536];

    private readonly MeterListener _listener = new();
    private readonly object _gate = new();
    private readonly Dictionary<Instrument, Series> _series = [];

    public PrometheusExporter(SidecarMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        string meterName = metrics.Meter.Name;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == meterName)
            {
                lock (_gate)
                {
                    _series[instrument] = new Series(instrument);
                }

                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        _listener.Start();
    }

    /// <summary>The current values, in Prometheus text format.</summary>
    public string Render()
    {
        _listener.RecordObservableInstruments();
        var text = new StringBuilder();
        lock (_gate)
        {
            foreach (Series series in _series.Values.OrderBy(s => s.Name, StringComparer.Ordinal))
            {
                series.Render(text);
            }
        }

        return text.ToString();
    }

    public void Dispose() => _listener.Dispose();

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        string labels = Labels(tags);
        lock (_gate)
        {
            if (_series.TryGetValue(instrument, out Series? series))
            {
                series.Record(labels, value);
            }
        }
    }

    private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.IsEmpty)
        {
            return string.Empty;
        }

        var pairs = new List<string>(tags.Length);
        foreach (KeyValuePair<string, object?> tag in tags)
        {
            string value = Convert.ToString(tag.Value, CultureInfo.InvariantCulture) ?? string.Empty;
            pairs.Add($"{tag.Key}=\"{value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal)}\"");
        }

        pairs.Sort(StringComparer.Ordinal);
        return string.Join(',', pairs);
    }

    private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>All label sets of one instrument.</summary>
    private sealed class Series
    {
        private readonly string _kind;
        private readonly string? _description;
        private readonly double[]? _buckets;
        private readonly Dictionary<string, double> _values = new(StringComparer.Ordinal);
        private readonly Dictionary<string, (long[] Counts, double Sum, long Count)> _histograms = new(StringComparer.Ordinal);

        public Series(Instrument instrument)
        {
            string baseName = instrument.Name.Replace('.', '_') + (instrument.Unit == "s" ? "_seconds" : string.Empty);
            _description = instrument.Description;
            (_kind, Name) = instrument switch
            {
                Counter<long> or Counter<int> or Counter<double> => ("counter", baseName + "_total"),
                Histogram<int> or Histogram<long> or Histogram<double> => ("histogram", baseName),
                _ => ("gauge", baseName),
            };
            _buckets = _kind == "histogram"
                ? instrument.Unit switch { "s" => SecondsBuckets, "{token}" => TokenBuckets, _ => CountBuckets }
                : null;
        }

        public string Name { get; }

        public void Record(string labels, double value)
        {
            switch (_kind)
            {
                case "counter":
                    _values[labels] = _values.GetValueOrDefault(labels) + value;
                    break;
                case "gauge":
                    _values[labels] = value;
                    break;
                default:
                    (long[] counts, double sum, long count) = _histograms.TryGetValue(labels, out var h) ? h : (new long[_buckets!.Length], 0, 0);
                    for (int b = 0; b < _buckets!.Length; b++)
                    {
                        if (value <= _buckets[b])
                        {
                            counts[b]++;
                        }
                    }

                    _histograms[labels] = (counts, sum + value, count + 1);
                    break;
            }
        }

        public void Render(StringBuilder text)
        {
            if (_values.Count == 0 && _histograms.Count == 0)
            {
                return;
            }

            if (_description is not null)
            {
                text.Append("# HELP ").Append(Name).Append(' ').Append(_description).Append('\n');
            }

            text.Append("# TYPE ").Append(Name).Append(' ').Append(_kind).Append('\n');
            foreach ((string labels, double value) in _values.OrderBy(v => v.Key, StringComparer.Ordinal))
            {
                text.Append(Name).Append(Braces(labels)).Append(' ').Append(Format(value)).Append('\n');
            }

            foreach ((string labels, (long[] counts, double sum, long count)) in _histograms.OrderBy(v => v.Key, StringComparer.Ordinal))
            {
                string prefix = labels.Length == 0 ? string.Empty : labels + ",";
                for (int b = 0; b < _buckets!.Length; b++)
                {
                    text.Append(Name).Append("_bucket{").Append(prefix).Append("le=\"").Append(Format(_buckets[b])).Append("\"} ").Append(counts[b]).Append('\n');
                }

                text.Append(Name).Append("_bucket{").Append(prefix).Append("le=\"+Inf\"} ").Append(count).Append('\n');
                text.Append(Name).Append("_sum").Append(Braces(labels)).Append(' ').Append(Format(sum)).Append('\n');
                text.Append(Name).Append("_count").Append(Braces(labels)).Append(' ').Append(count).Append('\n');
            }
        }

        private static string Braces(string labels) => labels.Length == 0 ? string.Empty : "{" + labels + "}";
    }
}
