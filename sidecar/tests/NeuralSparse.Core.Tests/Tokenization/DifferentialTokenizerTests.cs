using System.Diagnostics;
using System.Globalization;
using System.Text;
using NeuralSparse.Core.Tokenization;
using NeuralSparse.Tests;
using Xunit.Abstractions;

namespace NeuralSparse.Core.Tests.Tokenization;

/// <summary>
/// Our tokenizer against Hugging Face tokenizers (Rust) on the same tokenizer.json: generated mixed-script texts
/// and every Unicode scalar value. Ids must be equal everywhere (docs/tokenizer.md). A longer run:
/// <c>NEURAL_SPARSE_DIFF_STRINGS=1000000 dotnet test sidecar/tests/NeuralSparse.Core.Tests --filter DifferentialTokenizerTests</c>,
/// with <c>NEURAL_SPARSE_DIFF_SEED</c> to pick another seed.
/// </summary>
public sealed class DifferentialTokenizerTests(ITestOutputHelper output)
{
    private const int DefaultStrings = 10_000;
    private const int DefaultSeed = 20_240_917;
    private const int MaxLength = 512;
    private const int FailuresShown = 5;

    [HuggingFaceFact]
    public void GeneratedMixedScriptTexts_MatchHuggingFace()
    {
        int count = EnvironmentInt("NEURAL_SPARSE_DIFF_STRINGS", DefaultStrings);
        int seed = EnvironmentInt("NEURAL_SPARSE_DIFF_SEED", DefaultSeed);
        WordPieceTokenizer tokenizer = SharedTokenizers.TokenizerJson;
        var generator = new MixedScriptText(seed);
        var failures = new List<string>();
        int failureCount = 0;
        long tokens = 0;
        long characters = 0;
        var clock = Stopwatch.StartNew();

        for (int i = 0; i < count; i++)
        {
            string text = generator.Next();
            int[] expected = HuggingFaceTokenizer.Encode(text);
            int[] actual = tokenizer.Encode(text, int.MaxValue);
            int[] expectedTruncated = expected.Length <= MaxLength ? expected : [.. expected[..(MaxLength - 1)], tokenizer.SepId];
            int[] actualTruncated = tokenizer.Encode(text, MaxLength);
            tokens += expected.Length;
            characters += text.Length;
            if (expected.AsSpan().SequenceEqual(actual) && expectedTruncated.AsSpan().SequenceEqual(actualTruncated))
            {
                continue;
            }

            failureCount++;
            if (failures.Count < FailuresShown)
            {
                failures.Add(Describe(tokenizer, $"seed {seed}, text #{i}", text, expected, actual));
            }
        }

        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{count:N0} texts (seed {seed}), {characters:N0} chars, {tokens:N0} Hugging Face ids, {failureCount} different, {clock.Elapsed.TotalSeconds:F1} s."));
        Assert.True(failureCount == 0,
            $"{failureCount} of {count:N0} texts tokenize differently from Hugging Face (seed {seed}); the first {failures.Count}:\n{string.Join("\n", failures)}");
    }

    [HuggingFaceFact]
    public void EveryCodePoint_MatchesHuggingFace()
    {
        // Each scalar value inside a word and alone (what control, mark, punctuation and space rules decide); 512 per
        // text, and a differing text is re-checked one code point at a time to name the culprits.
        WordPieceTokenizer tokenizer = SharedTokenizers.TokenizerJson;
        var different = new List<string>();
        var batch = new StringBuilder();
        var members = new List<int>();
        for (int value = 0; value <= 0x10FFFF; value++)
        {
            if (value is >= 0xD800 and <= 0xDFFF)
            {
                continue;
            }

            members.Add(value);
            if (members.Count == 512 || value == 0x10FFFF)
            {
                if (!Matches(tokenizer, InContexts(batch, members)))
                {
                    different.AddRange(members.Where(v => !Matches(tokenizer, InContexts(batch, [v])))
                        .Select(v => string.Create(CultureInfo.InvariantCulture, $"U+{v:X4} ({Rune.GetUnicodeCategory(new Rune(v))})")));
                }

                members.Clear();
            }
        }

        Assert.True(different.Count == 0,
            $"{different.Count} code points tokenize differently from Hugging Face (the crate's Unicode 8.0 view is BertTextRules.Category): {string.Join(", ", different.Take(50))}");
    }

    [SharedDataFact]
    public void Encode_UnassignedCodePointU0378_MakesItsWordUnknown()
    {
        // Cn is kept, as Hugging Face's Rust tokenizer keeps it, and no vocabulary has it: "a\u0378b" is one [UNK].
        Assert.Equal([101, 100, 1039, 102], SharedTokenizers.TokenizerJson.Encode("a\u0378b c", MaxLength));
    }

    [SharedDataFact]
    public void Encode_NonCharacterUFFFEBesideAccents_IsKeptAndDoesNotThrow()
    {
        // .NET's normalization refuses U+FFFE; Hugging Face keeps it (the word becomes [UNK]).
        Assert.Equal([101, 100, 1060, 102], SharedTokenizers.TokenizerJson.Encode("café\uFFFE x", MaxLength));
        Assert.Equal([101, 100, 102], SharedTokenizers.TokenizerJson.Encode("naïve\uFFFEcafé", MaxLength));
    }

    [SharedDataFact]
    public void Encode_ArabicEndOfTextMarkU061D_IsNotPunctuationToHuggingFace()
    {
        // Po since Unicode 14, unassigned to the crate's Unicode 8.0 tables: it stays in its word, which becomes [UNK].
        Assert.Equal([101, 100, 2928, 102], SharedTokenizers.TokenizerJson.Encode("end\u061D mark", MaxLength));
    }

    [SharedDataFact]
    public void Encode_ArabicPoundMarkU0890_IsNotDroppedAsFormat()
    {
        // Cf since Unicode 14, unassigned to the crate: kept, so "foo\u0890bar" is one [UNK], not "foo" "##bar".
        Assert.Equal([101, 100, 8670, 2480, 102], SharedTokenizers.TokenizerJson.Encode("foo\u0890bar baz", MaxLength));
    }

    [SharedDataFact]
    public void Encode_RecategorizedU166DAndU1734_FollowUnicode8()
    {
        // U+166D is So now and Po in Unicode 8.0 (split off); U+1734 is Mc now and Mn in 8.0 (stripped with accents).
        Assert.Equal([101, 1037, 100, 1038, 102], SharedTokenizers.TokenizerJson.Encode("a\u166Db", MaxLength));
        Assert.Equal([101, 1060, 2100, 102], SharedTokenizers.TokenizerJson.Encode("x\u1734y", MaxLength));
    }

    private static string InContexts(StringBuilder text, IEnumerable<int> values)
    {
        text.Clear();
        foreach (int value in values)
        {
            string c = char.ConvertFromUtf32(value);
            text.Append('a').Append(c).Append("b ").Append(c).Append(' ');
        }

        return text.ToString();
    }

    private static bool Matches(WordPieceTokenizer tokenizer, string text) =>
        HuggingFaceTokenizer.Encode(text).AsSpan().SequenceEqual(tokenizer.Encode(text, int.MaxValue));

    private static string Describe(WordPieceTokenizer tokenizer, string where, string text, int[] expected, int[] actual)
    {
        int first = 0;
        while (first < expected.Length && first < actual.Length && expected[first] == actual[first])
        {
            first++;
        }

        string Tokens(int[] ids) => string.Join(" ", ids.Skip(Math.Max(0, first - 2)).Take(8).Select(tokenizer.IdToToken));
        return $"  {where}: \"{MixedScriptText.Escape(text)}\"\n    first difference at id {first}: Hugging Face [{Tokens(expected)}] ({expected.Length} ids), ours [{Tokens(actual)}] ({actual.Length} ids)";
    }

    private static int EnvironmentInt(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) && value > 0
            ? value
            : fallback;
}
