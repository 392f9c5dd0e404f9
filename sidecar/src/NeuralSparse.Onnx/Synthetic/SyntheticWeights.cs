using NeuralSparse.Core.Models.Hub;
using NeuralSparse.Onnx.Graph;

namespace NeuralSparse.Onnx.Synthetic;

/// <summary>
/// Seeded random weights of a masked-LM, held as a Hugging Face <c>state_dict</c> (the parameter names and
/// [out, in] layouts the published checkpoints use, decoder tied to the word embeddings). The same graph builder
/// reads them as it reads a hub checkpoint, and <see cref="SyntheticHubFolder"/> writes them as one.
/// </summary>
internal sealed class SyntheticWeights : ITensorSource
{
    private readonly Dictionary<string, (TensorInfo Info, float[] Values)> _tensors;

    private SyntheticWeights(SyntheticModelSpec spec, Dictionary<string, (TensorInfo, float[])> tensors)
    {
        Spec = spec;
        _tensors = tensors;
    }

    /// <summary>The shape the weights were generated for.</summary>
    public SyntheticModelSpec Spec { get; }

    /// <summary>The config.json-level description.</summary>
    public MaskedLmConfig Config => Spec.ToConfig();

    /// <inheritdoc />
    public string Origin => $"generated weights (seed {Spec.Seed})";

    /// <summary>Every tensor, in generation order.</summary>
    public IEnumerable<TensorInfo> Tensors => _tensors.Values.Select(t => t.Info);

    /// <summary>A tensor's values (row-major, Hugging Face layout).</summary>
    public float[] this[string name] => _tensors[name].Values;

    /// <summary>Generates the weights of <paramref name="spec"/> deterministically from its seed.</summary>
    public static SyntheticWeights Generate(SyntheticModelSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        var random = new Random(spec.Seed);
        float std = spec.WeightStd;

        float[] Normal(long count, float deviation, float mean = 0f)
        {
            float[] values = new float[count];
            for (long i = 0; i < count; i++)
            {
                // Box-Muller; 1 - NextDouble() keeps the logarithm's argument in (0, 1].
                double u1 = 1.0 - random.NextDouble();
                double u2 = random.NextDouble();
                values[i] = mean + (deviation * (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2)));
            }

            return values;
        }

        // Logits have σ ≈ std·√d; a decoder bias 3.5σ below zero leaves a few percent of the vocabulary positive
        // per position, giving hundreds of non-zero terms per document, the order trained models produce.
        float logitStd = std * MathF.Sqrt(spec.HiddenSize);
        var tensors = new Dictionary<string, (TensorInfo, float[])>(StringComparer.Ordinal);
        foreach ((string name, long[] shape, MaskedLmGraphBuilder.ParameterKind kind) in MaskedLmGraphBuilder.Parameters(spec.ToConfig()))
        {
            long count = shape.Aggregate(1L, (a, b) => a * b);
            float[] values = kind switch
            {
                // LayerNorm scales near 1 and shifts near 0, perturbed so a wrong parameter order would show in tests.
                MaskedLmGraphBuilder.ParameterKind.NormScale => Normal(count, 0.1f, 1f),
                MaskedLmGraphBuilder.ParameterKind.NormBias => Normal(count, 0.1f),
                MaskedLmGraphBuilder.ParameterKind.DecoderBias => Normal(count, logitStd * 0.5f, -3.5f * logitStd),
                _ => Normal(count, std),
            };
            tensors[name] = (new TensorInfo(name, "F32", shape), values);
        }

        return new SyntheticWeights(spec, tensors);
    }

    /// <summary>The same tensors with every value mapped (e.g. rounded to float16), for tests.</summary>
    public SyntheticWeights Map(Func<float, float> transform) =>
        new(Spec, _tensors.ToDictionary(t => t.Key, t => (t.Value.Info, t.Value.Values.Select(transform).ToArray()), StringComparer.Ordinal));

    /// <inheritdoc />
    public bool TryGetInfo(string name, out TensorInfo info)
    {
        bool found = _tensors.TryGetValue(name, out (TensorInfo Info, float[]) entry);
        info = entry.Info;
        return found;
    }

    /// <inheritdoc />
    public void Read(string name, Span<float> destination) => _tensors[name].Values.CopyTo(destination);
}
