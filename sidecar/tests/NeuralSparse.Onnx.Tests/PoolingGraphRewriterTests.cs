using Google.Protobuf;
using NeuralSparse.Core.Inference;
using NeuralSparse.Core.Models;
using NeuralSparse.Core.Sparse;
using NeuralSparse.Onnx.Graph;
using NeuralSparse.Onnx.Proto;
using NeuralSparse.Onnx.Synthetic;

namespace NeuralSparse.Onnx.Tests;

/// <summary>
/// The graph rewrite on a minimal "model" whose logits are a lookup table row per token, so the expected pooled
/// weights can be computed by hand. Needs no shared data: it brings its own 12-token vocabulary.
/// </summary>
public sealed class PoolingGraphRewriterTests : IDisposable
{
    private static readonly string[] Vocabulary = LookupTableModel.Vocabulary;
    private readonly string _root = Path.Combine(Path.GetTempPath(), "rewriter-tests-" + Guid.NewGuid().ToString("N"));

    [Theory]
    [InlineData(13, SparseActivation.Log1pRelu)]
    [InlineData(17, SparseActivation.Log1pLog1pRelu)]
    [InlineData(18, SparseActivation.Log1pRelu)]
    [InlineData(21, SparseActivation.Log1pLog1pRelu)]
    public void AppendPooling_AnyOpset_EqualsHandComputedPooling(long opset, SparseActivation activation)
    {
        float[] table = LookupTable();
        string directory = WriteModel($"opset{opset}", BuildLookupModel(table, opset), activation);
        SparseModelDefinition model = ModelDirectory.Load(directory);

        // Rows: [CLS] a b [SEP] and [CLS] c [SEP] [PAD] (padding must not contribute).
        long[] ids = [2, 5, 6, 3, 2, 7, 3, 0];
        long[] mask = [1, 1, 1, 1, 1, 1, 1, 0];
        var batch = new ModelBatch(ids, mask, 2, 4);

        foreach (PoolingPlacement placement in new[] { PoolingPlacement.Graph, PoolingPlacement.Host })
        {
            using OnnxSparseModelBackend backend = OnnxSparseModelBackend.Create(model, new OnnxBackendOptions { IntraOpThreads = 1, Pooling = placement });
            float[] output = new float[2 * Vocabulary.Length];
            backend.Run(batch, output, CancellationToken.None);

            for (int row = 0; row < 2; row++)
            {
                for (int v = 0; v < Vocabulary.Length; v++)
                {
                    double max = double.NegativeInfinity;
                    for (int s = 0; s < 4; s++)
                    {
                        if (mask[(row * 4) + s] == 1)
                        {
                            max = Math.Max(max, table[(ids[(row * 4) + s] * Vocabulary.Length) + v]);
                        }
                    }

                    double expected = Math.Log(1 + Math.Max(0, max));
                    if (activation == SparseActivation.Log1pLog1pRelu)
                    {
                        expected = Math.Log(1 + expected);
                    }

                    Assert.Equal(expected, output[(row * Vocabulary.Length) + v], 5);
                }
            }
        }
    }

    [Fact]
    public void Load_ExportWithPoolingAlreadyInGraph_IsUsedAsIs()
    {
        // Exports can already end in pooled weights [batch, vocab] (OpenSearch's own TorchScript does).
        float[] table = LookupTable();
        ModelProto fused = BuildLookupModel(table, 18);
        PoolingGraphRewriter.AppendPooling(fused, PoolingGraphRewriter.Inspect(fused), SparseActivation.Log1pRelu, Vocabulary.Length);
        string exportedDirectory = WriteModel("exported", fused, SparseActivation.Log1pRelu);
        string rawDirectory = WriteModel("raw", BuildLookupModel(table, 18), SparseActivation.Log1pRelu);

        Assert.Equal(GraphOutputKind.Pooled, PoolingGraphRewriter.Inspect(fused).OutputKind);
        var batch = new ModelBatch([2, 5, 9, 3], [1, 1, 1, 1], 1, 4);
        Assert.Equal(Run(rawDirectory, batch), Run(exportedDirectory, batch));
    }

    [Fact]
    public void Inspect_GraphWithoutAttentionMask_IsRejectedNamingTheInput()
    {
        ModelProto model = BuildLookupModel(LookupTable(), 18);
        model.Graph.Input.RemoveAt(1);

        var error = Assert.Throws<InvalidDataException>(() => PoolingGraphRewriter.Inspect(model));
        Assert.Contains("attention_mask", error.Message, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private static float[] Run(string directory, ModelBatch batch)
    {
        using OnnxSparseModelBackend backend = OnnxSparseModelBackend.Create(ModelDirectory.Load(directory), new OnnxBackendOptions { IntraOpThreads = 1 });
        float[] output = new float[batch.BatchSize * Vocabulary.Length];
        backend.Run(batch, output, CancellationToken.None);
        return output;
    }

    private static float[] LookupTable() => LookupTableModel.Table(seed: 42, scale: 3f);

    private static ModelProto BuildLookupModel(float[] table, long opset) => LookupTableModel.Build(table, opset);

    private string WriteModel(string name, ModelProto model, SparseActivation activation)
    {
        string directory = Path.Combine(_root, name);
        Directory.CreateDirectory(directory);
        File.WriteAllBytes(Path.Combine(directory, "model.onnx"), model.ToByteArray());
        File.WriteAllLines(Path.Combine(directory, "vocab.txt"), Vocabulary);
        string activationName = activation == SparseActivation.Log1pRelu ? "log1p_relu" : "log1p_log1p_relu";
        File.WriteAllText(Path.Combine(directory, "neural-sparse.json"), $$"""{ "mode": "bi-encoder", "activation": "{{activationName}}" }""");
        return directory;
    }
}
