using System.Globalization;
using System.Reflection;
using System.Runtime.Loader;
using NeuralSparse.Core.Tokenization;
using NeuralSparse.Tests;

namespace NeuralSparse.Bench;

/// <summary>
/// Tokenizer throughput on one thread, on prose-like documents and on mixed-script text (the differential tests'
/// generator): ours, ours from an older build (<c>--tokenizer-baseline &lt;NeuralSparse.Core.dll&gt;</c>, e.g. the
/// commit before issue 9's fixes), and Hugging Face tokenizers (Rust, through Tokenizers.DotNet) on the same
/// tokenizer.json, side by side in one process. Rates count the ids this build produces, so every row is the same work.
/// </summary>
internal static class TokenizerBench
{
    private const int MaxLength = 512;
    private const int Rounds = 5;

    public static void Run(WordPieceTokenizer tokenizer, string tokenizerJson, string? baselineCore, double minSeconds, Action<string> line)
    {
        string[] prose = Corpus.Documents(tokenizer, 2000, 120, seed: 5);
        var generator = new MixedScriptText(seed: 7);
        string[] mixed = [.. Enumerable.Range(0, 2000).Select(_ => string.Join(' ', Enumerable.Range(0, 10).Select(_ => generator.Next())))];

        SpanApiTable(tokenizer, prose, minSeconds, line);
        line("");

        var candidates = new List<(string Name, Func<string, int> Encode)>
        {
            ("ours, this build: Encode(string, 512)", text => tokenizer.Encode(text, MaxLength).Length),
        };
        if (baselineCore is not null)
        {
            candidates.Add(("ours, the --tokenizer-baseline build: Encode(string, 512)", LoadBaseline(baselineCore, tokenizerJson)));
        }

        using var huggingFace = new Tokenizers.DotNet.Tokenizer(tokenizerJson);
        candidates.Add(("Hugging Face tokenizers (Rust, Tokenizers.DotNet 1.4.1)", text => huggingFace.Encode(text).Length));

        long proseTokens = prose.Sum(d => (long)tokenizer.Encode(d, MaxLength).Length);
        long mixedTokens = mixed.Sum(d => (long)tokenizer.Encode(d, MaxLength).Length);
        line(string.Create(CultureInfo.InvariantCulture,
            $"| tokenizer (one thread) | prose: M tokens/s ({proseTokens / prose.Length} per doc) | mixed scripts: M tokens/s ({mixedTokens / mixed.Length} per doc) |"));
        line("|---|---|---|");

        // Every candidate warms up before any is timed, and the candidates take turns over five rounds (the best
        // round counts), so neither JIT tiering nor a noisy neighbour favours whichever runs first.
        foreach ((_, Func<string, int> encode) in candidates)
        {
            EncodeAll(prose, encode);
            EncodeAll(mixed, encode);
        }

        double[] proseSeconds = [.. candidates.Select(_ => double.MaxValue)];
        double[] mixedSeconds = [.. proseSeconds];
        for (int round = 0; round < Rounds; round++)
        {
            for (int c = 0; c < candidates.Count; c++)
            {
                Func<string, int> encode = candidates[c].Encode;
                proseSeconds[c] = Math.Min(proseSeconds[c], Measure.MedianSeconds(() => EncodeAll(prose, encode), minSeconds / Rounds));
                mixedSeconds[c] = Math.Min(mixedSeconds[c], Measure.MedianSeconds(() => EncodeAll(mixed, encode), minSeconds / Rounds));
            }
        }

        for (int c = 0; c < candidates.Count; c++)
        {
            line(string.Create(CultureInfo.InvariantCulture,
                $"| {candidates[c].Name} | {proseTokens / proseSeconds[c] / 1e6:F2} | {mixedTokens / mixedSeconds[c] / 1e6:F2} |"));
        }

        if (baselineCore is not null)
        {
            line("");
            line($"Baseline build: `{Path.GetFullPath(baselineCore)}`.");
        }
    }

    private static void SpanApiTable(WordPieceTokenizer tokenizer, string[] documents, double minSeconds, Action<string> line)
    {
        long characters = documents.Sum(d => (long)d.Length);
        int[] buffer = new int[MaxLength];
        long tokens = documents.Sum(d => (long)tokenizer.Encode(d, buffer, addSpecialTokens: true));
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
        line("| tokenizer (one thread, span API) | value |");
        line("|---|---|");
        line(string.Create(CultureInfo.InvariantCulture, $"| documents | {documents.Length} × ~120 words ({tokens / documents.Length} tokens avg) |"));
        line(string.Create(CultureInfo.InvariantCulture, $"| tokens/s | {tokens / seconds / 1e6:F2} M |"));
        line(string.Create(CultureInfo.InvariantCulture, $"| characters/s | {characters / seconds / 1e6:F1} M |"));
        line(string.Create(CultureInfo.InvariantCulture, $"| documents/s | {documents.Length / seconds:F0} |"));
        line(string.Create(CultureInfo.InvariantCulture, $"| managed allocation per document (span API) | {bytesPerDocument:F0} B |"));
    }

    private static void EncodeAll(string[] texts, Func<string, int> encode)
    {
        foreach (string text in texts)
        {
            encode(text);
        }
    }

    /// <summary>
    /// <c>Encode(string, int)</c> of the WordPieceTokenizer in another build of NeuralSparse.Core, loaded beside this
    /// one in its own load context; its dependencies resolve to this process's.
    /// </summary>
    private static Func<string, int> LoadBaseline(string corePath, string tokenizerJson)
    {
        Assembly core = new AssemblyLoadContext("tokenizer-baseline").LoadFromAssemblyPath(Path.GetFullPath(corePath));
        Type type = core.GetType(typeof(WordPieceTokenizer).FullName!, throwOnError: true)!;
        object instance = type.GetMethod(nameof(WordPieceTokenizer.Load), [typeof(string)])!.Invoke(null, [tokenizerJson])!;
        var encode = type.GetMethod(nameof(WordPieceTokenizer.Encode), [typeof(string), typeof(int)])!.CreateDelegate<Func<string, int, int[]>>(instance);
        return text => encode(text, MaxLength).Length;
    }
}
