using NeuralSparse.Onnx.Graph;
using NeuralSparse.Onnx.Proto;

namespace NeuralSparse.Onnx.Synthetic;

/// <summary>
/// Writes <see cref="SyntheticWeights"/> as an ONNX masked-LM graph shaped like an optimum <c>fill-mask</c> export:
/// int64 inputs <c>input_ids</c>, <c>attention_mask</c> (and <c>token_type_ids</c> for BERT), float output
/// <c>logits</c> [batch, sequence, vocab]. Pooling is not in this graph: the backend adds it at load, as it would for
/// a real export.
/// </summary>
internal static class SyntheticOnnxModel
{
    private const long Opset = 17;
    private const float LayerNormEpsilon = 1e-12f;

    public static ModelProto Build(SyntheticWeights weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        SyntheticModelSpec spec = weights.Spec;
        int d = spec.HiddenSize;
        var graph = new GraphProto { Name = $"synthetic_{spec.Architecture}_masked_lm".ToLowerInvariant() };
        var g = new OnnxGraphBuilder(graph, string.Empty);

        graph.Input.Add(OnnxGraphBuilder.TensorInfo("input_ids", TensorProto.Types.DataType.Int64, "batch", "sequence"));
        graph.Input.Add(OnnxGraphBuilder.TensorInfo("attention_mask", TensorProto.Types.DataType.Int64, "batch", "sequence"));
        if (spec.TakesTokenTypeIds)
        {
            graph.Input.Add(OnnxGraphBuilder.TensorInfo("token_type_ids", TensorProto.Types.DataType.Int64, "batch", "sequence"));
        }

        // Embeddings: word + position (+ token type), then LayerNorm.
        string wordEmbeddings = g.Initializer("embeddings.word", weights.WordEmbeddings, spec.VocabularySize, d);
        string x = g.Node("Gather", [wordEmbeddings, "input_ids"]);
        string sequenceLength = g.Node("Gather", [g.Node("Shape", ["input_ids"]), g.Int64Scalar(1)], OnnxGraphBuilder.Int("axis", 0));
        string positions = g.Node("Range", [g.Int64Scalar(0), sequenceLength, g.Int64Scalar(1)]);
        x = g.Node("Add", [x, g.Node("Gather", [g.Initializer("embeddings.position", weights.PositionEmbeddings, spec.MaxPositions, d), positions])]);
        if (spec.TakesTokenTypeIds)
        {
            x = g.Node("Add", [x, g.Node("Gather", [g.Initializer("embeddings.token_type", weights.TokenTypeEmbeddings, 2, d), "token_type_ids"])]);
        }

        x = LayerNorm(g, x, weights.EmbeddingNormScale, weights.EmbeddingNormBias, "embeddings.norm", d);

        // Additive attention mask [batch, 1, 1, sequence]: 0 for tokens, -10000 for padding (exp underflows to 0).
        string maskFloat = g.Node("Cast", ["attention_mask"], OnnxGraphBuilder.Int("to", (long)TensorProto.Types.DataType.Float));
        string maskExpanded = g.Node("Unsqueeze", [maskFloat, g.Int64Vector(1, 2)]);
        string maskBias = g.Node("Mul", [g.Node("Sub", [g.Scalar(1f), maskExpanded]), g.Scalar(-10000f)]);

        for (int l = 0; l < weights.Layers.Count; l++)
        {
            x = Layer(g, x, maskBias, weights.Layers[l], spec, $"layer{l}");
        }

        // MLM head: dense → GELU → LayerNorm → tied decoder (transposed word embeddings) + bias.
        string h = Dense(g, x, weights.HeadTransform, weights.HeadTransformBias, "head.transform", d, d);
        h = LayerNorm(g, Gelu(g, h), weights.HeadNormScale, weights.HeadNormBias, "head.norm", d);
        string decoder = g.Node("Transpose", [wordEmbeddings], OnnxGraphBuilder.Ints("perm", 1, 0));
        g.NodeTo("logits", "Add", [g.Node("MatMul", [h, decoder]), g.Initializer("head.decoder.bias", weights.DecoderBias, spec.VocabularySize)]);
        graph.Output.Add(OnnxGraphBuilder.TensorInfo("logits", TensorProto.Types.DataType.Float, "batch", "sequence", (long)spec.VocabularySize));

        var model = new ModelProto
        {
            IrVersion = 8,
            ProducerName = "neural-sparse-synthetic",
            ProducerVersion = "1",
            DocString = "Generated masked-LM with random seeded weights: NOT a trained model; outputs carry no meaning.",
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = Opset });
        return model;
    }

    private static string Layer(OnnxGraphBuilder g, string x, string maskBias, SyntheticLayerWeights w, SyntheticModelSpec spec, string name)
    {
        int d = spec.HiddenSize;
        long heads = spec.Heads;
        long headSize = spec.HeadSize;
        string headShape = g.Int64Vector(0, 0, heads, headSize);

        string SplitHeads(string t, params long[] perm) =>
            g.Node("Transpose", [g.Node("Reshape", [t, headShape])], OnnxGraphBuilder.Ints("perm", perm));

        string q = SplitHeads(Dense(g, x, w.Query, w.QueryBias, $"{name}.query", d, d), 0, 2, 1, 3);   // [B,H,S,dh]
        string k = SplitHeads(Dense(g, x, w.Key, w.KeyBias, $"{name}.key", d, d), 0, 2, 3, 1);         // [B,H,dh,S]
        string v = SplitHeads(Dense(g, x, w.Value, w.ValueBias, $"{name}.value", d, d), 0, 2, 1, 3);   // [B,H,S,dh]

        string scores = g.Node("Mul", [g.Node("MatMul", [q, k]), g.Scalar(1f / MathF.Sqrt(headSize))]);
        string probabilities = g.Node("Softmax", [g.Node("Add", [scores, maskBias])], OnnxGraphBuilder.Int("axis", -1));
        string context = g.Node("Transpose", [g.Node("MatMul", [probabilities, v])], OnnxGraphBuilder.Ints("perm", 0, 2, 1, 3));
        context = g.Node("Reshape", [context, g.Int64Vector(0, 0, d)]);

        string attention = Dense(g, context, w.AttentionOutput, w.AttentionOutputBias, $"{name}.attention_output", d, d);
        x = LayerNorm(g, g.Node("Add", [x, attention]), w.AttentionNormScale, w.AttentionNormBias, $"{name}.attention_norm", d);

        string hidden = Gelu(g, Dense(g, x, w.FeedForwardIn, w.FeedForwardInBias, $"{name}.ffn_in", d, spec.IntermediateSize));
        string output = Dense(g, hidden, w.FeedForwardOut, w.FeedForwardOutBias, $"{name}.ffn_out", spec.IntermediateSize, d);
        return LayerNorm(g, g.Node("Add", [x, output]), w.OutputNormScale, w.OutputNormBias, $"{name}.output_norm", d);
    }

    private static string Dense(OnnxGraphBuilder g, string x, float[] weight, float[] bias, string name, int inputs, int outputs) =>
        g.Node("Add", [g.Node("MatMul", [x, g.Initializer(name + ".weight", weight, inputs, outputs)]), g.Initializer(name + ".bias", bias, outputs)]);

    private static string LayerNorm(OnnxGraphBuilder g, string x, float[] scale, float[] bias, string name, int d) =>
        g.Node("LayerNormalization", [x, g.Initializer(name + ".scale", scale, d), g.Initializer(name + ".bias", bias, d)],
            OnnxGraphBuilder.Int("axis", -1), OnnxGraphBuilder.Float("epsilon", LayerNormEpsilon));

    /// <summary>Exact GELU, 0.5·x·(1 + erf(x/√2)), as BERT uses; ONNX Runtime fuses the pattern.</summary>
    private static string Gelu(OnnxGraphBuilder g, string x)
    {
        string erf = g.Node("Erf", [g.Node("Mul", [x, g.Scalar(1f / MathF.Sqrt(2f))])]);
        return g.Node("Mul", [g.Node("Mul", [x, g.Node("Add", [erf, g.Scalar(1f)])]), g.Scalar(0.5f)]);
    }
}
