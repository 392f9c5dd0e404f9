using NeuralSparse.Core.Inference;
using NeuralSparse.Core.Models;
using NeuralSparse.Onnx.Tests.Reference;

namespace NeuralSparse.Onnx.Tests;

/// <summary>Holds a generated model's served output against the independent reference forward pass.</summary>
internal static class PipelineAssertions
{
    private const double ReferenceTolerance = 1e-4;

    /// <summary>
    /// The backend's pooled output for a padded batch of <see cref="TestBatches.Texts"/> equals the independent
    /// double-precision forward pass of each unpadded text within 1e-4.
    /// </summary>
    internal static void AssertMatchesReference(GeneratedModel generated, OnnxBackendOptions? options = null)
    {
        SparseModelDefinition model = generated.Load();
        ModelBatch batch = TestBatches.Padded(model, TestBatches.Texts);
        int[][] ids = [.. TestBatches.Texts.Select(t => model.Tokenizer.Encode(t, model.MaxLength))];
        float[] output = TestBatches.Run(model, batch, options ?? generated.Options);
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
}
