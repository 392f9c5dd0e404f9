namespace NeuralSparse.Sidecar.Tests;

/// <summary>How served weights are held against PyTorch's (tools/reference): the same rule for every parity test.</summary>
internal static class ReferenceComparison
{
    /// <summary>
    /// Allowed sidecar error as a multiple of PyTorch's own float32 error (max |w32 − w64| over the fixture texts):
    /// ONNX Runtime and PyTorch sum in different orders, so each float32 result lands its own distance from float64;
    /// measured, the sidecar's error is 0.85–2.1× PyTorch's over the twelve graphs. A real defect (a tanh GELU, a
    /// mask or scale slip, a wrong opset translation) shows at 1e-3 and more with these σ≈0.3 weights.
    /// </summary>
    public const double ErrorFactor = 3;

    /// <summary>
    /// Max |actual − expected| over the union of both token sets (a token absent on one side counts as 0 there), and
    /// a description of the worst offence when it exceeds <paramref name="tolerance"/>: so the token sets may differ
    /// only where a weight is itself within the tolerance of 0.
    /// </summary>
    internal static (double Error, int Count, string? Detail) Compare(Dictionary<int, double> actual, int[] ids, double[] weights, double tolerance)
    {
        Dictionary<int, double> expected = [];
        for (int j = 0; j < ids.Length; j++)
        {
            if (weights[j] > 0)
            {
                expected[ids[j]] = weights[j];
            }
        }

        double worst = 0;
        int worstId = -1;
        foreach (int id in expected.Keys.Union(actual.Keys))
        {
            double difference = Math.Abs(actual.GetValueOrDefault(id) - expected.GetValueOrDefault(id));
            if (difference > worst)
            {
                (worst, worstId) = (difference, id);
            }
        }

        int onlyOneSide = expected.Keys.Except(actual.Keys).Count() + actual.Keys.Except(expected.Keys).Count();
        string? detail = worst <= tolerance ? null
            : $"token {worstId}: sidecar {actual.GetValueOrDefault(worstId):R}, PyTorch float64 {expected.GetValueOrDefault(worstId):R}; |Δ| {worst:E2} > tolerance {tolerance:E2} ({expected.Count} expected tokens, {actual.Count} served, {onlyOneSide} on one side only)";
        return (worst, expected.Count, detail);
    }
}
