using System.Text.Json;
using NeuralSparse.Core.Tokenization;

namespace NeuralSparse.Core.Sparse;

/// <summary>
/// Query-token weights of a doc-only model (<c>idf.json</c>: <c>{token: weight}</c>), indexed by token id.
/// Tokens the file does not list weigh 1.0, as in ml-commons' SPARSE_TOKENIZE.
/// </summary>
public sealed class IdfTable
{
    private readonly float[] _weights;

    private IdfTable(float[] weights, int listedCount)
    {
        _weights = weights;
        ListedCount = listedCount;
    }

    /// <summary>How many vocabulary tokens the file gave a weight.</summary>
    public int ListedCount { get; }

    /// <summary>The weight of <paramref name="tokenId"/> (1.0 when unlisted).</summary>
    public float this[int tokenId] => _weights[tokenId];

    /// <summary>
    /// Weights by token id, as a sentence-transformers static-embedding query module stores them (tensor
    /// <c>weight</c>). A weight of 0 drops the token from queries, as that module does.
    /// </summary>
    internal static IdfTable FromWeights(ReadOnlySpan<float> byId, WordPieceTokenizer tokenizer, string origin)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (byId.Length > tokenizer.VocabularySize)
        {
            throw new InvalidDataException(
                $"'{origin}' weighs {byId.Length} tokens but the tokenizer has {tokenizer.VocabularySize}; it belongs to another tokenizer.");
        }

        float[] weights = new float[tokenizer.VocabularySize];
        Array.Fill(weights, 1f);
        for (int id = 0; id < byId.Length; id++)
        {
            weights[id] = byId[id] is var weight && weight >= 0 && float.IsFinite(weight)
                ? weight
                : throw new InvalidDataException($"'{origin}': the weight of token id {id} is {byId[id]}; weights must be finite and not negative.");
        }

        return new IdfTable(weights, byId.Length);
    }

    /// <summary>Loads <c>idf.json</c> against <paramref name="tokenizer"/>'s vocabulary.</summary>
    public static IdfTable Load(string path, WordPieceTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        float[] weights = new float[tokenizer.VocabularySize];
        Array.Fill(weights, 1f);
        int listed = 0;
        int unknown = 0;

        using FileStream stream = File.OpenRead(path);
        using JsonDocument document = JsonDocument.Parse(stream);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"'{path}' must be a JSON object of token to weight.");
        }

        foreach (JsonProperty entry in document.RootElement.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number)
            {
                throw new InvalidDataException($"'{path}': the weight of '{entry.Name}' is not a number.");
            }

            float weight = entry.Value.GetSingle();
            if (!(weight > 0) || !float.IsFinite(weight))
            {
                throw new InvalidDataException($"'{path}': the weight of '{entry.Name}' is {weight}; weights must be positive and finite.");
            }

            if (tokenizer.TryGetId(entry.Name, out int id))
            {
                weights[id] = weight;
                listed++;
            }
            else
            {
                unknown++;
            }
        }

        if (listed == 0)
        {
            throw new InvalidDataException(
                $"'{path}' lists {unknown} tokens and none is in the model's vocabulary; it belongs to another tokenizer.");
        }

        return new IdfTable(weights, listed);
    }
}
