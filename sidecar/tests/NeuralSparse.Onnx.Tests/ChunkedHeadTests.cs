using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using NeuralSparse.Core.Inference;
using NeuralSparse.Core.Models;
using NeuralSparse.Core.Sparse;
using NeuralSparse.Onnx.Graph;
using NeuralSparse.Onnx.Proto;
using NeuralSparse.Onnx.Synthetic;
using NeuralSparse.Tests;

namespace NeuralSparse.Onnx.Tests;

/// <summary>
/// The chunked head, in the graph (ONNX Loop) and on the host (two sessions), against the fused graph it replaces:
/// identical pooled weights within 1e-5 for both activations, padded batches of several rows, chunk sizes that
/// split rows and leave a partial last chunk, and head forms of exported graphs.
/// </summary>
public sealed class ChunkedHeadTests(SyntheticModelFixture fixture) : IClassFixture<SyntheticModelFixture>
{
    private const double Tolerance = 1e-5;

    public static TheoryData<HeadEvaluation, int> Variants() => new()
    {
        { HeadEvaluation.GraphChunks, 1 },
        { HeadEvaluation.GraphChunks, 7 },
        { HeadEvaluation.GraphChunks, ChunkedHeadRewriter.DefaultChunkTokens },
        { HeadEvaluation.HostChunks, 1 },
        { HeadEvaluation.HostChunks, 7 },
        { HeadEvaluation.HostChunks, ChunkedHeadRewriter.DefaultChunkTokens },
    };

    [SharedDataTheory]
    [MemberData(nameof(Variants))]
    public void ChunkedHead_EqualsFusedGraph_BothActivations(HeadEvaluation head, int chunkTokens)
    {
        foreach (GeneratedModel generated in new[] { fixture.Bert, fixture.DistilBert })
        {
            SparseModelDefinition model = generated.Load();
            ModelBatch batch = TestBatches.Padded(model, TestBatches.Texts);
            float[] fused = TestBatches.Run(model, batch, new OnnxBackendOptions { IntraOpThreads = 1, Head = HeadEvaluation.Fused });

            using ISparseModelBackend backend = SparseModelBackends.Create(model, new OnnxBackendOptions { IntraOpThreads = 1, Head = head, HeadChunkTokens = chunkTokens });
            float[] chunked = TestBatches.Run(backend, model, batch);

            Assert.Contains("chunks of", backend.Description, StringComparison.Ordinal);
            double difference = TestBatches.MaxAbsDifference(fused, chunked);
            Assert.True(difference <= Tolerance, $"{generated.Activation}, {head} × {chunkTokens}: differs from the fused graph by {difference}");
            Assert.True(fused.Count(w => w > 0) > 100, "too few positive weights for the comparison to prove much");
        }
    }

    [SharedDataFact]
    public void GraphChunks_NoVocabularyWideProductOutsideTheLoop()
    {
        SparseModelDefinition model = fixture.Bert.Load();
        (byte[] bytes, _, _, string description) = OnnxSparseModelBackend.PrepareGraph(model, new OnnxBackendOptions(), NullLogger.Instance);
        ModelProto graph = ModelProto.Parser.ParseFrom(bytes);

        // The only [.., vocabulary] products are inside the Loop body, over one chunk at a time.
        NodeProto loop = Assert.Single(graph.Graph.Node, n => n.OpType == "Loop");
        Assert.DoesNotContain(graph.Graph.Node, n => n.OpType == "MatMul" && WidthOf(graph, n.Input[1]) == SparseModelPreset.BertVocabularySize);
        Assert.Contains(loop.Attribute.Single(a => a.Name == "body").G.Node, n => n.OpType == "MatMul");
        Assert.DoesNotContain(graph.Graph.Output, o => o.Name == "logits");
        Assert.Contains("chunks of 512 tokens", description, StringComparison.Ordinal);
    }

    [SharedDataFact]
    public void ExportedHeadForms_AreFound_AndEqualFused()
    {
        // PyTorch exports store the decoder as its own [hidden, vocab] initializer, put the bias first in the Add,
        // and may end in an Identity; the rewrite must find the head in each form.
        SparseModelDefinition original = fixture.Bert.Load();
        ModelProto graph = ModelProto.Parser.ParseFrom(File.ReadAllBytes(original.ModelPath));
        var index = new GraphIndex(graph.Graph);
        NodeProto add = index.Producers["logits"];
        NodeProto matMul = index.Producers[add.Input[0]];
        ConstantMatrix decoder = index.Matrix(matMul.Input[1])!;
        graph.Graph.Initializer.Add(new TensorProto
        {
            Name = "onnx::MatMul_1234",
            DataType = (int)TensorProto.Types.DataType.Float,
            Dims = { decoder.Rows, decoder.Columns },
            FloatData = { decoder.Values()! },
        });
        matMul.Input[1] = "onnx::MatMul_1234";
        (add.Input[0], add.Input[1]) = (add.Input[1], add.Input[0]);
        add.Output[0] = "logits_before_identity";
        graph.Graph.Node.Add(new NodeProto { OpType = "Identity", Input = { "logits_before_identity" }, Output = { "logits" } });
        GraphPruner.RemoveUnused(graph.Graph);
        SparseModelDefinition exported = WriteVariant("exported-form", graph);

        ModelBatch batch = TestBatches.Padded(original, TestBatches.Texts);
        float[] reference = TestBatches.Run(original, batch, new OnnxBackendOptions { IntraOpThreads = 1, Head = HeadEvaluation.Fused });
        foreach (HeadEvaluation head in new[] { HeadEvaluation.GraphChunks, HeadEvaluation.HostChunks })
        {
            var logger = new ListLogger();
            using ISparseModelBackend backend = SparseModelBackends.Create(exported, new OnnxBackendOptions { IntraOpThreads = 1, Head = head, HeadChunkTokens = 5 }, logger);
            Assert.DoesNotContain(logger.Entries, e => e.Event.Name == "HeadNotChunked");
            Assert.True(TestBatches.MaxAbsDifference(reference, TestBatches.Run(backend, exported, batch)) <= Tolerance, $"{head} differs");
        }
    }

    [Theory]
    [InlineData(HeadEvaluation.GraphChunks)]
    [InlineData(HeadEvaluation.HostChunks)]
    public void HeadNotFound_FallsBackToFusedWithALogLine(HeadEvaluation head)
    {
        // The lookup-table model's logits come from a Gather, not from a projection.
        string directory = LookupTableModel.CreateDirectory(Path.Combine(fixture.Root, "lookup-" + head), SparseModelMode.BiEncoder);
        SparseModelDefinition model = ModelDirectory.Load(directory);
        var logger = new ListLogger();

        using ISparseModelBackend backend = SparseModelBackends.Create(model, new OnnxBackendOptions { IntraOpThreads = 1, Head = head }, logger);

        Assert.Contains(logger.Entries, e => e.Event.Name == "HeadNotChunked" && e.Message.Contains("Gather", StringComparison.Ordinal));
        ModelBatch batch = new([2, 5, 6, 3], [1, 1, 1, 1], 1, 4);
        Assert.Equal(TestBatches.Run(model, batch, new OnnxBackendOptions { IntraOpThreads = 1, Head = HeadEvaluation.Fused }), TestBatches.Run(backend, model, batch));
    }

    [SharedDataFact]
    public void Encoder_WithChunkedHead_EqualsFusedEncoder_OnManyBatchShapes()
    {
        string[] texts = [.. Enumerable.Range(0, 23).Select(i => string.Join(' ', Enumerable.Repeat("sparse search engine", 1 + (i * 7 % 30))))];
        var batching = new SparseEncoderOptions { MaxBatchSize = 8, MaxBatchTokens = 700 };
        using var fused = new SparseEncoder(fixture.DistilBert.Load(), SparseModelBackends.Create(fixture.DistilBert.Load(), new OnnxBackendOptions { IntraOpThreads = 1, Head = HeadEvaluation.Fused }), batching);
        foreach (HeadEvaluation head in new[] { HeadEvaluation.GraphChunks, HeadEvaluation.HostChunks })
        {
            using var chunked = new SparseEncoder(fixture.DistilBert.Load(), SparseModelBackends.Create(fixture.DistilBert.Load(), new OnnxBackendOptions { IntraOpThreads = 1, Head = head, HeadChunkTokens = 64 }), batching);
            IReadOnlyList<SparseVector> expected = fused.EncodeDocuments(texts);
            IReadOnlyList<SparseVector> actual = chunked.EncodeDocuments(texts);
            for (int i = 0; i < texts.Length; i++)
            {
                Assert.Equal(expected[i].TokenIds, actual[i].TokenIds);
                Assert.All(expected[i].Weights.Zip(actual[i].Weights), p => Assert.True(Math.Abs(p.First - p.Second) <= Tolerance, $"text {i}: {p.First} vs {p.Second}"));
            }
        }
    }

    private static long WidthOf(ModelProto graph, string name) => new GraphIndex(graph.Graph).Matrix(name)?.Columns ?? -1;

    private SparseModelDefinition WriteVariant(string name, ModelProto graph)
    {
        string directory = Path.Combine(fixture.Root, name);
        Directory.CreateDirectory(directory);
        foreach (string file in Directory.GetFiles(fixture.Bert.Directory))
        {
            File.Copy(file, Path.Combine(directory, Path.GetFileName(file)), overwrite: true);
        }

        File.WriteAllBytes(Path.Combine(directory, ModelDirectory.ModelFileName), graph.ToByteArray());
        return ModelDirectory.Load(directory);
    }
}
