using NeuralSparse.Core.Inference;
using NeuralSparse.Core.Models;
using NeuralSparse.Onnx.Tests.Reference;

namespace NeuralSparse.Onnx.Tests;

/// <summary>Runs a backend on a padded batch and compares it with the reference forward pass.</summary>
internal static class PipelineAssertions
{
    private const double ReferenceTolerance = 1e-4;

    /// <summary>Texts of different lengths (so batches are padded), punctuation and mixed case.</summary>
    internal static readonly string[] Texts =
    [
        "the quick brown fox jumps over the lazy dog",
        "hello, world!",
        "Currently New York is rainy.",
        "What's the weather in ny now?",
    ];

    /// <summary>The backend's pooled output equals the independent double-precision forward pass within 1e-4.</summary>
    internal static void AssertMatchesReference(GeneratedModel generated, string[] texts, OnnxBackendOptions? options = null)
    {
        SparseModelDefinition model = generated.Load();
        (ModelBatch batch, int[][] ids) = PaddedBatch(model, texts);
        float[] output = RunBackend(model, batch, options ?? new OnnxBackendOptions { IntraOpThreads = 1 });
        int vocabulary = model.Tokenizer.VocabularySize;

        for (int row = 0; row < ids.Length; row++)
        {
            double[] expected = ReferenceMaskedLm.PooledWeights(generated.Weights, ids[row], generated.Activation);
            double worst = 0;
            int positive = 0;
            for (int v = 0; v < vocabulary; v++)
            {
                worst = Math.Max(worst, Math.Abs(expected[v] - output[(row * vocabulary) + v]));
                positive += expected[v] > 0 ? 1 : 0;
            }

            Assert.True(worst <= ReferenceTolerance, $"row {row}: ORT differs from the reference by {worst}");
            Assert.True(positive > 10, $"row {row}: only {positive} positive weights; the test would prove little");
        }
    }

    internal static (ModelBatch Batch, int[][] Ids) PaddedBatch(SparseModelDefinition model, string[] texts)
    {
        int[][] ids = [.. texts.Select(t => model.Tokenizer.Encode(t, model.MaxLength))];
        int length = ids.Max(i => i.Length);
        long[] inputIds = new long[texts.Length * length];
        long[] mask = new long[texts.Length * length];
        for (int r = 0; r < ids.Length; r++)
        {
            for (int s = 0; s < ids[r].Length; s++)
            {
                inputIds[(r * length) + s] = ids[r][s];
                mask[(r * length) + s] = 1;
            }
        }

        Assert.Contains(ids, i => i.Length < length); // padding is exercised
        return (new ModelBatch(inputIds, mask, texts.Length, length), ids);
    }

    internal static float[] RunBackend(SparseModelDefinition model, ModelBatch batch, OnnxBackendOptions options)
    {
        using OnnxSparseModelBackend backend = OnnxSparseModelBackend.Create(model, options);
        float[] output = new float[batch.BatchSize * model.Tokenizer.VocabularySize];
        backend.Run(batch, output, CancellationToken.None);
        return output;
    }

    internal static double MaxAbsDifference(float[] a, float[] b) => a.Zip(b, (x, y) => (double)Math.Abs(x - y)).Max();
}
