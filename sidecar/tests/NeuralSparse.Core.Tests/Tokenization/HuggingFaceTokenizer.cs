using System.Runtime.InteropServices;
using NeuralSparse.Tests;

namespace NeuralSparse.Core.Tests.Tokenization;

/// <summary>
/// Hugging Face tokenizers (Rust, 0.22, through Tokenizers.DotNet) loading the real bert-base-uncased tokenizer.json:
/// the implementation that transformers' fast tokenizers, sentence-transformers and OpenSearch's bert-uncased
/// analyzer (DJL) run. Ids include [CLS] and [SEP]; tokenizer.json sets no truncation.
/// </summary>
internal static class HuggingFaceTokenizer
{
    private static readonly Lazy<(Tokenizers.DotNet.Tokenizer? Tokenizer, string? Unavailable)> Loaded = new(Load);

    /// <summary>Why the oracle cannot run here, or null when it can.</summary>
    public static string? Unavailable => Loaded.Value.Unavailable;

    /// <summary>Hugging Face's ids for <paramref name="text"/>; the text must be valid UTF-16 (no lone surrogates).</summary>
    public static int[] Encode(string text)
    {
        Tokenizers.DotNet.Tokenizer tokenizer = Loaded.Value.Tokenizer ?? throw new InvalidOperationException(Unavailable);
        lock (tokenizer)
        {
            return Array.ConvertAll(tokenizer.Encode(text), id => (int)id);
        }
    }

    private static (Tokenizers.DotNet.Tokenizer?, string?) Load()
    {
        if (!SharedData.IsAvailable)
        {
            return (null, SharedData.SkipReason);
        }

        if (RuntimeInformation.RuntimeIdentifier != "linux-x64")
        {
            return (null, $"Tokenizers.DotNet's native library is referenced for linux-x64 only; this is {RuntimeInformation.RuntimeIdentifier}.");
        }

        try
        {
            return (new Tokenizers.DotNet.Tokenizer(SharedData.TokenizerJson), null);
        }
        catch (Exception ex) when (ex is DllNotFoundException or BadImageFormatException or Tokenizers.DotNet.TokenizerException)
        {
            return (null, $"Hugging Face tokenizers (Tokenizers.DotNet) could not load: {ex.Message}");
        }
    }
}

/// <summary>A fact that is skipped, with the reason, where the Hugging Face oracle or ../shared is absent.</summary>
internal sealed class HuggingFaceFactAttribute : FactAttribute
{
    public HuggingFaceFactAttribute()
    {
        Skip = HuggingFaceTokenizer.Unavailable;
    }
}
