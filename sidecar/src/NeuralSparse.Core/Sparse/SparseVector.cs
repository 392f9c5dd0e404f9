using System.Globalization;

namespace NeuralSparse.Core.Sparse;

/// <summary>
/// A sparse encoding: token ids in ascending order with their weights. Every weight is positive and finite.
/// </summary>
public sealed class SparseVector
{
    internal SparseVector(int[] tokenIds, float[] weights)
    {
        TokenIds = tokenIds;
        Weights = weights;
    }

    /// <summary>An encoding with no tokens (an empty text, or everything pruned).</summary>
    public static SparseVector Empty { get; } = new([], []);

    /// <summary>Token ids, ascending.</summary>
    public IReadOnlyList<int> TokenIds { get; }

    /// <summary>Weights, parallel to <see cref="TokenIds"/>.</summary>
    public IReadOnlyList<float> Weights { get; }

    /// <summary>Number of non-zero entries.</summary>
    public int Count => TokenIds.Count;

    /// <summary>
    /// Builds a vector from a dense row: keeps positive finite weights, skipping <paramref name="excludedIds"/>
    /// (the special tokens, which carry no meaning as terms).
    /// </summary>
    internal static SparseVector FromDense(ReadOnlySpan<float> dense, IReadOnlySet<int> excludedIds)
    {
        int count = 0;
        for (int id = 0; id < dense.Length; id++)
        {
            if (IsKept(dense[id]) && !excludedIds.Contains(id))
            {
                count++;
            }
        }

        if (count == 0)
        {
            return Empty;
        }

        int[] ids = new int[count];
        float[] weights = new float[count];
        int next = 0;
        for (int id = 0; id < dense.Length; id++)
        {
            if (IsKept(dense[id]) && !excludedIds.Contains(id))
            {
                ids[next] = id;
                weights[next++] = dense[id];
            }
        }

        return new SparseVector(ids, weights);
    }

    /// <summary>Builds a vector from (id, weight) pairs in any order; non-positive or non-finite weights are dropped.</summary>
    public static SparseVector FromPairs(IEnumerable<KeyValuePair<int, float>> pairs)
    {
        KeyValuePair<int, float>[] kept = [.. pairs.Where(p => IsKept(p.Value)).OrderBy(p => p.Key)];
        return kept.Length == 0
            ? Empty
            : new SparseVector([.. kept.Select(p => p.Key)], [.. kept.Select(p => p.Value)]);
    }

    /// <summary>This vector with every weight above <paramref name="max"/> lowered to it (itself when none is).</summary>
    internal SparseVector WithMaxWeight(float max)
    {
        if (!Weights.Any(w => w > max))
        {
            return this;
        }

        return new SparseVector([.. TokenIds], [.. Weights.Select(w => Math.Min(w, max))]);
    }

    /// <summary>Dot product with another sparse vector (the score a linear rank_features query gives, before quantization).</summary>
    public double Dot(SparseVector other)
    {
        ArgumentNullException.ThrowIfNull(other);
        double sum = 0;
        int i = 0;
        int j = 0;
        while (i < Count && j < other.Count)
        {
            int a = TokenIds[i];
            int b = other.TokenIds[j];
            if (a == b)
            {
                sum += (double)Weights[i++] * other.Weights[j++];
            }
            else if (a < b)
            {
                i++;
            }
            else
            {
                j++;
            }
        }

        return sum;
    }

    /// <summary>
    /// The <c>{token: weight}</c> map that OpenSearch consumes, keyed by vocabulary string (WORD) or by the decimal
    /// token id (TOKEN_ID).
    /// </summary>
    public IReadOnlyDictionary<string, float> ToTokenMap(Func<int, string> idToToken, SparseKeyFormat format)
    {
        ArgumentNullException.ThrowIfNull(idToToken);
        var map = new Dictionary<string, float>(Count, StringComparer.Ordinal);
        for (int i = 0; i < Count; i++)
        {
            string key = format == SparseKeyFormat.TokenId
                ? TokenIds[i].ToString(CultureInfo.InvariantCulture)
                : idToToken(TokenIds[i]);

            // Distinct ids can share a string only in malformed vocabularies; keep the larger weight, as a max-pool would.
            map[key] = map.TryGetValue(key, out float existing) ? Math.Max(existing, Weights[i]) : Weights[i];
        }

        return map;
    }

    private static bool IsKept(float weight) => weight > 0f && float.IsFinite(weight);
}

/// <summary>How sparse vector keys are written (ml-commons <c>sparse_embedding_format</c>).</summary>
public enum SparseKeyFormat
{
    /// <summary>Vocabulary strings, e.g. <c>"##ing"</c> (ml-commons <c>WORD</c>, the default).</summary>
    Word,

    /// <summary>Decimal token ids as strings, e.g. <c>"2075"</c> (ml-commons <c>TOKEN_ID</c>, for sparse_vector fields).</summary>
    TokenId,
}
