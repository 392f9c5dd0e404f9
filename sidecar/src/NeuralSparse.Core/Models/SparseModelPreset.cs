using NeuralSparse.Core.Sparse;

namespace NeuralSparse.Core.Models;

/// <summary>
/// Known facts about a published OpenSearch neural sparse model: its mode, activation and transformer shape.
/// A model directory names its preset by hub name; the shape also drives the generated benchmark models.
/// </summary>
public sealed record SparseModelPreset(
    string HubName,
    SparseModelMode Mode,
    SparseActivation Activation,
    SparseModelArchitecture Architecture,
    int Layers,
    int HiddenSize,
    int Heads,
    int IntermediateSize,
    float ModelPruneRatio = 0f)
{
    private const string HubPrefix = "opensearch-project/opensearch-neural-sparse-encoding-";

    /// <summary>The vocabulary (and logit) size of all seven models: bert-base-uncased.</summary>
    public const int BertVocabularySize = 30522;

    /// <summary>Every preset, by hub name.</summary>
    public static IReadOnlyList<SparseModelPreset> All { get; } =
    [
        new(HubPrefix + "v1", SparseModelMode.BiEncoder, SparseActivation.Log1pRelu, SparseModelArchitecture.Bert, 12, 768, 12, 3072),
        new(HubPrefix + "v2-distill", SparseModelMode.BiEncoder, SparseActivation.Log1pRelu, SparseModelArchitecture.DistilBert, 6, 768, 12, 3072),
        new(HubPrefix + "doc-v1", SparseModelMode.DocOnly, SparseActivation.Log1pRelu, SparseModelArchitecture.Bert, 12, 768, 12, 3072),
        new(HubPrefix + "doc-v2-distill", SparseModelMode.DocOnly, SparseActivation.Log1pRelu, SparseModelArchitecture.DistilBert, 6, 768, 12, 3072),
        new(HubPrefix + "doc-v2-mini", SparseModelMode.DocOnly, SparseActivation.Log1pRelu, SparseModelArchitecture.Bert, 6, 384, 12, 1536),

        // OpenSearch's hosted v3 artifacts are "pruned with a maximum value ratio of 0.1" (pretrained-models docs);
        // the presets reproduce that model-side rule (keep w > 0.1 × max). A manifest can set 0 to turn it off.
        new(HubPrefix + "doc-v3-distill", SparseModelMode.DocOnly, SparseActivation.Log1pLog1pRelu, SparseModelArchitecture.DistilBert, 6, 768, 12, 3072, 0.1f),
        new(HubPrefix + "doc-v3-gte", SparseModelMode.DocOnly, SparseActivation.Log1pLog1pRelu, SparseModelArchitecture.Gte, 12, 768, 12, 3072, 0.1f),
    ];

    /// <summary>The short name after the common hub prefix, e.g. <c>doc-v2-mini</c>.</summary>
    public string ShortName => HubName.StartsWith(HubPrefix, StringComparison.Ordinal) ? HubName[HubPrefix.Length..] : HubName;

    /// <summary>Whether the graph takes <c>token_type_ids</c>.</summary>
    public bool TakesTokenTypeIds => Architecture == SparseModelArchitecture.Bert;

    /// <summary>The repository name without its owner, as <c>git clone</c> names the folder.</summary>
    public string RepositoryName => HubName[(HubName.IndexOf('/', StringComparison.Ordinal) + 1)..];

    /// <summary>
    /// Finds a preset by hub name (<c>opensearch-project/opensearch-neural-sparse-encoding-doc-v2-mini</c>), repository
    /// name (<c>opensearch-neural-sparse-encoding-doc-v2-mini</c>) or short name (<c>doc-v2-mini</c>); null when unknown.
    /// </summary>
    public static SparseModelPreset? Find(string name) =>
        All.FirstOrDefault(p => string.Equals(p.HubName, name, StringComparison.OrdinalIgnoreCase)
            || string.Equals(p.RepositoryName, name, StringComparison.OrdinalIgnoreCase)
            || string.Equals(p.ShortName, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// FLOPs per document of <paramref name="sequenceLength"/> tokens: dense GEMMs (2 × MACs), attention and the
    /// MLM head, as in sparse-models.md §7 (embeddings, softmax, LayerNorm and GELU ignored). GTE's gated MLP has
    /// three d × FFN matrices (up, gate, down) where BERT has two.
    /// </summary>
    public double FlopsPerDocument(int sequenceLength, int vocabularySize = BertVocabularySize)
    {
        double d = HiddenSize;
        double feedForwardMatrices = Architecture == SparseModelArchitecture.Gte ? 3 : 2;
        double perToken = (2.0 * Layers * ((4 * d * d) + (feedForwardMatrices * d * IntermediateSize)))
            + (2.0 * ((d * d) + (d * vocabularySize)))
            + (4.0 * Layers * sequenceLength * d);
        return perToken * sequenceLength;
    }
}
