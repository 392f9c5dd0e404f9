using NeuralSparse.Client.Queries;

namespace NeuralSparse.Client.Provisioning;

/// <summary>What a cluster can do, from its version and plugins; checks queries before they are sent.</summary>
public sealed record ClusterCapabilities(Version Version, bool HasNeuralSearch, bool HasMlCommons)
{
    /// <summary>Throws <see cref="NotSupportedException"/>, naming the version needed, when the cluster cannot run <paramref name="query"/>.</summary>
    public void EnsureSupports(Query query)
    {
        ArgumentNullException.ThrowIfNull(query);
        switch (query)
        {
            case NeuralSparseQuery sparse:
                if (!HasNeuralSearch)
                {
                    throw new NotSupportedException("neural_sparse needs the opensearch-neural-search plugin; use RankFeatureFallback with query tokens instead.");
                }

                Require(new Version(2, 11), "the neural_sparse query");
                if (sparse.QueryTokens is not null)
                {
                    Require(new Version(2, 14), "neural_sparse query_tokens");
                }

                if (sparse.Analyzer is not null)
                {
                    Require(new Version(3, 1), "neural_sparse with an analyzer");
                }

                if (sparse.MethodParameters is not null)
                {
                    Require(new Version(3, 3), "neural_sparse method_parameters (sparse ANN)");
                }

                break;
            case BoolQuery @bool:
                foreach (Query clause in @bool.Must.Concat(@bool.Should).Concat(@bool.Filter).Concat(@bool.MustNot))
                {
                    EnsureSupports(clause);
                }

                break;
        }
    }

    private void Require(Version needed, string feature)
    {
        if (Version < needed)
        {
            throw new NotSupportedException($"{feature} needs OpenSearch {needed.Major}.{needed.Minor} or later; the cluster runs {Version}.");
        }
    }
}
