using NeuralSparse.Core.Tokenization;
using NeuralSparse.Tests;

namespace NeuralSparse.Core.Tests.Tokenization;

public sealed class WordPieceTokenizerTests
{
    public static TheoryData<string, string, int[]> VerifiedVectors()
    {
        // From ../shared/reference/sparse-models.md §5: the first four are Hugging Face tokenizers oracle outputs.
        var cases = new (string Text, int[] Ids)[]
        {
            ("the quick brown fox jumps over the lazy dog", [101, 1996, 4248, 2829, 4419, 14523, 2058, 1996, 13971, 3899, 102]),
            ("unaffable tokenization", [101, 14477, 20961, 3468, 19204, 3989, 102]),
            ("hello, world!", [101, 7592, 1010, 2088, 999, 102]),
            ("qwertzuiopasd flimflam", [101, 1053, 13777, 5753, 10179, 29477, 16150, 13109, 5714, 10258, 3286, 102]),
            ("Hello World", [101, 7592, 2088, 102]),
            ("What's the weather in ny now?", [101, 2054, 1005, 1055, 1996, 4633, 1999, 6396, 2085, 1029, 102]),
            ("Currently New York is rainy.", [101, 2747, 2047, 2259, 2003, 16373, 1012, 102]),
            ("flag embedding", [101, 5210, 7861, 8270, 4667, 102]),
            ("Héllo naïve café 北京 [MASK] test", [101, 7592, 15743, 7668, 1781, 1755, 103, 3231, 102]),
        };
        var data = new TheoryData<string, string, int[]>();
        foreach (string source in new[] { "vocab.txt", "tokenizer.json" })
        {
            foreach ((string text, int[] ids) in cases)
            {
                data.Add(source, text, ids);
            }
        }

        return data;
    }

    [SharedDataTheory]
    [MemberData(nameof(VerifiedVectors))]
    public void Encode_VerifiedVector_MatchesHuggingFaceIds(string source, string text, int[] expected)
    {
        int[] ids = SharedTokenizers.Get(source).Encode(text, 512);

        Assert.Equal(expected, ids);
    }

    [SharedDataFact]
    public void Load_BothFileFormats_HaveTheSameVocabulary()
    {
        WordPieceTokenizer vocab = SharedTokenizers.VocabTxt;
        WordPieceTokenizer json = SharedTokenizers.TokenizerJson;

        Assert.Equal(30522, vocab.VocabularySize);
        Assert.Equal(vocab.VocabularySize, json.VocabularySize);
        for (int id = 0; id < vocab.VocabularySize; id++)
        {
            Assert.Equal(vocab.IdToToken(id), json.IdToToken(id));
        }

        Assert.Equal([0, 100, 101, 102, 103], vocab.SpecialTokenIds.Order());
        Assert.Equal([0, 100, 101, 102, 103], json.SpecialTokenIds.Order());
    }

    [SharedDataFact]
    public void Encode_LowercaseSpecialToken_IsNotSpecial()
    {
        // Specials match case-sensitively in raw text: "[cls]" is ordinary text.
        Assert.Equal(["[", "cl", "##s", "]"], SharedTokenizers.VocabTxt.Tokenize("[cls]"));
        Assert.Equal([101, 101, 102], SharedTokenizers.VocabTxt.Encode("[CLS]", 512));
    }

    [SharedDataFact]
    public void Encode_SpecialTokenGluedToWords_SplitsWithoutBoundary()
    {
        Assert.Equal(["hello", "[MASK]", "world"], SharedTokenizers.VocabTxt.Tokenize("hello[MASK]world"));
    }

    [SharedDataFact]
    public void Encode_Truncation_KeepsClsAndSepAndFirstTokens()
    {
        int[] ids = SharedTokenizers.VocabTxt.Encode("the quick brown fox jumps over the lazy dog", 5);

        Assert.Equal([101, 1996, 4248, 2829, 102], ids);
    }

    [SharedDataFact]
    public void Encode_TruncationInsideAWord_KeepsLeadingPieces()
    {
        // "unaffable" is una ##ffa ##ble; with room for two content tokens HF keeps the first two pieces.
        Assert.Equal([101, 14477, 20961, 102], SharedTokenizers.VocabTxt.Encode("unaffable tokenization", 4));
    }

    [SharedDataFact]
    public void Encode_WordOfMoreThan100Characters_IsOneUnknown()
    {
        WordPieceTokenizer tokenizer = SharedTokenizers.VocabTxt;

        Assert.Equal([101, 100, 102], tokenizer.Encode(new string('a', 101), 512));
        Assert.NotEqual([101, 100, 102], tokenizer.Encode(new string('a', 100), 512));
    }

    [Fact]
    public void Encode_WordLengthLimit_CountsRunesNotUtf16Units()
    {
        // 60 astral characters are 120 UTF-16 units but 60 characters: under the 100-character limit, so the word
        // is split into pieces; 101 of them are over it and become one [UNK].
        WithTinyVocabulary(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "\U0001F600", "##\U0001F600"], tokenizer =>
        {
            IReadOnlyList<string> tokens = tokenizer.Tokenize(string.Concat(Enumerable.Repeat("\U0001F600", 60)));
            Assert.Equal(60, tokens.Count);
            Assert.Equal("##\U0001F600", tokens[^1]);
            Assert.Equal(["[UNK]"], tokenizer.Tokenize(string.Concat(Enumerable.Repeat("\U0001F600", 101))));
        });
    }

    [SharedDataFact]
    public void Encode_UnmatchablePiece_MakesWholeWordUnknown()
    {
        // "hello" matches, but the emoji that follows has no piece: the whole word is one [UNK], not "hello" + [UNK].
        Assert.Equal(["[UNK]"], SharedTokenizers.VocabTxt.Tokenize("hello\U0001F600"));
    }

    [SharedDataFact]
    public void Encode_ControlAndReplacementCharacters_AreRemoved()
    {
        WordPieceTokenizer tokenizer = SharedTokenizers.VocabTxt;

        Assert.Equal(tokenizer.Encode("hello world", 512), tokenizer.Encode("hel\u0000lo\u200B wor\uFFFDld\u0007", 512));
    }

    [SharedDataFact]
    public void Encode_UnicodeWhitespace_SplitsWords()
    {
        WordPieceTokenizer tokenizer = SharedTokenizers.VocabTxt;

        Assert.Equal(tokenizer.Encode("hello world again now", 512), tokenizer.Encode("hello\u00A0world\u3000again\tnow", 512));
    }

    [SharedDataFact]
    public void Encode_AsciiSymbols_AreSplitAsPunctuation()
    {
        Assert.Equal(["a", "$", "b", "+", "c", "~", "d", "|", "e"], SharedTokenizers.VocabTxt.Tokenize("a$b+c~d|e"));
    }

    [SharedDataFact]
    public void Encode_NonAsciiSymbols_AreNotSplit()
    {
        // © (So) is not punctuation, so "a©b" stays one word: its later pieces carry the ## continuation prefix.
        Assert.Equal(["a", "##©", "##b"], SharedTokenizers.VocabTxt.Tokenize("a©b"));
        Assert.Equal(["a", "¿", "b"], SharedTokenizers.VocabTxt.Tokenize("a¿b"));
    }

    [SharedDataFact]
    public void Encode_CjkExtensionB_IsSpacedAsIdeograph()
    {
        // U+20000 is a CJK Extension B ideograph (a surrogate pair in UTF-16): split off as its own word.
        IReadOnlyList<string> tokens = SharedTokenizers.VocabTxt.Tokenize("a\U00020000b");
        Assert.Equal(3, tokens.Count);
        Assert.Equal("a", tokens[0]);
        Assert.Equal("b", tokens[2]);
    }

    [SharedDataFact]
    public void Encode_Accents_AreStrippedAndUppercaseLowered()
    {
        WordPieceTokenizer tokenizer = SharedTokenizers.VocabTxt;

        Assert.Equal(tokenizer.Encode("resume cafe", 512), tokenizer.Encode("RÉSUMÉ CAFÉ", 512));
    }

    [SharedDataFact]
    public void Encode_EmptyOrWhitespaceText_IsOnlyClsSep()
    {
        Assert.Equal([101, 102], SharedTokenizers.VocabTxt.Encode(string.Empty, 512));
        Assert.Equal([101, 102], SharedTokenizers.VocabTxt.Encode(" \t\n ", 512));
    }

    [SharedDataFact]
    public void Encode_IntoSpan_StopsWhenFull()
    {
        Span<int> destination = stackalloc int[3];
        int written = SharedTokenizers.VocabTxt.Encode("hello world again", destination, addSpecialTokens: false);

        Assert.Equal(3, written);
        Assert.Equal([7592, 2088, 2153], destination.ToArray());
    }

    [SharedDataFact]
    public void IdToToken_ReturnsRawVocabularyEntry()
    {
        Assert.Equal("##ing", SharedTokenizers.VocabTxt.IdToToken(2075));
        Assert.Throws<ArgumentOutOfRangeException>(() => SharedTokenizers.VocabTxt.IdToToken(30522));
    }

    [Fact]
    public void Load_MissingFile_NamesThePath()
    {
        var error = Assert.Throws<FileNotFoundException>(() => WordPieceTokenizer.Load("/nonexistent/vocab.txt"));
        Assert.Contains("/nonexistent/vocab.txt", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_VocabularyWithoutSpecials_IsRejectedClearly()
    {
        string path = Path.Combine(Path.GetTempPath(), $"vocab-{Guid.NewGuid():N}.txt");
        File.WriteAllLines(path, ["hello", "world"]);
        try
        {
            var error = Assert.Throws<InvalidDataException>(() => WordPieceTokenizer.Load(path));
            Assert.Contains("[UNK]", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Encode_TinyVocabulary_GreedyLongestMatchFirst()
    {
        WithTinyVocabulary(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "una", "##ff", "##ffa", "##able", "##ble", "##a"], tokenizer =>
        {
            Assert.Equal(["una", "##ffa", "##ble"], tokenizer.Tokenize("unaffable"));
            Assert.Equal(["[UNK]"], tokenizer.Tokenize("unx"));
        });
    }

    private static void WithTinyVocabulary(string[] tokens, Action<WordPieceTokenizer> test)
    {
        string path = Path.Combine(Path.GetTempPath(), $"vocab-{Guid.NewGuid():N}.txt");
        File.WriteAllLines(path, tokens);
        try
        {
            test(WordPieceTokenizer.Load(path));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
