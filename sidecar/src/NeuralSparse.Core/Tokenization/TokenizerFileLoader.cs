using System.Text;
using System.Text.Json;

namespace NeuralSparse.Core.Tokenization;

/// <summary>Reads WordPiece vocabularies from Hugging Face <c>tokenizer.json</c> or plain <c>vocab.txt</c>.</summary>
internal static class TokenizerFileLoader
{
    private const int DefaultMaxInputCharsPerWord = 100;
    private static readonly string[] BertSpecialTokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

    public static WordPieceTokenizer Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Tokenizer file '{path}' does not exist.", path);
        }

        return Path.GetExtension(path).Equals(".json", StringComparison.OrdinalIgnoreCase)
            ? LoadTokenizerJson(path)
            : LoadVocabText(path);
    }

    /// <summary>One token per line; the line number is the id. The five BERT specials match in raw text.</summary>
    public static WordPieceTokenizer LoadVocabText(string path)
    {
        var tokens = new List<string>(32_000);
        using (var reader = new StreamReader(path, Encoding.UTF8, detectEncodingFromByteOrderMarks: true))
        {
            while (reader.ReadLine() is { } line)
            {
                tokens.Add(line);
            }
        }

        // A final newline is not an empty token, but an empty line inside the file is one (it keeps ids aligned).
        while (tokens.Count > 0 && tokens[^1].Length == 0)
        {
            tokens.RemoveAt(tokens.Count - 1);
        }

        string[] idToToken = [.. tokens];
        var specials = new List<(string, int)>();
        foreach (string special in BertSpecialTokens)
        {
            int id = Array.IndexOf(idToToken, special);
            if (id >= 0)
            {
                specials.Add((special, id));
            }
        }

        return new WordPieceTokenizer(idToToken, specials, BertNormalizerOptions.Uncased, "[UNK]", "##", DefaultMaxInputCharsPerWord);
    }

    public static WordPieceTokenizer LoadTokenizerJson(string path)
    {
        using FileStream stream = File.OpenRead(path);
        using JsonDocument document = JsonDocument.Parse(stream, new JsonDocumentOptions { MaxDepth = 256 });
        JsonElement root = document.RootElement;

        if (!root.TryGetProperty("model", out JsonElement model) || !model.TryGetProperty("vocab", out JsonElement vocab)
            || vocab.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"'{path}' has no model.vocab object; a WordPiece tokenizer.json is required.");
        }

        if (model.TryGetProperty("type", out JsonElement type) && type.GetString() is { } modelType && modelType != "WordPiece")
        {
            throw new InvalidDataException($"'{path}' declares a {modelType} model; only WordPiece (BERT) tokenizers are supported.");
        }

        var entries = new List<(string Token, int Id)>(32_000);
        foreach (JsonProperty property in vocab.EnumerateObject())
        {
            entries.Add((property.Name, property.Value.GetInt32()));
        }

        var addedTokens = new List<(string Content, int Id, bool Normalized)>();
        if (root.TryGetProperty("added_tokens", out JsonElement added) && added.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement token in added.EnumerateArray())
            {
                string content = token.GetProperty("content").GetString() ?? string.Empty;
                int id = token.GetProperty("id").GetInt32();
                bool normalized = token.TryGetProperty("normalized", out JsonElement n) && n.ValueKind == JsonValueKind.True;
                addedTokens.Add((content, id, normalized));
                entries.Add((content, id));
            }
        }

        int size = entries.Count == 0 ? 0 : entries.Max(e => e.Id) + 1;
        string[] idToToken = new string[size];
        foreach ((string token, int id) in entries)
        {
            if (id < 0)
            {
                throw new InvalidDataException($"'{path}' maps '{token}' to a negative id.");
            }

            idToToken[id] ??= token;
        }

        int missing = Array.FindIndex(idToToken, t => t is null);
        if (missing >= 0)
        {
            throw new InvalidDataException($"'{path}' has no token for id {missing}; ids must be dense from 0.");
        }

        // Added tokens that are not normalized are matched verbatim in the raw text, before normalization.
        var rawSpecials = addedTokens.Where(t => !t.Normalized && t.Content.Length > 0).Select(t => (t.Content, t.Id)).ToList();

        return new WordPieceTokenizer(
            idToToken,
            rawSpecials,
            ReadNormalizer(root),
            model.TryGetProperty("unk_token", out JsonElement unk) ? unk.GetString() ?? "[UNK]" : "[UNK]",
            model.TryGetProperty("continuing_subword_prefix", out JsonElement prefix) ? prefix.GetString() ?? "##" : "##",
            model.TryGetProperty("max_input_chars_per_word", out JsonElement max) && max.ValueKind == JsonValueKind.Number
                ? max.GetInt32()
                : DefaultMaxInputCharsPerWord);
    }

    private static BertNormalizerOptions ReadNormalizer(JsonElement root)
    {
        if (!root.TryGetProperty("normalizer", out JsonElement normalizer) || normalizer.ValueKind != JsonValueKind.Object)
        {
            return BertNormalizerOptions.Uncased;
        }

        static bool Flag(JsonElement element, string name, bool fallback) =>
            element.TryGetProperty(name, out JsonElement value) && value.ValueKind is JsonValueKind.True or JsonValueKind.False
                ? value.GetBoolean()
                : fallback;

        return new BertNormalizerOptions
        {
            CleanText = Flag(normalizer, "clean_text", true),
            HandleChineseCharacters = Flag(normalizer, "handle_chinese_chars", true),
            StripAccents = normalizer.TryGetProperty("strip_accents", out JsonElement strip)
                && strip.ValueKind is JsonValueKind.True or JsonValueKind.False ? strip.GetBoolean() : null,
            Lowercase = Flag(normalizer, "lowercase", true),
        };
    }
}
