using Google.Protobuf;
using NeuralSparse.Core.Models;
using NeuralSparse.Onnx.Graph;
using NeuralSparse.Onnx.Proto;

namespace NeuralSparse.Onnx.Synthetic;

/// <summary>
/// A diagnostic "masked-LM" whose logits for a token are one row of a table: logits[b, s, :] = table[input_ids[b, s], :].
/// Its pooled output can be computed by hand, it runs in microseconds, and it brings its own small vocabulary, so
/// service tests need neither the real vocabulary nor a transformer.
/// </summary>
internal static class LookupTableModel
{
    /// <summary>A small WordPiece vocabulary: the five BERT specials, then common words and pieces.</summary>
    public static readonly string[] Vocabulary =
    [
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
        "hello", "world", "what", "'", "s", "the", "weather", "in", "ny", "now", "?", "currently", "new", "york", "is",
        "rain", "##y", ".", ",", "!", "sparse", "search", "open", "##search", "a", "b", "c", "北", "京", "caf", "##e",
    ];

    /// <summary>Writes model.onnx, vocab.txt, idf.json and a manifest into <paramref name="directory"/>.</summary>
    public static string CreateDirectory(string directory, SparseModelMode mode, int seed = 42, float scale = 3f, long opset = 18)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllBytes(Path.Combine(directory, ModelDirectory.ModelFileName), Build(Table(seed, scale), opset).ToByteArray());
        File.WriteAllLines(Path.Combine(directory, "vocab.txt"), Vocabulary);
        File.WriteAllText(Path.Combine(directory, "idf.json"),
            """{ "hello": 6.937757, "world": 3.420869, "what": 2.769884, "the": 0.135302, "weather": 4.568416, "ny": 5.772862, "now": 3.58955 }""");
        ModelDirectory.WriteManifest(directory, new ModelManifestFile
        {
            Mode = ModelWireNames.Of(mode),
            Synthetic = true,
            Description = "Lookup-table diagnostic model: NOT a trained model.",
        });
        return directory;
    }

    /// <summary>The seeded [vocab × vocab] table, uniform in [-scale, scale].</summary>
    public static float[] Table(int seed, float scale)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, Vocabulary.Length * Vocabulary.Length).Select(_ => (float)(((random.NextDouble() * 2) - 1) * scale))];
    }

    /// <summary>The graph at the given default-domain opset.</summary>
    public static ModelProto Build(float[] table, long opset)
    {
        var graph = new GraphProto { Name = "lookup" };
        var builder = new OnnxGraphBuilder(graph, string.Empty);
        graph.Input.Add(OnnxGraphBuilder.TensorInfo("input_ids", TensorProto.Types.DataType.Int64, "batch", "sequence"));
        graph.Input.Add(OnnxGraphBuilder.TensorInfo("attention_mask", TensorProto.Types.DataType.Int64, "batch", "sequence"));
        builder.NodeTo("logits", "Gather", [builder.Initializer("table", table, Vocabulary.Length, Vocabulary.Length), "input_ids"]);
        graph.Output.Add(OnnxGraphBuilder.TensorInfo("logits", TensorProto.Types.DataType.Float, "batch", "sequence", (long)Vocabulary.Length));
        var model = new ModelProto { IrVersion = 7, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = opset });
        return model;
    }
}
