using NeuralSparse.Client.Queries;
using NeuralSparse.Core.Sparse;

namespace NeuralSparse.Client.Provisioning;

/// <summary>What <see cref="NeuralSparseProvisioner"/> sets up: the sidecar as a remote model and an index that uses it.</summary>
public sealed record NeuralSparseSetup
{
    /// <summary>The index to create (or check).</summary>
    public required string Index { get; init; }

    /// <summary>The sidecar's base URL as the cluster's nodes reach it, e.g. <c>http://neural-sparse.search.svc:8080</c>.</summary>
    public required Uri SidecarUrl { get; init; }

    /// <summary>The model's name in the sidecar (its URL segment).</summary>
    public required string SidecarModel { get; init; }

    /// <summary>API key the connector sends to the sidecar; null sends a placeholder (ml-commons needs a credential).</summary>
    public string? SidecarApiKey { get; init; }

    /// <summary>Index into a <c>sparse_vector</c> field with SEISMIC (3.3+) instead of <c>rank_features</c>.</summary>
    public bool SparseAnn { get; init; }

    /// <summary>
    /// Register the model as asymmetric (3.6+): one connector and model id serve ingest (passages through the model) and
    /// <c>neural_sparse</c> with <c>query_text</c> + <c>model_id</c> (queries through the model's query path: the idf table
    /// for a doc-only model). neural-search then sends <c>texts</c> and <c>content_type</c>, which the sidecar's
    /// <c>/encode</c> route dispatches on. Not with <see cref="SparseAnn"/>: that path carries no <c>TOKEN_ID</c> request.
    /// </summary>
    public bool Asymmetric { get; init; }

    /// <summary>Source text field. Defaults to <c>passage_text</c>.</summary>
    public string TextField { get; init; } = "passage_text";

    /// <summary>Vector field. Defaults to <c>passage_embedding</c>.</summary>
    public string VectorField { get; init; } = "passage_embedding";

    /// <summary>Prune at ingest (2.19+); null keeps every weight.</summary>
    public SparsePruneRule? IngestPrune { get; init; }

    /// <summary>Texts per inference call at ingest (<c>batch_size</c>). Defaults to 32.</summary>
    public int IngestBatchSize { get; init; } = 32;

    /// <summary>Install a two-phase search pipeline as the index's default (2.15+); null for none.</summary>
    public TwoPhaseParameters? TwoPhase { get; init; } = TwoPhaseParameters.Default;

    /// <summary>How long to wait for model registration and deployment. Defaults to 2 minutes.</summary>
    public TimeSpan DeployTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Name of the connector and the model in ml-commons.</summary>
    public string ModelName => Asymmetric ? $"neural-sparse-sidecar-{SidecarModel}-asymmetric" : $"neural-sparse-sidecar-{SidecarModel}";

    /// <summary>Name of the ingest pipeline.</summary>
    public string IngestPipeline => $"{Index}-neural-sparse-ingest";

    /// <summary>Name of the two-phase search pipeline.</summary>
    public string SearchPipeline => $"{Index}-neural-sparse-two-phase";
}

/// <summary>What a provisioning run found and did.</summary>
public sealed record ProvisionResult(string ClusterVersion, string ConnectorId, string ModelId, IReadOnlyList<string> Changes);
