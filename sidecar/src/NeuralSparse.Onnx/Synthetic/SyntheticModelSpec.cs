using NeuralSparse.Core.Models;
using NeuralSparse.Core.Models.Hub;

namespace NeuralSparse.Onnx.Synthetic;

/// <summary>
/// The shape of a generated masked-LM. Weights are random (seeded): the graph computes exactly what a trained
/// model of this shape computes, but its outputs carry no meaning. Used for tests, benchmarks and the demo.
/// </summary>
internal sealed record SyntheticModelSpec(
    SparseModelArchitecture Architecture,
    int Layers,
    int HiddenSize,
    int Heads,
    int IntermediateSize,
    int VocabularySize,
    int MaxPositions = 512,
    int Seed = 1234,
    float WeightStd = SyntheticModelSpec.BertInitializerStd)
{
    /// <summary>BERT's initializer scale (normal, σ = 0.02), used for real-shape models.</summary>
    public const float BertInitializerStd = 0.02f;

    /// <summary>
    /// Test models use larger weights: at σ = 0.02 and 32 dimensions attention scores are ~1e-3, softmax is
    /// uniform, and a wrong attention scale or mask would go unnoticed. At 0.3 every part of the graph matters.
    /// </summary>
    private const float TestWeightStd = 0.3f;

    /// <summary>gte-base-en-v1.5's rotary settings (rope_theta 500,000, NTK factor 2), which doc-v3-gte inherits.</summary>
    private static readonly RotaryConfig GteRotary = new(500_000, 2);

    /// <summary>A tiny BERT (with token_type_ids) over the real 30,522-token vocabulary, for tests.</summary>
    public static SyntheticModelSpec TinyBert(int seed = 7) =>
        new(SparseModelArchitecture.Bert, 2, 32, 4, 64, SparseModelPreset.BertVocabularySize, 512, seed, TestWeightStd);

    /// <summary>A tiny DistilBERT (no token_type_ids) over the real vocabulary, for tests.</summary>
    public static SyntheticModelSpec TinyDistilBert(int seed = 11) =>
        new(SparseModelArchitecture.DistilBert, 2, 32, 4, 64, SparseModelPreset.BertVocabularySize, 512, seed, TestWeightStd);

    /// <summary>A tiny GTE (rotary, packed QKV, gated MLP) with GTE's 30,528 embedding rows, for tests.</summary>
    public static SyntheticModelSpec TinyGte(int seed = 13) =>
        new(SparseModelArchitecture.Gte, 2, 32, 4, 64, SparseModelPreset.BertVocabularySize + 6, 1024, seed, TestWeightStd);

    /// <summary>The real shape of a published model (layers, hidden, heads, FFN), for benchmarks.</summary>
    public static SyntheticModelSpec FromPreset(SparseModelPreset preset, int seed = 1234)
    {
        ArgumentNullException.ThrowIfNull(preset);
        bool gte = preset.Architecture == SparseModelArchitecture.Gte;
        return new(preset.Architecture, preset.Layers, preset.HiddenSize, preset.Heads, preset.IntermediateSize,
            SparseModelPreset.BertVocabularySize + (gte ? 6 : 0), gte ? 8192 : 512, seed);
    }

    /// <summary>Whether the graph takes token_type_ids.</summary>
    public bool TakesTokenTypeIds => Architecture == SparseModelArchitecture.Bert;

    /// <summary>Dimensions per attention head.</summary>
    public int HeadSize => HiddenSize / Heads;

    /// <summary>The config.json-level description of this shape.</summary>
    public MaskedLmConfig ToConfig() => new(
        Architecture, Layers, HiddenSize, Heads, IntermediateSize, VocabularySize, MaxPositions,
        TypeVocabularySize: Architecture == SparseModelArchitecture.Bert ? 2 : 0,
        Rotary: Architecture == SparseModelArchitecture.Gte ? GteRotary : null);

    /// <summary>Throws when the shape is inconsistent.</summary>
    public void Validate()
    {
        if (!(WeightStd > 0))
        {
            throw new ArgumentException($"The weight scale of {this} must be positive.");
        }

        try
        {
            ToConfig().Validate();
        }
        catch (InvalidDataException ex)
        {
            throw new ArgumentException(ex.Message, ex);
        }
    }
}
