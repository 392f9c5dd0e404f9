namespace NeuralSparse.Cli.Evaluation;

/// <summary>p50/p90/p99 of a latency sample, in milliseconds.</summary>
internal readonly record struct LatencySummary(double P50, double P90, double P99, int Samples)
{
    /// <summary>
    /// Nearest-rank percentiles: the smallest sample with at least p % of the samples at or below it (no interpolation,
    /// so every figure is a latency that was observed).
    /// </summary>
    public static LatencySummary Of(IEnumerable<double> samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        double[] sorted = [.. samples.Order()];
        if (sorted.Length == 0)
        {
            return new LatencySummary(double.NaN, double.NaN, double.NaN, 0);
        }

        // rank = ceil(percent × n / 100) in integers, so 90 % of 10 samples is the 9th, not the 10th by rounding error.
        double At(int percent) => sorted[Math.Max(1, ((percent * sorted.Length) + 99) / 100) - 1];
        return new LatencySummary(At(50), At(90), At(99), sorted.Length);
    }
}
