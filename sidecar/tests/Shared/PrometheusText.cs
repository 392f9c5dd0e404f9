using System.Globalization;
using System.Text.RegularExpressions;

namespace NeuralSparse.Tests;

/// <summary>The Prometheus text exposition format, parsed for assertions: samples by name and labels, and # TYPE lines.</summary>
internal sealed partial class PrometheusText
{
    private readonly Dictionary<string, string> _types = new(StringComparer.Ordinal);
    private readonly List<(string Name, Dictionary<string, string> Labels, double Value)> _samples = [];

    public IEnumerable<string> Names => _samples.Select(s => s.Name).Distinct();

    public static PrometheusText Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parsed = new PrometheusText();
        foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                string[] parts = line.Split(' ');
                parsed._types[parts[2]] = parts[3];
            }
            else if (!line.StartsWith('#') && Sample().Match(line) is { Success: true } sample)
            {
                var labels = Label().Matches(sample.Groups["labels"].Value).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value, StringComparer.Ordinal);
                string value = sample.Groups["value"].Value;
                parsed._samples.Add((sample.Groups["name"].Value, labels,
                    value switch { "+Inf" => double.PositiveInfinity, "-Inf" => double.NegativeInfinity, _ => double.Parse(value, CultureInfo.InvariantCulture) }));
            }
        }

        return parsed;
    }

    public string? Type(string name) => _types.GetValueOrDefault(name);

    /// <summary>The value of the one sample of <paramref name="name"/> that has at least <paramref name="labels"/>; null when none.</summary>
    public double? Value(string name, params (string Key, string Value)[] labels)
    {
        var matches = _samples.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Key, out string? v) && v == l.Value)).ToList();
        return matches.Count switch
        {
            0 => null,
            1 => matches[0].Value,
            _ => throw new InvalidOperationException($"{matches.Count} samples of {name} match; name more labels."),
        };
    }

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})?\s+(?<value>\S+)")]
    private static partial Regex Sample();

    [GeneratedRegex(@"([a-zA-Z_][a-zA-Z0-9_]*)=""((?:[^""\\]|\\.)*)""")]
    private static partial Regex Label();
}
