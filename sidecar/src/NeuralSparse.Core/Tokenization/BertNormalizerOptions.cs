namespace NeuralSparse.Core.Tokenization;

/// <summary>Settings of the BERT normalizer, as tokenizer.json's <c>BertNormalizer</c> declares them.</summary>
public sealed record BertNormalizerOptions
{
    /// <summary>Remove control characters and map whitespace to spaces. Defaults to true.</summary>
    public bool CleanText { get; init; } = true;

    /// <summary>Put spaces around CJK ideographs. Defaults to true.</summary>
    public bool HandleChineseCharacters { get; init; } = true;

    /// <summary>Strip accents (NFD, drop Mn). Null follows <see cref="Lowercase"/>, as in Hugging Face. Defaults to null.</summary>
    public bool? StripAccents { get; init; }

    /// <summary>Lowercase the text. Defaults to true (uncased models).</summary>
    public bool Lowercase { get; init; } = true;

    /// <summary>The settings of bert-base-uncased.</summary>
    public static BertNormalizerOptions Uncased { get; } = new();

    internal bool ShouldStripAccents => StripAccents ?? Lowercase;
}
