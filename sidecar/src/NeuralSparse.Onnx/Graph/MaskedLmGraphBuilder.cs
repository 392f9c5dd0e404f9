using NeuralSparse.Core.Models;
using NeuralSparse.Core.Models.Hub;
using NeuralSparse.Onnx.Proto;

namespace NeuralSparse.Onnx.Graph;

/// <summary>How a built graph stores its weights and computes.</summary>
internal sealed record MaskedLmGraphOptions
{
    /// <summary>
    /// Float32 (default), or float16 weights with the whole body computed in float16 (for CUDA tensor cores); the
    /// inputs stay int64 and the logits output float32 either way.
    /// </summary>
    public WeightPrecision Precision { get; init; } = WeightPrecision.Float32;

    /// <summary>
    /// Logit columns to keep: the tokenizer's vocabulary size. Rows of the embedding matrix beyond it (GTE
    /// checkpoints have 30,528 for a 30,522-token vocabulary) never reach the output. Null keeps every row.
    /// </summary>
    public int? OutputColumns { get; init; }
}

/// <summary>
/// Builds the ONNX graph of a Hugging Face masked-LM (BertForMaskedLM, DistilBertForMaskedLM, GTE's NewForMaskedLM)
/// from tensors under their Hugging Face names: int64 <c>input_ids</c>, <c>attention_mask</c> (+ <c>token_type_ids</c>
/// for BERT) → float <c>logits</c> [batch, sequence, columns], the form of an optimum <c>fill-mask</c> export, so the
/// pooling rewrite (and any rewrite over the standard masked-LM head) applies unchanged. One builder serves hub
/// checkpoints and generated weights alike. Linear weights ([out, in] in PyTorch) are stored transposed for MatMul.
/// </summary>
internal static class MaskedLmGraphBuilder
{
    /// <summary>The default-domain opset of built graphs.</summary>
    public const long Opset = 17;

    /// <summary>The logits output's name.</summary>
    public const string LogitsName = "logits";

    /// <summary>Builds the graph; large initializers go to <paramref name="externalData"/> when given.</summary>
    /// <exception cref="InvalidDataException">A tensor is missing, has the wrong shape or an unreadable type; the message names it.</exception>
    public static ModelProto Build(MaskedLmConfig config, ITensorSource weights, MaskedLmGraphOptions? options = null, ExternalDataWriter? externalData = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        config.Validate();
        options ??= new MaskedLmGraphOptions();
        int columns = options.OutputColumns ?? config.VocabularySize;
        if (columns < 1 || columns > config.VocabularySize)
        {
            throw new ArgumentOutOfRangeException(nameof(options), columns, $"Output columns must be in [1, {config.VocabularySize}].");
        }

        var graph = new GraphProto { Name = $"{config.Architecture}_masked_lm".ToLowerInvariant() };
        var emitter = new Emitter(new OnnxGraphBuilder(graph, string.Empty, externalData), config, weights, options.Precision);
        emitter.Emit(columns);

        var model = new ModelProto
        {
            IrVersion = 8,
            ProducerName = "neural-sparse",
            ProducerVersion = "1",
            DocString = $"{config.Describe()} masked-LM built from {weights.Origin} ({options.Precision}).",
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = Opset });
        return model;
    }

    /// <summary>What a parameter is, which decides how generated weights are drawn.</summary>
    internal enum ParameterKind
    {
        /// <summary>A weight matrix, an embedding table or a bias.</summary>
        Weight,

        /// <summary>A LayerNorm scale (near 1).</summary>
        NormScale,

        /// <summary>A LayerNorm shift (near 0).</summary>
        NormBias,

        /// <summary>The MLM decoder's bias over the vocabulary.</summary>
        DecoderBias,
    }

    /// <summary>
    /// Every tensor the graph of <paramref name="config"/> reads, under its Hugging Face name and shape, in a fixed
    /// order. The decoder weight is left out: it is tied to the word embeddings, as in the published checkpoints.
    /// </summary>
    internal static IEnumerable<(string Name, long[] Shape, ParameterKind Kind)> Parameters(MaskedLmConfig config)
    {
        Names n = Names.For(config);
        long d = config.HiddenSize;
        long ff = config.IntermediateSize;
        IEnumerable<(string, long[], ParameterKind)> Linear(string name, long outputs, long inputs, bool bias = true) =>
            bias
                ? [(name + ".weight", [outputs, inputs], ParameterKind.Weight), (name + ".bias", [outputs], ParameterKind.Weight)]
                : [(name + ".weight", [outputs, inputs], ParameterKind.Weight)];
        IEnumerable<(string, long[], ParameterKind)> Norm(string name) =>
            [(name + ".weight", [d], ParameterKind.NormScale), (name + ".bias", [d], ParameterKind.NormBias)];

        var all = new List<(string, long[], ParameterKind)> { (n.WordEmbeddings, [config.VocabularySize, d], ParameterKind.Weight) };
        if (n.PositionEmbeddings is not null)
        {
            all.Add((n.PositionEmbeddings, [config.MaxPositions, d], ParameterKind.Weight));
        }

        if (n.TokenTypeEmbeddings is not null)
        {
            all.Add((n.TokenTypeEmbeddings, [config.TypeVocabularySize, d], ParameterKind.Weight));
        }

        all.AddRange(Norm(n.EmbeddingNorm));
        for (int layer = 0; layer < config.Layers; layer++)
        {
            string prefix = string.Format(System.Globalization.CultureInfo.InvariantCulture, n.LayerPrefix, layer);
            if (n.PackedQkv is not null)
            {
                all.AddRange(Linear(prefix + n.PackedQkv, 3 * d, d));
            }
            else
            {
                all.AddRange(Linear(prefix + n.Query, d, d));
                all.AddRange(Linear(prefix + n.Key, d, d));
                all.AddRange(Linear(prefix + n.Value, d, d));
            }

            all.AddRange(Linear(prefix + n.AttentionOutput, d, d));
            all.AddRange(Norm(prefix + n.AttentionNorm));
            all.AddRange(config.Architecture == SparseModelArchitecture.Gte
                ? Linear(prefix + n.FeedForwardIn, 2 * ff, d, bias: false)
                : Linear(prefix + n.FeedForwardIn, ff, d));
            all.AddRange(Linear(prefix + n.FeedForwardOut, d, ff));
            all.AddRange(Norm(prefix + n.OutputNorm));
        }

        all.AddRange(Linear(n.HeadTransform, d, d));
        all.AddRange(Norm(n.HeadNorm));
        all.Add((n.DecoderBias[0], [config.VocabularySize], ParameterKind.DecoderBias));
        return all;
    }

    /// <summary>Hugging Face parameter names of one architecture.</summary>
    private sealed record Names(
        string WordEmbeddings,
        string? PositionEmbeddings,
        string? TokenTypeEmbeddings,
        string EmbeddingNorm,
        string LayerPrefix,
        string Query,
        string Key,
        string Value,
        string? PackedQkv,
        string AttentionOutput,
        string AttentionNorm,
        string FeedForwardIn,
        string FeedForwardOut,
        string OutputNorm,
        string HeadTransform,
        string HeadNorm,
        string Decoder,
        string[] DecoderBias)
    {
        public static Names For(MaskedLmConfig config) => config.Architecture switch
        {
            SparseModelArchitecture.Bert => new(
                "bert.embeddings.word_embeddings.weight", "bert.embeddings.position_embeddings.weight",
                "bert.embeddings.token_type_embeddings.weight", "bert.embeddings.LayerNorm", "bert.encoder.layer.{0}.",
                "attention.self.query", "attention.self.key", "attention.self.value", null,
                "attention.output.dense", "attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm",
                "cls.predictions.transform.dense", "cls.predictions.transform.LayerNorm", "cls.predictions.decoder.weight",
                ["cls.predictions.bias", "cls.predictions.decoder.bias"]),
            SparseModelArchitecture.DistilBert => new(
                "distilbert.embeddings.word_embeddings.weight", "distilbert.embeddings.position_embeddings.weight", null,
                "distilbert.embeddings.LayerNorm", "distilbert.transformer.layer.{0}.",
                "attention.q_lin", "attention.k_lin", "attention.v_lin", null,
                "attention.out_lin", "sa_layer_norm", "ffn.lin1", "ffn.lin2", "output_layer_norm",
                "vocab_transform", "vocab_layer_norm", "vocab_projector.weight", ["vocab_projector.bias"]),
            _ => new(
                "new.embeddings.word_embeddings.weight", null,
                config.TypeVocabularySize > 0 ? "new.embeddings.token_type_embeddings.weight" : null,
                "new.embeddings.LayerNorm", "new.encoder.layer.{0}.",
                "attention.q_proj", "attention.k_proj", "attention.v_proj", config.PackedQkv ? "attention.qkv_proj" : null,
                "attention.o_proj", "attn_ln", "mlp.up_gate_proj", "mlp.down_proj", "mlp_ln",
                "lm_head.dense", "lm_head.norm", "lm_head.decoder.weight", ["lm_head.decoder.bias"]),
        };
    }

    private sealed class Emitter(OnnxGraphBuilder g, MaskedLmConfig config, ITensorSource weights, WeightPrecision precision)
    {
        /// <summary>Added to the attention scores of padding: exp underflows to exactly 0 in float32 and float16.</summary>
        private const float MaskBias = -10000f;

        private readonly Names _names = Names.For(config);
        private readonly int _d = config.HiddenSize;
        private readonly TensorProto.Types.DataType _type = precision == WeightPrecision.Float16
            ? TensorProto.Types.DataType.Float16
            : TensorProto.Types.DataType.Float;

        public void Emit(int columns)
        {
            GraphProto graph = g.Graph;
            graph.Input.Add(OnnxGraphBuilder.TensorInfo("input_ids", TensorProto.Types.DataType.Int64, "batch", "sequence"));
            graph.Input.Add(OnnxGraphBuilder.TensorInfo("attention_mask", TensorProto.Types.DataType.Int64, "batch", "sequence"));
            if (config.TakesTokenTypeIds)
            {
                graph.Input.Add(OnnxGraphBuilder.TensorInfo("token_type_ids", TensorProto.Types.DataType.Int64, "batch", "sequence"));
            }

            string sequenceLength = g.Node("Gather", [g.Node("Shape", ["input_ids"]), g.Int64Scalar(1)], OnnxGraphBuilder.Int("axis", 0));
            string positions = g.Node("Range", [g.Int64Scalar(0), sequenceLength, g.Int64Scalar(1)]);

            string x = Embeddings(positions);
            (string Cos, string Sin)? rotary = config.Rotary is null ? null : RotaryAngles(positions);

            // Additive attention mask [batch, 1, 1, sequence]: 0 for tokens, MaskBias for padding.
            string maskFloat = g.Node("Cast", ["attention_mask"], OnnxGraphBuilder.Int("to", (long)_type));
            string maskExpanded = g.Node("Unsqueeze", [maskFloat, g.Int64Vector(1, 2)]);
            string maskBias = g.Node("Mul", [g.Node("Sub", [Constant(1f), maskExpanded]), Constant(MaskBias)]);

            for (int layer = 0; layer < config.Layers; layer++)
            {
                x = Layer(x, maskBias, rotary, string.Format(System.Globalization.CultureInfo.InvariantCulture, _names.LayerPrefix, layer));
            }

            string logits = Head(x, columns);
            if (_type != TensorProto.Types.DataType.Float)
            {
                logits = g.Node("Cast", [logits], OnnxGraphBuilder.Int("to", (long)TensorProto.Types.DataType.Float));
            }

            g.NodeTo(LogitsName, "Identity", [logits]);
            graph.Output.Add(OnnxGraphBuilder.TensorInfo(LogitsName, TensorProto.Types.DataType.Float, "batch", "sequence", (long)columns));
        }

        /// <summary>word (+ position) (+ token type) embeddings, then LayerNorm.</summary>
        private string Embeddings(string positions)
        {
            string x = g.Node("Gather", [Stored(_names.WordEmbeddings, Read(_names.WordEmbeddings, config.VocabularySize, _d), config.VocabularySize, _d), "input_ids"]);
            if (_names.PositionEmbeddings is { } positionName)
            {
                string table = Stored(positionName, Read(positionName, config.MaxPositions, _d), config.MaxPositions, _d);
                x = g.Node("Add", [x, g.Node("Gather", [table, positions])]);
            }

            if (_names.TokenTypeEmbeddings is { } typeName)
            {
                int types = config.TypeVocabularySize;
                float[] table = Read(typeName, types, _d);
                x = config.TakesTokenTypeIds
                    ? g.Node("Add", [x, g.Node("Gather", [Stored(typeName, table, types, _d), "token_type_ids"])])

                    // GTE takes no token_type_ids; its reference implementation adds type 0 to every token.
                    : g.Node("Add", [x, Stored(typeName + "[0]", table.AsSpan(0, _d), _d)]);
            }

            return LayerNorm(x, _names.EmbeddingNorm);
        }

        private string Layer(string x, string maskBias, (string Cos, string Sin)? rotary, string prefix)
        {
            int d = _d;
            long heads = config.Heads;
            long headSize = config.HeadSize;
            string headShape = g.Int64Vector(0, 0, heads, headSize);
            string SplitHeads(string t) => g.Node("Transpose", [g.Node("Reshape", [t, headShape])], OnnxGraphBuilder.Ints("perm", 0, 2, 1, 3));

            string q, k, v;
            if (_names.PackedQkv is { } packed)
            {
                // One [d, 3d] projection; the output splits into query, key and value in that order.
                string qkv = Dense(x, prefix + packed, d, 3 * d);
                q = g.Node("Slice", [qkv, g.Int64Vector(0), g.Int64Vector(d), g.Int64Vector(-1)]);
                k = g.Node("Slice", [qkv, g.Int64Vector(d), g.Int64Vector(2 * d), g.Int64Vector(-1)]);
                v = g.Node("Slice", [qkv, g.Int64Vector(2 * d), g.Int64Vector(3 * d), g.Int64Vector(-1)]);
            }
            else
            {
                q = Dense(x, prefix + _names.Query, d, d);
                k = Dense(x, prefix + _names.Key, d, d);
                v = Dense(x, prefix + _names.Value, d, d);
            }

            q = SplitHeads(q); // [B, H, S, dh]
            k = SplitHeads(k);
            v = SplitHeads(v);
            if (rotary is { } angles)
            {
                q = Rotate(q, angles, headSize);
                k = Rotate(k, angles, headSize);
            }

            string keysTransposed = g.Node("Transpose", [k], OnnxGraphBuilder.Ints("perm", 0, 1, 3, 2));
            string scores = g.Node("Mul", [g.Node("MatMul", [q, keysTransposed]), Constant(1f / MathF.Sqrt(headSize))]);
            string probabilities = g.Node("Softmax", [g.Node("Add", [scores, maskBias])], OnnxGraphBuilder.Int("axis", -1));
            string context = g.Node("Transpose", [g.Node("MatMul", [probabilities, v])], OnnxGraphBuilder.Ints("perm", 0, 2, 1, 3));
            context = g.Node("Reshape", [context, g.Int64Vector(0, 0, d)]);

            string attention = Dense(context, prefix + _names.AttentionOutput, d, d);
            x = LayerNorm(g.Node("Add", [x, attention]), prefix + _names.AttentionNorm);

            int ff = config.IntermediateSize;
            string hidden;
            if (config.Architecture == SparseModelArchitecture.Gte)
            {
                // Gated MLP: one bias-free [d, 2·ff] projection split into "up" then "gate"; act(gate) · up.
                string upGate = g.Node("MatMul", [x, Matrix(prefix + _names.FeedForwardIn + ".weight", 2 * ff, d)]);
                string up = g.Node("Slice", [upGate, g.Int64Vector(0), g.Int64Vector(ff), g.Int64Vector(-1)]);
                string gate = g.Node("Slice", [upGate, g.Int64Vector(ff), g.Int64Vector(2 * ff), g.Int64Vector(-1)]);
                hidden = g.Node("Mul", [Gelu(gate), up]);
            }
            else
            {
                hidden = Gelu(Dense(x, prefix + _names.FeedForwardIn, d, ff));
            }

            string output = Dense(hidden, prefix + _names.FeedForwardOut, ff, d);
            return LayerNorm(g.Node("Add", [x, output]), prefix + _names.OutputNorm);
        }

        /// <summary>MLM head: dense → GELU → LayerNorm → decoder (the word embeddings when tied) + bias.</summary>
        private string Head(string x, int columns)
        {
            string h = LayerNorm(Gelu(Dense(x, _names.HeadTransform, _d, _d)), _names.HeadNorm);

            // The decoder is usually tied to the word embeddings and then absent from the checkpoint.
            string decoderName = weights.TryGetInfo(_names.Decoder, out _) ? _names.Decoder : _names.WordEmbeddings;
            float[] decoder = Read(decoderName, config.VocabularySize, _d);
            string decoderWeight = Stored(decoderName + "_transposed", Transpose(decoder.AsSpan(0, columns * _d), columns, _d), _d, columns);

            string biasName = _names.DecoderBias.FirstOrDefault(n => weights.TryGetInfo(n, out _))
                ?? throw Missing(_names.DecoderBias[0]);
            float[] bias = Read(biasName, config.VocabularySize);
            return g.Node("Add", [g.Node("MatMul", [h, decoderWeight]), Stored(biasName, bias.AsSpan(0, columns), columns)]);
        }

        /// <summary>
        /// cos and sin of the rotary angles for the sequence's positions, [sequence, head size], gathered from tables
        /// over every position the model allows.
        /// </summary>
        private (string Cos, string Sin) RotaryAngles(string positions)
        {
            int capacity = config.PositionCapacity;
            (float[] cos, float[] sin) = RotaryTables(config.Rotary!, config.HeadSize, capacity, config.MaxPositions);
            string cosTable = Stored("rotary.cos", cos, capacity, config.HeadSize);
            string sinTable = Stored("rotary.sin", sin, capacity, config.HeadSize);
            return (g.Node("Gather", [cosTable, positions]), g.Node("Gather", [sinTable, positions]));
        }

        /// <summary>x·cos + rotate_half(x)·sin, with rotate_half(x) = [−x₂, x₁] over the two halves of the head.</summary>
        private string Rotate(string x, (string Cos, string Sin) angles, long headSize)
        {
            long half = headSize / 2;
            string first = g.Node("Slice", [x, g.Int64Vector(0), g.Int64Vector(half), g.Int64Vector(-1)]);
            string second = g.Node("Slice", [x, g.Int64Vector(half), g.Int64Vector(headSize), g.Int64Vector(-1)]);
            string rotated = g.Node("Concat", [g.Node("Neg", [second]), first], OnnxGraphBuilder.Int("axis", -1));
            return g.Node("Add", [g.Node("Mul", [x, angles.Cos]), g.Node("Mul", [rotated, angles.Sin])]);
        }

        /// <summary>y = x · Wᵀ + b for a PyTorch Linear named <paramref name="name"/> (weight [out, in], bias [out]).</summary>
        private string Dense(string x, string name, int inputs, int outputs) =>
            g.Node("Add", [g.Node("MatMul", [x, Matrix(name + ".weight", outputs, inputs)]), Stored(name + ".bias", Read(name + ".bias", outputs), outputs)]);

        /// <summary>A PyTorch Linear weight [out, in], stored transposed as [in, out].</summary>
        private string Matrix(string name, int outputs, int inputs) =>
            Stored(name + "_transposed", Transpose(Read(name, outputs, inputs), outputs, inputs), inputs, outputs);

        private string LayerNorm(string x, string name) =>
            g.Node("LayerNormalization", [x, Stored(name + ".weight", Read(name + ".weight", _d), _d), Stored(name + ".bias", Read(name + ".bias", _d), _d)],
                OnnxGraphBuilder.Int("axis", -1), OnnxGraphBuilder.Float("epsilon", config.LayerNormEpsilon));

        /// <summary>Exact GELU, 0.5·x·(1 + erf(x/√2)), as the models use; ONNX Runtime fuses the pattern.</summary>
        private string Gelu(string x)
        {
            string erf = g.Node("Erf", [g.Node("Mul", [x, Constant(1f / MathF.Sqrt(2f))])]);
            return g.Node("Mul", [g.Node("Mul", [x, g.Node("Add", [erf, Constant(1f)])]), Constant(0.5f)]);
        }

        private string Constant(float value) => _type == TensorProto.Types.DataType.Float16 ? g.Float16Scalar(value) : g.Scalar(value);

        private string Stored(string name, ReadOnlySpan<float> values, params long[] dims) =>
            _type == TensorProto.Types.DataType.Float16 ? g.Float16Initializer(name, values, dims) : g.Initializer(name, values, dims);

        /// <summary>Reads a tensor after checking it exists with exactly the shape config.json implies.</summary>
        private float[] Read(string name, params long[] shape)
        {
            if (!weights.TryGetInfo(name, out TensorInfo info))
            {
                throw Missing(name);
            }

            if (!info.Shape.SequenceEqual(shape))
            {
                throw new InvalidDataException(
                    $"Tensor '{name}' in '{weights.Origin}' has shape {info.ShapeText}, but config.json ({config.Describe()}) implies {TensorInfo.FormatShape(shape)}. The weights and config.json come from different models: use the config.json that was saved with these weights.");
            }

            float[] values = new float[info.ElementCount];
            weights.Read(name, values);
            return values;
        }

        private InvalidDataException Missing(string name) => new(
            $"'{weights.Origin}' has no tensor '{name}', which a {config.Architecture} masked-LM ({config.Describe()}) needs. The weights are not those of the masked-LM config.json describes (a checkpoint without the MLM head, e.g. saved from the bare model, cannot produce sparse vectors): download the model's own model.safetensors.");

        private static float[] Transpose(ReadOnlySpan<float> source, int rows, int columns)
        {
            const int Block = 32;
            float[] result = new float[source.Length];
            for (int r0 = 0; r0 < rows; r0 += Block)
            {
                int r1 = Math.Min(rows, r0 + Block);
                for (int c0 = 0; c0 < columns; c0 += Block)
                {
                    int c1 = Math.Min(columns, c0 + Block);
                    for (int r = r0; r < r1; r++)
                    {
                        for (int c = c0; c < c1; c++)
                        {
                            result[(c * rows) + r] = source[(r * columns) + c];
                        }
                    }
                }
            }

            return result;
        }
    }

    /// <summary>
    /// cos/sin tables [positions, head size] of rotary embeddings, computed as GTE's reference implementation computes
    /// them in float32 (the precision the model was trained with): inv_freq = 1 / base^(2i/d) with NTK scaling
    /// (base·f, then ÷ f^(2/d)) when the factor stretches the positions, angle = position · inv_freq rounded to
    /// float32, and the two halves of the head sharing each frequency.
    /// </summary>
    internal static (float[] Cos, float[] Sin) RotaryTables(RotaryConfig rotary, int headSize, int positions, int maxPositions)
    {
        int half = headSize / 2;
        bool scaled = rotary.NtkFactor > 1 && positions > maxPositions;
        double theta = scaled ? rotary.Theta * rotary.NtkFactor : rotary.Theta;
        float[] inverseFrequency = new float[half];
        for (int i = 0; i < half; i++)
        {
            float exponent = (float)(2 * i) / headSize;
            float frequency = 1f / (float)Math.Pow(theta, exponent);
            inverseFrequency[i] = scaled ? frequency / (float)Math.Pow(rotary.NtkFactor, 2.0 / headSize) : frequency;
        }

        float[] cos = new float[positions * headSize];
        float[] sin = new float[positions * headSize];
        for (int p = 0; p < positions; p++)
        {
            for (int i = 0; i < half; i++)
            {
                float angle = p * inverseFrequency[i];
                float c = (float)Math.Cos(angle);
                float s = (float)Math.Sin(angle);
                cos[(p * headSize) + i] = cos[(p * headSize) + half + i] = c;
                sin[(p * headSize) + i] = sin[(p * headSize) + half + i] = s;
            }
        }

        return (cos, sin);
    }
}
