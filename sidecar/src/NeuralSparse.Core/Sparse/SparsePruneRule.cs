using System.Globalization;
using NeuralSparse.Core.Errors;

namespace NeuralSparse.Core.Sparse;

/// <summary>Pruning strategies of neural-search (2.19+), by their wire names.</summary>
public enum SparsePruneType
{
    /// <summary><c>none</c>: keep everything.</summary>
    None,

    /// <summary><c>max_ratio</c>: keep weights ≥ ratio × the largest weight.</summary>
    MaxRatio,

    /// <summary><c>top_k</c>: keep the k largest weights.</summary>
    TopK,

    /// <summary><c>alpha_mass</c>: keep the largest weights while their running sum stays ≤ ratio × the total.</summary>
    AlphaMass,

    /// <summary><c>abs_value</c>: keep weights ≥ ratio.</summary>
    AbsValue,
}

/// <summary>
/// A prune rule with exactly the semantics and validation of neural-search's PruneType/PruneUtils, so a vector pruned
/// here equals the one the cluster would keep from the same weights.
/// </summary>
public sealed record SparsePruneRule(SparsePruneType Type, float Ratio)
{
    /// <summary>No pruning.</summary>
    public static SparsePruneRule None { get; } = new(SparsePruneType.None, 0f);

    /// <summary>The wire name (<c>max_ratio</c>, ...).</summary>
    public string TypeName => ToWireName(Type);

    /// <summary>
    /// Parses <c>prune_type</c> / <c>prune_ratio</c> as neural-search does: null or empty type means none; a ratio
    /// without a type is refused; the ratio must suit the type.
    /// </summary>
    public static SparsePruneRule Parse(string? pruneType, double? pruneRatio)
    {
        SparsePruneType type = ParseType(pruneType);
        if (type == SparsePruneType.None)
        {
            return pruneRatio is null
                ? None
                : throw NeuralSparseException.Validation("prune_ratio field is not supported when prune_type is not provided");
        }

        if (pruneRatio is null)
        {
            throw NeuralSparseException.Validation($"prune_ratio is required when prune_type is {ToWireName(type)}");
        }

        var rule = new SparsePruneRule(type, (float)pruneRatio.Value);
        rule.Validate();
        return rule;
    }

    /// <summary>Parses a wire name; unknown names fail with neural-search's message.</summary>
    public static SparsePruneType ParseType(string? pruneType) => pruneType switch
    {
        null or "" or "none" => SparsePruneType.None,
        "max_ratio" => SparsePruneType.MaxRatio,
        "top_k" => SparsePruneType.TopK,
        "alpha_mass" => SparsePruneType.AlphaMass,
        "abs_value" => SparsePruneType.AbsValue,
        _ => throw NeuralSparseException.Validation($"Unknown prune type: {pruneType}"),
    };

    /// <summary>Throws a validation error unless the ratio is legal for the type (neural-search's isValidPruneRatio).</summary>
    public void Validate()
    {
        string? problem = Type switch
        {
            SparsePruneType.TopK when !(Ratio > 0 && Ratio == MathF.Floor(Ratio)) => "prune_ratio should be positive integer.",
            SparsePruneType.MaxRatio or SparsePruneType.AlphaMass when !(Ratio >= 0 && Ratio < 1) => "prune_ratio should be in the range [0, 1).",
            SparsePruneType.AbsValue when !(Ratio >= 0) => "prune_ratio should be non-negative.",
            _ => null,
        };
        if (problem is not null)
        {
            throw NeuralSparseException.Validation(
                string.Create(CultureInfo.InvariantCulture, $"Illegal prune_ratio {Ratio:F6} for prune_type: {TypeName}. {problem}"));
        }
    }

    /// <summary>The kept part of <paramref name="vector"/> (neural-search's pruneSparseVector).</summary>
    public SparseVector Apply(SparseVector vector) => Split(vector).High;

    /// <summary>
    /// Splits <paramref name="vector"/> into the kept (high) and dropped (low) tokens, as the two-phase processor does
    /// (neural-search's splitSparseVector).
    /// </summary>
    public (SparseVector High, SparseVector Low) Split(SparseVector vector)
    {
        ArgumentNullException.ThrowIfNull(vector);
        if (Type == SparsePruneType.None || vector.Count == 0)
        {
            return (vector, SparseVector.Empty);
        }

        bool[] keep = Type switch
        {
            SparsePruneType.MaxRatio => KeepAtLeast(vector, vector.Weights.Max() * Ratio),
            SparsePruneType.AbsValue => KeepAtLeast(vector, Ratio),
            SparsePruneType.TopK => KeepTopK(vector, (int)Ratio),
            SparsePruneType.AlphaMass => KeepAlphaMass(vector, Ratio),
            _ => throw new InvalidOperationException($"Unhandled prune type {Type}."),
        };

        return (Select(vector, keep, true), Select(vector, keep, false));
    }

    private static string ToWireName(SparsePruneType type) => type switch
    {
        SparsePruneType.None => "none",
        SparsePruneType.MaxRatio => "max_ratio",
        SparsePruneType.TopK => "top_k",
        SparsePruneType.AlphaMass => "alpha_mass",
        SparsePruneType.AbsValue => "abs_value",
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    private static bool[] KeepAtLeast(SparseVector vector, float threshold)
    {
        bool[] keep = new bool[vector.Count];
        for (int i = 0; i < keep.Length; i++)
        {
            keep[i] = vector.Weights[i] >= threshold;
        }

        return keep;
    }

    private static bool[] KeepTopK(SparseVector vector, int k)
    {
        // A min-heap of k entries where a newcomer replaces the minimum only if strictly greater: among equal
        // weights the first seen stays. Entries are visited in ascending token id, so ties keep the lower id.
        var heap = new PriorityQueue<int, (float Weight, int Order)>();
        for (int i = 0; i < vector.Count; i++)
        {
            float weight = vector.Weights[i];
            if (heap.Count < k)
            {
                heap.Enqueue(i, (weight, -i));
            }
            else if (heap.TryPeek(out _, out var smallest) && weight > smallest.Weight)
            {
                heap.DequeueEnqueue(i, (weight, -i));
            }
        }

        bool[] keep = new bool[vector.Count];
        while (heap.TryDequeue(out int index, out _))
        {
            keep[index] = true;
        }

        return keep;
    }

    private static bool[] KeepAlphaMass(SparseVector vector, float alpha)
    {
        // Descending by weight (ties by ascending id); keep an entry iff the running sum including it stays within
        // alpha × total. The entry that crosses the threshold is excluded, and so is everything after it.
        int[] order = [.. Enumerable.Range(0, vector.Count).OrderByDescending(i => vector.Weights[i]).ThenBy(i => i)];
        double total = 0;
        foreach (float weight in vector.Weights)
        {
            total += weight;
        }

        float limit = alpha * (float)total;
        float running = 0f;
        bool[] keep = new bool[vector.Count];
        foreach (int index in order)
        {
            running += vector.Weights[index];
            if (running > limit)
            {
                break;
            }

            keep[index] = true;
        }

        return keep;
    }

    private static SparseVector Select(SparseVector vector, bool[] keep, bool wanted)
    {
        var pairs = new List<KeyValuePair<int, float>>();
        for (int i = 0; i < keep.Length; i++)
        {
            if (keep[i] == wanted)
            {
                pairs.Add(new(vector.TokenIds[i], vector.Weights[i]));
            }
        }

        return SparseVector.FromPairs(pairs);
    }
}
