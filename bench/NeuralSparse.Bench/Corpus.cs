using NeuralSparse.Core.Tokenization;

namespace NeuralSparse.Bench;

/// <summary>Deterministic benchmark texts.</summary>
internal static class Corpus
{
    /// <summary>
    /// <paramref name="count"/> texts that tokenize to exactly <paramref name="tokens"/> ids including [CLS]/[SEP]:
    /// whole lowercase vocabulary words, each its own single token.
    /// </summary>
    public static string[] TextsOfExactTokens(WordPieceTokenizer tokenizer, int count, int tokens, int seed)
    {
        string[] words = WholeWords(tokenizer);
        var random = new Random(seed);
        var texts = new string[count];
        for (int i = 0; i < count; i++)
        {
            texts[i] = string.Join(' ', Enumerable.Range(0, tokens - 2).Select(_ => words[random.Next(words.Length)]));
            if (tokenizer.Encode(texts[i], int.MaxValue).Length != tokens)
            {
                throw new InvalidOperationException("A benchmark text did not tokenize to the intended length.");
            }
        }

        return texts;
    }

    /// <summary>Prose-like documents: capitalised words, punctuation, digits and some accented and CJK text.</summary>
    public static string[] Documents(WordPieceTokenizer tokenizer, int count, int wordsPerDocument, int seed)
    {
        string[] words = WholeWords(tokenizer);
        string[] extras = ["café", "naïve", "北京", "résumé", "2024", "3.5%", "U.S.", "e-mail", "(see", "below)"];
        var random = new Random(seed);
        var documents = new string[count];
        for (int d = 0; d < count; d++)
        {
            var parts = new List<string>(wordsPerDocument);
            for (int w = 0; w < wordsPerDocument; w++)
            {
                string word = random.Next(20) == 0 ? extras[random.Next(extras.Length)] : words[random.Next(words.Length)];
                if (w == 0 || random.Next(12) == 0)
                {
                    word = char.ToUpperInvariant(word[0]) + word[1..];
                }

                parts.Add(random.Next(9) == 0 ? word + (random.Next(2) == 0 ? "," : ".") : word);
            }

            documents[d] = string.Join(' ', parts);
        }

        return documents;
    }

    private static string[] WholeWords(WordPieceTokenizer tokenizer) =>
        [.. Enumerable.Range(0, tokenizer.VocabularySize)
            .Select(tokenizer.IdToToken)
            .Where(t => t.Length >= 2 && t.All(c => c is >= 'a' and <= 'z'))];
}
