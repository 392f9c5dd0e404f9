using System.Numerics.Tensors;

namespace NeuralSparse.Core.Sparse;

/// <summary>
/// Host-side pooling: max over the sequence of logits × mask, then the activation. The same computation the
/// backend fuses into the ONNX graph; kept here for graphs that cannot be rewritten and as the parity reference.
/// Computed in float32 as <c>log(1 + x)</c>, exactly as OpenSearch does (not log1p).
/// </summary>
internal static class SparsePooling
{
    /// <summary>
    /// Pools one sequence: <paramref name="logits"/> is [sequence, <paramref name="rowStride"/>] row-major, of which
    /// the first <paramref name="vocabularySize"/> columns are used (GTE exports can have a few more).
    /// </summary>
    public static void MaxPoolActivate(
        ReadOnlySpan<float> logits,
        ReadOnlySpan<long> attentionMask,
        int vocabularySize,
        int rowStride,
        SparseActivation activation,
        Span<float> destination)
    {
        int sequenceLength = attentionMask.Length;
        if (rowStride < vocabularySize || logits.Length < sequenceLength * rowStride || destination.Length < vocabularySize)
        {
            throw new ArgumentException("Logits or destination are smaller than [sequence, vocab].");
        }

        Span<float> pooled = destination[..vocabularySize];

        // Masked positions contribute logit × 0 = 0 to the max; starting from 0 is the same after relu.
        pooled.Clear();
        for (int s = 0; s < sequenceLength; s++)
        {
            if (attentionMask[s] != 0)
            {
                TensorPrimitives.Max(pooled, logits.Slice(s * rowStride, vocabularySize), pooled);
            }
        }

        Activate(pooled, activation);
    }

    /// <summary>Applies the activation in place to already max-pooled, non-negative values.</summary>
    public static void Activate(Span<float> values, SparseActivation activation)
    {
        ApplyLogOnePlusRelu(values);
        if (activation == SparseActivation.Log1pLog1pRelu)
        {
            ApplyLogOnePlusRelu(values);
        }
    }

    private static void ApplyLogOnePlusRelu(Span<float> values)
    {
        for (int i = 0; i < values.Length; i++)
        {
            float x = values[i];
            values[i] = x > 0f ? MathF.Log(1f + x) : 0f;
        }
    }
}
