namespace NeuralSparse.Cli.Evaluation;

/// <summary>
/// How Lucene's <c>FeatureField</c> (behind OpenSearch <c>rank_features</c>) stores a weight: as a term frequency made
/// of the float's top 17 bits (sign, 8 exponent bits, 8 mantissa bits, i.e. 9 significant bits with the implicit one),
/// so a stored weight is the original truncated toward zero, up to 2^-8 (0.39 %) low. Query weights are not rounded.
/// </summary>
internal static class FeatureFieldEncoding
{
    private const int DroppedBits = 15;

    /// <summary>The value Lucene scores with after storing <paramref name="weight"/> (<c>decode(encode(w))</c>).</summary>
    public static float Round(float weight)
    {
        uint bits = (uint)BitConverter.SingleToInt32Bits(weight);
        return BitConverter.Int32BitsToSingle((int)(bits >> DroppedBits << DroppedBits));
    }
}
