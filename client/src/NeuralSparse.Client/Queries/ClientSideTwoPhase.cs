using NeuralSparse.Core.Sparse;

namespace NeuralSparse.Client.Queries;

/// <summary>
/// Two-phase search without the server processor (clusters before 2.15, or indices without the pipeline): rewrites a
/// request with the rule of <c>neural_sparse_two_phase_processor</c> (neural-search <c>NeuralSparseTwoPhaseProcessor</c>,
/// <c>PruneUtils</c>), for queries whose tokens are known on the client (<see cref="NeuralSparseQuery.QueryTokens"/>, e.g.
/// encoded by the sidecar). High-weight tokens stay in the query; the low-weight ones go into a rescore over the same
/// window the processor would use.
/// </summary>
/// <remarks>
/// Same rule, not byte-for-byte the same request: <c>top_k</c> and <c>alpha_mass</c> ties at the cut follow Java
/// <c>HashMap</c> order on the server and ordinal token order here; and when no clause has low tokens the processor still
/// appends a rescore whose query has an empty token map (it collects clauses before splitting), where this adds none.
/// That rescore adds 0 to every score, so the hits and scores are the same.
/// </remarks>
public static class ClientSideTwoPhase
{
    /// <summary>The rewritten request, or <paramref name="request"/> itself when the processor would skip it.</summary>
    /// <exception cref="NotSupportedException">A clause the processor would rewrite is a sparse ANN query (it has <c>method_parameters</c>).</exception>
    public static SearchRequest Apply(SearchRequest request, TwoPhaseParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(parameters);
        parameters.Validate();
        // From 3.8 the processor also skips a request sorted by anything but _score descending: OpenSearch refuses sort
        // together with rescore (NeuralSparseTwoPhaseProcessor.hasIncompatibleSort, 3.8.0.0).
        if (!parameters.Enabled || parameters.PruneRatio == 0f || HasIncompatibleSort(request.Sort))
        {
            return request;
        }

        var lowClauses = new List<(NeuralSparseQuery Query, float Boost)>();
        Query rewritten = Rewrite(request.Query, 1f, parameters.PruneRule, lowClauses);
        if (lowClauses.Count == 0)
        {
            return request;
        }

        // The processor scales the low-token part by the query_weight of rescorers already in the request.
        float outerBoost = request.Rescores.Aggregate(1f, (product, r) => product * r.QueryWeight);
        var rescoreQuery = new BoolQuery
        {
            Should = [.. lowClauses.Select(c => c.Query with { Boost = c.Boost })],
            Boost = outerBoost,
        };
        return request with
        {
            Query = rewritten,
            Rescores = [.. request.Rescores, new Rescore(parameters.WindowSize(request.Size), rescoreQuery)],
        };
    }

    /// <summary>Splits token weights into (high, low) with neural-search's rule.</summary>
    /// <exception cref="ArgumentException">A weight is not positive ("Pruned values must be positive", as PruneUtils says).</exception>
    public static (IReadOnlyDictionary<string, float> High, IReadOnlyDictionary<string, float> Low) Split(
        IReadOnlyDictionary<string, float> tokens, SparsePruneRule rule)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(rule);

        // PruneUtils.splitSparseVector refuses the whole query rather than dropping such a token.
        if (tokens.Values.Any(w => w <= 0f))
        {
            throw new ArgumentException("Pruned values must be positive");
        }

        // The shared rule works on ids: number the tokens in a stable (ordinal) order, split, and map back.
        string[] names = [.. tokens.Keys.Order(StringComparer.Ordinal)];
        SparseVector vector = SparseVector.FromPairs(names.Select((name, id) => KeyValuePair.Create(id, tokens[name])));
        (SparseVector high, SparseVector low) = rule.Split(vector);
        return (ToMap(high, names), ToMap(low, names));
    }

    private static bool HasIncompatibleSort(IReadOnlyList<SortField> sort) => sort.Count > 1 || (sort.Count == 1 && !sort[0].IsScoreDescending);

    private static Query Rewrite(Query query, float boost, SparsePruneRule rule, List<(NeuralSparseQuery, float)> low)
    {
        switch (query)
        {
            case NeuralSparseQuery { MethodParameters: not null }:
                // The processor refuses sparse ANN fields; method_parameters is how a client query shows it targets one.
                throw new NotSupportedException(TwoPhaseParameters.SeismicMessage + " Send sparse ANN queries without two-phase.");

            case NeuralSparseQuery { QueryTokens: { } tokens } sparse:
            {
                // Phase one keeps the high tokens; the phase-two copy (same field and name) carries the low ones.
                (IReadOnlyDictionary<string, float> high, IReadOnlyDictionary<string, float> rest) = Split(tokens, rule);
                if (rest.Count > 0)
                {
                    low.Add((sparse with { QueryTokens = rest, Boost = null }, boost * (sparse.Boost ?? 1f)));
                }

                return sparse with { QueryTokens = high };
            }

            case BoolQuery @bool:
                // Only should clauses are traversed, as the processor does; must/filter/must_not stay one-phase.
                float inner = boost * (@bool.Boost ?? 1f);
                return @bool with { Should = [.. @bool.Should.Select(q => Rewrite(q, inner, rule, low))] };

            default:
                return query;
        }
    }

    private static Dictionary<string, float> ToMap(SparseVector vector, string[] names)
    {
        var map = new Dictionary<string, float>(vector.Count, StringComparer.Ordinal);
        for (int i = 0; i < vector.Count; i++)
        {
            map[names[vector.TokenIds[i]]] = vector.Weights[i];
        }

        return map;
    }
}
