using NeuralSparse.Core.Sparse;

namespace NeuralSparse.Onnx.Diagnostics;

/// <summary>
/// How closely a variant of a model (int8 weights) reproduces the float32 encodings of the same texts: what a
/// search index would see. Computed on generated weights, so it measures numerical fidelity, not relevance.
/// </summary>
/// <param name="TokenOverlap">Mean Jaccard overlap of the documents' non-zero token sets.</param>
/// <param name="MaxWeightError">Largest absolute weight difference over every document's tokens (union of both sets).</param>
/// <param name="MeanWeightError">Mean absolute weight difference over the same entries.</param>
/// <param name="RankAgreement">Mean Spearman correlation, per query, of the query–document dot products.</param>
/// <param name="TopTenAgreement">Mean share of each query's ten best documents that both variants rank in their top ten.</param>
internal sealed record SparseFidelity(double TokenOverlap, double MaxWeightError, double MeanWeightError, double RankAgreement, double TopTenAgreement)
{
    /// <summary>Compares encodings of the same documents and queries, reference (float32) against candidate.</summary>
    public static SparseFidelity Compare(
        IReadOnlyList<SparseVector> referenceDocuments, IReadOnlyList<SparseVector> candidateDocuments,
        IReadOnlyList<SparseVector> referenceQueries, IReadOnlyList<SparseVector> candidateQueries)
    {
        double overlap = 0;
        double maxError = 0;
        double errorSum = 0;
        long entries = 0;
        for (int d = 0; d < referenceDocuments.Count; d++)
        {
            Dictionary<int, float> reference = AsMap(referenceDocuments[d]);
            Dictionary<int, float> candidate = AsMap(candidateDocuments[d]);
            int union = reference.Keys.Union(candidate.Keys).Count();
            overlap += union == 0 ? 1 : (double)reference.Keys.Intersect(candidate.Keys).Count() / union;
            foreach (int id in reference.Keys.Union(candidate.Keys))
            {
                double error = Math.Abs(reference.GetValueOrDefault(id) - candidate.GetValueOrDefault(id));
                maxError = Math.Max(maxError, error);
                errorSum += error;
                entries++;
            }
        }

        double rank = 0;
        double topTen = 0;
        for (int q = 0; q < referenceQueries.Count; q++)
        {
            double[] expected = [.. referenceDocuments.Select(d => Dot(referenceQueries[q], d))];
            double[] actual = [.. candidateDocuments.Select(d => Dot(candidateQueries[q], d))];
            rank += Spearman(expected, actual);
            int k = Math.Min(10, expected.Length);
            topTen += (double)Top(expected, k).Intersect(Top(actual, k)).Count() / k;
        }

        int queries = Math.Max(1, referenceQueries.Count);
        return new SparseFidelity(
            overlap / Math.Max(1, referenceDocuments.Count), maxError, entries == 0 ? 0 : errorSum / entries, rank / queries, topTen / queries);
    }

    /// <summary>The sparse dot product, the score OpenSearch's neural_sparse query computes.</summary>
    public static double Dot(SparseVector a, SparseVector b)
    {
        double sum = 0;
        int i = 0;
        int j = 0;
        while (i < a.Count && j < b.Count)
        {
            int comparison = a.TokenIds[i].CompareTo(b.TokenIds[j]);
            if (comparison == 0)
            {
                sum += (double)a.Weights[i++] * b.Weights[j++];
            }
            else if (comparison < 0)
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

    /// <summary>Spearman's rank correlation (average ranks for ties); 1 when both are constant.</summary>
    public static double Spearman(double[] a, double[] b)
    {
        double[] ra = Ranks(a);
        double[] rb = Ranks(b);
        double meanA = ra.Average();
        double meanB = rb.Average();
        double covariance = 0;
        double varianceA = 0;
        double varianceB = 0;
        for (int i = 0; i < ra.Length; i++)
        {
            covariance += (ra[i] - meanA) * (rb[i] - meanB);
            varianceA += (ra[i] - meanA) * (ra[i] - meanA);
            varianceB += (rb[i] - meanB) * (rb[i] - meanB);
        }

        return varianceA == 0 || varianceB == 0 ? (varianceA == varianceB ? 1 : 0) : covariance / Math.Sqrt(varianceA * varianceB);
    }

    private static double[] Ranks(double[] values)
    {
        int[] order = [.. Enumerable.Range(0, values.Length).OrderBy(i => values[i])];
        double[] ranks = new double[values.Length];
        for (int start = 0; start < order.Length;)
        {
            int end = start;
            while (end + 1 < order.Length && values[order[end + 1]] == values[order[start]])
            {
                end++;
            }

            for (int k = start; k <= end; k++)
            {
                ranks[order[k]] = (start + end) / 2.0;
            }

            start = end + 1;
        }

        return ranks;
    }

    private static IEnumerable<int> Top(double[] scores, int k) =>
        Enumerable.Range(0, scores.Length).OrderByDescending(i => scores[i]).Take(k);

    private static Dictionary<int, float> AsMap(SparseVector vector) =>
        vector.TokenIds.Zip(vector.Weights).ToDictionary(p => p.First, p => p.Second);
}
