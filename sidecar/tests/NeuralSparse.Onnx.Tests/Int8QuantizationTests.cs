using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using NeuralSparse.Core.Inference;
using NeuralSparse.Core.Models;
using NeuralSparse.Core.Sparse;
using NeuralSparse.Onnx.Diagnostics;
using NeuralSparse.Onnx.Graph;
using NeuralSparse.Onnx.Proto;
using NeuralSparse.Tests;
using Xunit.Abstractions;

namespace NeuralSparse.Onnx.Tests;

/// <summary>
/// The opt-in int8 weights: the quantizer itself, the rewritten graph, and fidelity against float32 on a generated
/// corpus (token sets, weight errors, ranking of query–document scores). Generated weights: this measures
/// numerical fidelity only, not relevance with trained weights.
/// </summary>
public sealed class Int8QuantizationTests(SyntheticModelFixture fixture, ITestOutputHelper output) : IClassFixture<SyntheticModelFixture>
{
    [Theory]
    [InlineData(1, 127)]
    [InlineData(2, 63)]
    public void QuantizeColumns_ErrorIsAtMostHalfAStep_PerColumn(int seed, int range)
    {
        var random = new Random(seed);
        int rows = 17;
        int columns = 9;
        float[] weights = [.. Enumerable.Range(0, rows * columns).Select(i => i % columns == 4 ? 0f : (float)((random.NextDouble() * 2) - 1) * (1 + (i % columns)))];

        (sbyte[] values, float[] scales) = Int8WeightQuantizer.QuantizeColumns(weights, rows, columns, range);

        for (int c = 0; c < columns; c++)
        {
            float largest = Enumerable.Range(0, rows).Max(r => Math.Abs(weights[(r * columns) + c]));
            Assert.Equal(largest == 0 ? 1f : largest / range, scales[c], 6);
            for (int r = 0; r < rows; r++)
            {
                int i = (r * columns) + c;
                Assert.InRange(values[i], -range, range);
                Assert.True(Math.Abs((values[i] * scales[c]) - weights[i]) <= (scales[c] / 2) + 1e-6, $"seed {seed}, [{r}, {c}]: {weights[i]} → {values[i]} × {scales[c]}");
            }
        }
    }

    [SharedDataTheory]
    [InlineData(HeadEvaluation.GraphChunks)]
    [InlineData(HeadEvaluation.Fused)]
    public void Int8_QuantizesEveryWeightMatrix_AndNoAttentionProduct(HeadEvaluation head)
    {
        SparseModelDefinition model = fixture.Bert.Load();
        (byte[] bytes, _, _, string description) = OnnxSparseModelBackend.PrepareGraph(
            model, new OnnxBackendOptions { Head = head, Quantization = WeightQuantization.Int8 }, NullLogger.Instance);
        ModelProto graph = ModelProto.Parser.ParseFrom(bytes);
        NodeProto[] nodes = [.. AllNodes(graph.Graph)];

        // Two layers × (query, key, value, attention output, FFN in, FFN out) + head transform + vocabulary projection.
        Assert.Equal(14, nodes.Count(n => n.OpType == "DynamicQuantizeMatMul" && n.Domain == Int8WeightQuantizer.MicrosoftDomain));
        Assert.Equal(4, nodes.Count(n => n.OpType == "MatMul")); // q·k and p·v per layer stay float32
        Assert.Contains(graph.OpsetImport, o => o.Domain == Int8WeightQuantizer.MicrosoftDomain);
        Assert.Contains("int8 weights", description, StringComparison.Ordinal);
    }

    public static TheoryData<HeadEvaluation> Heads() => [HeadEvaluation.GraphChunks, HeadEvaluation.HostChunks, HeadEvaluation.Fused];

    [SharedDataTheory]
    [MemberData(nameof(Heads))]
    public void Int8_StaysCloseToFloat32_OnAGeneratedCorpus(HeadEvaluation head)
    {
        foreach (GeneratedModel generated in new[] { fixture.Bert, fixture.DistilBert })
        {
            SparseModelDefinition model = generated.Load();
            (string[] documents, string[] queries) = Corpus(model, seed: 5, documents: 40, queries: 10);
            using var float32 = new SparseEncoder(model, SparseModelBackends.Create(model, new OnnxBackendOptions { IntraOpThreads = 1, Head = head }));
            using var int8 = new SparseEncoder(model, SparseModelBackends.Create(model, new OnnxBackendOptions { IntraOpThreads = 1, Head = head, Quantization = WeightQuantization.Int8 }));

            SparseFidelity fidelity = SparseFidelity.Compare(
                float32.EncodeDocuments(documents), int8.EncodeDocuments(documents), float32.EncodeDocuments(queries), int8.EncodeDocuments(queries));
            output.WriteLine($"{generated.Activation} {head}: {fidelity}");

            // Bounds with margin over what the tiny test models (σ = 0.3 weights, the harsher case) measured.
            Assert.True(fidelity.TokenOverlap >= 0.85, $"token overlap {fidelity.TokenOverlap}");
            Assert.True(fidelity.MeanWeightError <= 0.05, $"mean weight error {fidelity.MeanWeightError}");
            Assert.True(fidelity.RankAgreement >= 0.95, $"rank agreement {fidelity.RankAgreement}");
            Assert.True(fidelity.MaxWeightError > 0, "int8 gave exactly the float32 weights: the rewrite did not apply");
        }
    }

    [Fact]
    public void Fidelity_Metrics_OnHandMadeVectors()
    {
        SparseVector a = SparseVector.FromPairs(new Dictionary<int, float> { [1] = 1f, [2] = 2f, [3] = 3f });
        SparseVector b = SparseVector.FromPairs(new Dictionary<int, float> { [2] = 2.5f, [3] = 3f, [4] = 1f });

        SparseFidelity same = SparseFidelity.Compare([a, b], [a, b], [a], [a]);
        SparseFidelity shifted = SparseFidelity.Compare([a], [b], [a], [a]);

        Assert.Equal(new SparseFidelity(1, 0, 0, 1, 1), same);
        Assert.Equal(0.5, shifted.TokenOverlap, 9); // {2, 3} of {1, 2, 3, 4}
        Assert.Equal(1.0, shifted.MaxWeightError, 6);
        Assert.Equal((1 + 0.5 + 0 + 1) / 4, shifted.MeanWeightError, 6);
        Assert.Equal(1 + 4 + 9, SparseFidelity.Dot(a, a), 9);
        Assert.Equal((2 * 2.5) + (3 * 3), SparseFidelity.Dot(a, b), 9);
        Assert.Equal(-1, SparseFidelity.Spearman([1, 2, 3], [3, 2, 1]), 9);
    }

    /// <summary>Seeded texts of whole vocabulary words: documents of 20–80 words, queries of 2–6.</summary>
    internal static (string[] Documents, string[] Queries) Corpus(SparseModelDefinition model, int seed, int documents, int queries)
    {
        string[] words = [.. Enumerable.Range(0, model.Tokenizer.VocabularySize).Select(model.Tokenizer.IdToToken).Where(t => t.Length >= 3 && t.All(char.IsAsciiLetterLower))];
        var random = new Random(seed);
        string Text(int min, int max) => string.Join(' ', Enumerable.Range(0, random.Next(min, max + 1)).Select(_ => words[random.Next(words.Length)]));
        return ([.. Enumerable.Range(0, documents).Select(_ => Text(20, 80))], [.. Enumerable.Range(0, queries).Select(_ => Text(2, 6))]);
    }

    private static IEnumerable<NodeProto> AllNodes(GraphProto graph) =>
        graph.Node.SelectMany(n => n.Attribute.Where(a => a.G is not null).SelectMany(a => AllNodes(a.G)).Prepend(n));
}
