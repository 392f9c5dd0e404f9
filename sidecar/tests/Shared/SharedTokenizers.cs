using NeuralSparse.Core.Tokenization;

namespace NeuralSparse.Tests;

/// <summary>The real bert-base-uncased tokenizers, loaded once per test run.</summary>
internal static class SharedTokenizers
{
    private static readonly Lazy<WordPieceTokenizer> FromVocab = new(() => WordPieceTokenizer.Load(SharedData.VocabTxt));
    private static readonly Lazy<WordPieceTokenizer> FromJson = new(() => WordPieceTokenizer.Load(SharedData.TokenizerJson));

    public static WordPieceTokenizer VocabTxt => FromVocab.Value;

    public static WordPieceTokenizer TokenizerJson => FromJson.Value;

    public static WordPieceTokenizer Get(string source) => source == "vocab.txt" ? VocabTxt : TokenizerJson;
}
