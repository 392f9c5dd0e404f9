using NeuralSparse.Core.Tokenization;
using NeuralSparse.Tests;

namespace NeuralSparse.Core.Tests.Tokenization;

/// <summary>
/// Texts whose normalized form is longer than the input: NFD turns one Hangul syllable into 2–3 jamo, each its own
/// token. Expected ids are Hugging Face tokenizers' (Rust, 0.22) for bert-base-uncased's tokenizer.json.
/// </summary>
public sealed class NormalizationGrowthTests
{
    private static readonly int[] KoreanTextIds =
        [101, 1469, 30006, 30021, 29991, 30014, 30020, 29999, 30008, 1467, 30009, 30020, 29997, 30017, 30003, 30017, 102];

    [SharedDataTheory]
    [InlineData("vocab.txt")]
    [InlineData("tokenizer.json")]
    public void Encode_한국어텍스트_Gives17Ids(string source)
    {
        int[] ids = SharedTokenizers.Get(source).Encode("한국어 텍스트", 512);

        Assert.Equal(KoreanTextIds, ids);
    }

    [SharedDataFact]
    public void Tokenize_처리_GivesEveryJamoToken()
    {
        Assert.Equal(["ᄎ", "##ᅥ", "##ᄅ", "##ᅵ"], SharedTokenizers.TokenizerJson.Tokenize("처리"));
    }

    [SharedDataFact]
    public void Encode_처리_GivesEveryJamoId()
    {
        Assert.Equal([101, 1465, 30008, 29994, 30019, 102], SharedTokenizers.TokenizerJson.Encode("처리", 512));
    }

    [SharedDataFact]
    public void Encode_한국어텍스트_TruncatesOnlyAtMaxLength()
    {
        WordPieceTokenizer tokenizer = SharedTokenizers.TokenizerJson;

        Assert.Equal([.. KoreanTextIds[..4], 102], tokenizer.Encode("한국어 텍스트", 5));
        Assert.Equal(KoreanTextIds, tokenizer.Encode("한국어 텍스트", KoreanTextIds.Length));
    }

    [SharedDataFact]
    public void EncodeIntoSpan_한국어텍스트_FillsTheWholeDestination()
    {
        Span<int> destination = stackalloc int[32];

        int count = SharedTokenizers.TokenizerJson.Encode("한국어 텍스트", destination, addSpecialTokens: true);

        Assert.Equal(KoreanTextIds, destination[..count].ToArray());
    }

    [SharedDataFact]
    public void Tokenize_HangulWordsOf33Syllables_KeepAllThreeTokensPerSyllable()
    {
        // Ten words of 33 syllables (99 jamo, under the 100-character word limit): 990 tokens from 339 characters,
        // more than twice the length, which was the old Tokenize guess.
        string text = string.Join(' ', Enumerable.Repeat(string.Concat(Enumerable.Repeat("한", 33)), 10));

        IReadOnlyList<string> tokens = SharedTokenizers.TokenizerJson.Tokenize(text);

        Assert.Equal(990, tokens.Count);
        Assert.Equal(["ᄒ", "##ᅡ", "##ᆫ"], tokens.Take(3));
    }

    [SharedDataFact]
    public void Tokenize_MaxTokens_StopsThere()
    {
        Assert.Equal(["ᄎ", "##ᅥ", "##ᄅ"], SharedTokenizers.TokenizerJson.Tokenize("처리", maxTokens: 3));
    }
}
