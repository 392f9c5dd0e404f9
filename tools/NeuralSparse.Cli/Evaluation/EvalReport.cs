using System.Text.Json.Serialization;

namespace NeuralSparse.Cli.Evaluation;

/// <summary>Latency percentiles in milliseconds (nearest rank).</summary>
internal sealed record LatencyJson(double P50, double P90, double P99, int Samples)
{
    public static LatencyJson? Of(IReadOnlyCollection<double> samples)
    {
        if (samples.Count == 0)
        {
            return null;
        }

        LatencySummary summary = LatencySummary.Of(samples);
        return new LatencyJson(summary.P50, summary.P90, summary.P99, summary.Samples);
    }
}

/// <summary>One setting's relevance, latency (cluster mode) or work (offline mode).</summary>
internal sealed record SettingResult(
    string Label,
    string? PruneType,
    float? PruneRatio,
    float? ExpansionRate,
    int? Window,
    double Ndcg10,
    double Recall100,
    double Mrr10,
    double Top10OverlapWithOff,
    LatencyJson? Took,
    LatencyJson? Client,
    double? MeanPostingsScored);

/// <summary>Everything <c>eval</c> measured, as written to the JSON file.</summary>
internal sealed record EvalReport(
    string Mode,
    string Data,
    string Split,
    int Queries,
    int Size,
    string? Index,
    string? Model,
    string? TwoPhaseVia,
    int Warmup,
    int Repeats,
    long? Documents,
    double? DocumentsPerSecond,
    string Vectors,
    IReadOnlyList<SettingResult> Settings,
    IReadOnlyList<string> Notes);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(EvalReport))]
internal sealed partial class EvalJson : JsonSerializerContext;
