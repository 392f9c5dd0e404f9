using System.Globalization;
using NeuralSparse.Core.Tokenization;

namespace NeuralSparse.Bench;

/// <summary>Tokenizer throughput on prose-like documents, and managed allocation per document.</summary>
internal static class TokenizerBench
{
    public static void Run(WordPieceTokenizer tokenizer, double minSeconds, Action<string> line)
    {
        string[] documents = Corpus.Documents(tokenizer, 2000, 120, seed: 5);
        long characters = documents.Sum(d => (long)d.Length);
        int[] buffer = new int[512];
        long tokens = 0;
        foreach (string document in documents)
        {
            tokens += tokenizer.Encode(document, buffer, addSpecialTokens: true);
        }

        double seconds = Measure.MedianSeconds(() =>
        {
            foreach (string document in documents)
            {
                tokenizer.Encode(document, buffer, addSpecialTokens: true);
            }
        }, minSeconds);

        long before = GC.GetAllocatedBytesForCurrentThread();
        foreach (string document in documents)
        {
            tokenizer.Encode(document, buffer, addSpecialTokens: true);
        }

        double bytesPerDocument = (GC.GetAllocatedBytesForCurrentThread() - before) / (double)documents.Length;
        line("| tokenizer (one thread) | value |");
        line("|---|---|");
        line(string.Create(CultureInfo.InvariantCulture, $"| documents | {documents.Length} × ~120 words ({tokens / documents.Length} tokens avg) |"));
        line(string.Create(CultureInfo.InvariantCulture, $"| tokens/s | {tokens / seconds / 1e6:F2} M |"));
        line(string.Create(CultureInfo.InvariantCulture, $"| characters/s | {characters / seconds / 1e6:F1} M |"));
        line(string.Create(CultureInfo.InvariantCulture, $"| documents/s | {documents.Length / seconds:F0} |"));
        line(string.Create(CultureInfo.InvariantCulture, $"| managed allocation per document (span API) | {bytesPerDocument:F0} B |"));
    }
}
