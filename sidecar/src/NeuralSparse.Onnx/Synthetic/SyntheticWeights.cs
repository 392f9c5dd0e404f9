namespace NeuralSparse.Onnx.Synthetic;

/// <summary>Weights of one transformer layer; matrices are [in, out] row-major (x · W).</summary>
internal sealed class SyntheticLayerWeights
{
    public required float[] Query { get; init; }
    public required float[] QueryBias { get; init; }
    public required float[] Key { get; init; }
    public required float[] KeyBias { get; init; }
    public required float[] Value { get; init; }
    public required float[] ValueBias { get; init; }
    public required float[] AttentionOutput { get; init; }
    public required float[] AttentionOutputBias { get; init; }
    public required float[] AttentionNormScale { get; init; }
    public required float[] AttentionNormBias { get; init; }
    public required float[] FeedForwardIn { get; init; }
    public required float[] FeedForwardInBias { get; init; }
    public required float[] FeedForwardOut { get; init; }
    public required float[] FeedForwardOutBias { get; init; }
    public required float[] OutputNormScale { get; init; }
    public required float[] OutputNormBias { get; init; }
}

/// <summary>
/// Seeded random weights of a post-LayerNorm BERT/DistilBERT masked-LM with a tied decoder (the decoder matrix is
/// the transposed word embedding, as in the published models).
/// </summary>
internal sealed class SyntheticWeights
{
    private SyntheticWeights(SyntheticModelSpec spec) => Spec = spec;

    public SyntheticModelSpec Spec { get; }
    public float[] WordEmbeddings { get; private init; } = [];
    public float[] PositionEmbeddings { get; private init; } = [];
    public float[] TokenTypeEmbeddings { get; private init; } = [];
    public float[] EmbeddingNormScale { get; private init; } = [];
    public float[] EmbeddingNormBias { get; private init; } = [];
    public IReadOnlyList<SyntheticLayerWeights> Layers { get; private init; } = [];
    public float[] HeadTransform { get; private init; } = [];
    public float[] HeadTransformBias { get; private init; } = [];
    public float[] HeadNormScale { get; private init; } = [];
    public float[] HeadNormBias { get; private init; } = [];
    public float[] DecoderBias { get; private init; } = [];

    /// <summary>Generates the weights of <paramref name="spec"/> deterministically from its seed.</summary>
    public static SyntheticWeights Generate(SyntheticModelSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        var random = new Random(spec.Seed);
        int d = spec.HiddenSize;
        int ff = spec.IntermediateSize;
        float std = spec.WeightStd;

        float[] Normal(int count, float std, float mean = 0f)
        {
            float[] values = new float[count];
            for (int i = 0; i < count; i++)
            {
                // Box-Muller; 1 - NextDouble() keeps the logarithm's argument in (0, 1].
                double u1 = 1.0 - random.NextDouble();
                double u2 = random.NextDouble();
                values[i] = mean + (std * (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2)));
            }

            return values;
        }

        // LayerNorm scales near 1 and biases near 0, perturbed so a wrong parameter order would show in tests.
        float[] NormScale() => Normal(d, 0.1f, 1f);
        float[] NormBias() => Normal(d, 0.1f);

        var layers = new SyntheticLayerWeights[spec.Layers];
        for (int l = 0; l < layers.Length; l++)
        {
            layers[l] = new SyntheticLayerWeights
            {
                Query = Normal(d * d, std), QueryBias = Normal(d, std),
                Key = Normal(d * d, std), KeyBias = Normal(d, std),
                Value = Normal(d * d, std), ValueBias = Normal(d, std),
                AttentionOutput = Normal(d * d, std), AttentionOutputBias = Normal(d, std),
                AttentionNormScale = NormScale(), AttentionNormBias = NormBias(),
                FeedForwardIn = Normal(d * ff, std), FeedForwardInBias = Normal(ff, std),
                FeedForwardOut = Normal(ff * d, std), FeedForwardOutBias = Normal(d, std),
                OutputNormScale = NormScale(), OutputNormBias = NormBias(),
            };
        }

        // Logits have σ ≈ std·√d; a decoder bias 3.5σ below zero leaves a few percent of the vocabulary positive
        // per position, giving hundreds of non-zero terms per document, the order trained models produce.
        float logitStd = std * MathF.Sqrt(d);
        return new SyntheticWeights(spec)
        {
            WordEmbeddings = Normal(spec.VocabularySize * d, std),
            PositionEmbeddings = Normal(spec.MaxPositions * d, std),
            TokenTypeEmbeddings = spec.TakesTokenTypeIds ? Normal(2 * d, std) : [],
            EmbeddingNormScale = NormScale(),
            EmbeddingNormBias = NormBias(),
            Layers = layers,
            HeadTransform = Normal(d * d, std),
            HeadTransformBias = Normal(d, std),
            HeadNormScale = NormScale(),
            HeadNormBias = NormBias(),
            DecoderBias = Normal(spec.VocabularySize, logitStd * 0.5f, -3.5f * logitStd),
        };
    }
}
