using NeuralSparse.Core.Inference;
using NeuralSparse.Core.Models;

namespace NeuralSparse.Onnx.Tests;

/// <summary>Padded batches and single backend runs for the head and quantization tests.</summary>
internal static class TestBatches
{
    /// <summary>Texts of different lengths, so every batch of them has padding.</summary>
    public static readonly string[] Texts =
    [
        "the quick brown fox jumps over the lazy dog",
        "hello, world!",
        "Currently New York is rainy.",
        "What's the weather in ny now? sparse retrieval with learned term weights in OpenSearch",
        "a",
    ];

    public static ModelBatch Padded(SparseModelDefinition model, IReadOnlyList<string> texts)
    {
        int[][] ids = [.. texts.Select(t => model.Tokenizer.Encode(t, model.MaxLength))];
        int length = ids.Max(i => i.Length);
        long[] inputIds = new long[texts.Count * length];
        long[] mask = new long[texts.Count * length];
        for (int r = 0; r < ids.Length; r++)
        {
            for (int s = 0; s < ids[r].Length; s++)
            {
                inputIds[(r * length) + s] = ids[r][s];
                mask[(r * length) + s] = 1;
            }
        }

        return new ModelBatch(inputIds, mask, texts.Count, length);
    }

    public static float[] Run(ISparseModelBackend backend, SparseModelDefinition model, ModelBatch batch)
    {
        float[] output = new float[batch.BatchSize * model.Tokenizer.VocabularySize];
        backend.Run(batch, output, CancellationToken.None);
        return output;
    }

    public static float[] Run(SparseModelDefinition model, ModelBatch batch, OnnxBackendOptions options)
    {
        using ISparseModelBackend backend = SparseModelBackends.Create(model, options);
        return Run(backend, model, batch);
    }

    public static double MaxAbsDifference(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        return a.Zip(b, (x, y) => (double)Math.Abs(x - y)).Max();
    }
}
