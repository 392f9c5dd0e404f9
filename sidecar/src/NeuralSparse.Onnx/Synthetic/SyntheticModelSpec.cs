using NeuralSparse.Core.Models;

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

    /// <summary>A tiny BERT (with token_type_ids) over the real 30,522-token vocabulary, for tests.</summary>
    public static SyntheticModelSpec TinyBert(int seed = 7) =>
        new(SparseModelArchitecture.Bert, 2, 32, 4, 64, SparseModelPreset.BertVocabularySize, 512, seed, TestWeightStd);

    /// <summary>A tiny DistilBERT (no token_type_ids) over the real vocabulary, for tests.</summary>
    public static SyntheticModelSpec TinyDistilBert(int seed = 11) =>
        new(SparseModelArchitecture.DistilBert, 2, 32, 4, 64, SparseModelPreset.BertVocabularySize, 512, seed, TestWeightStd);

    /// <summary>The real shape of a published model (layers, hidden, heads, FFN), for benchmarks.</summary>
    public static SyntheticModelSpec FromPreset(SparseModelPreset preset, int seed = 1234)
    {
        ArgumentNullException.ThrowIfNull(preset);

        // GTE's rotary attention is not reproduced; its BERT-base-sized stand-in has the same GEMM shapes.
        SparseModelArchitecture architecture = preset.Architecture == SparseModelArchitecture.Gte
            ? SparseModelArchitecture.DistilBert
            : preset.Architecture;
        return new(architecture, preset.Layers, preset.HiddenSize, preset.Heads, preset.IntermediateSize,
            SparseModelPreset.BertVocabularySize, 512, seed);
    }

    /// <summary>Whether the graph takes token_type_ids.</summary>
    public bool TakesTokenTypeIds => Architecture == SparseModelArchitecture.Bert;

    /// <summary>Dimensions per attention head.</summary>
    public int HeadSize => HiddenSize / Heads;

    /// <summary>Throws when the shape is inconsistent.</summary>
    public void Validate()
    {
        if (Layers < 1 || HiddenSize < 1 || Heads < 1 || IntermediateSize < 1 || VocabularySize < 1 || MaxPositions < 2 || !(WeightStd > 0))
        {
            throw new ArgumentException($"Every dimension of {this} must be positive.");
        }

        if (HiddenSize % Heads != 0)
        {
            throw new ArgumentException($"Hidden size {HiddenSize} is not divisible by {Heads} heads.");
        }
    }
}
