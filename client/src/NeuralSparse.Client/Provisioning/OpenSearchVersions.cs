namespace NeuralSparse.Client.Provisioning;

/// <summary>
/// Which OpenSearch release first (or last) does what the SDK relies on, read from the Java source of ml-commons and
/// neural-search at their release tags (X.Y.Z.0). One place, so a rule is changed once; the class named beside each
/// rule is the one to re-read.
/// </summary>
internal static class OpenSearchVersions
{
    /// <summary>The <c>neural_sparse</c> query and the <c>sparse_encoding</c> processor with remote models.</summary>
    public static readonly Version NeuralSparse = new(2, 11);

    /// <summary><c>plugins.ml_commons.connector.private_ip_enabled</c> exists (ml-commons <c>MLCommonsSettings</c>, 2.15.0.0).</summary>
    public static readonly Version PrivateIpSetting = new(2, 15);

    /// <summary>Connector <c>client_config.max_retry_times</c> is honoured (ml-commons <c>ConnectorClientConfig</c>, 2.15.0.0).</summary>
    public static readonly Version ConnectorRetries = new(2, 15);

    /// <summary><c>neural_sparse_two_phase_processor</c> (neural-search <c>NeuralSparseTwoPhaseProcessor</c>, 2.15.0.0).</summary>
    public static readonly Version TwoPhase = new(2, 15);

    /// <summary><c>batch_size</c> on the <c>sparse_encoding</c> processor (neural-search 2.16.0.0).</summary>
    public static readonly Version IngestBatchSize = new(2, 16);

    /// <summary>
    /// <c>prune_type</c> read by the two-phase factory and the <c>sparse_encoding</c> factory (neural-search
    /// <c>NeuralSparseTwoPhaseProcessor.Factory</c>, <c>SparseEncodingProcessorFactory</c>, 2.19.0.0; the 2.15–2.18
    /// two-phase factory reads only <c>prune_ratio</c>).
    /// </summary>
    public static readonly Version PruneType = new(2, 19);

    /// <summary>
    /// A remote model's <c>model_config</c> is parsed as a <c>RemoteModelConfig</c> (ml-commons
    /// <c>MLRegisterModelInput.parse</c>, 3.1.0.0; before, as a <c>TextEmbeddingModelConfig</c>: "embedding dimension is null").
    /// </summary>
    public static readonly Version RemoteModelConfig = new(3, 1);

    /// <summary><c>sparse_vector</c> with SEISMIC and <c>method_parameters</c> (neural-search <c>SparseConstants</c>, 3.3.0.0).</summary>
    public static readonly Version SparseAnn = new(3, 3);

    /// <summary>
    /// Asymmetric remote models (<c>additional_config.is_asymmetric</c>), called with <c>texts</c> and
    /// <c>content_type</c> (neural-search <c>AsymmetricModelDetector</c>, <c>NeuralSearchMLInputBuilder.createAsymmetricRemoteInput</c>,
    /// 3.5.0.0), usable from 3.6 because 3.5.x fails the symmetric case (<see cref="BreaksRemoteModelConfig"/>).
    /// </summary>
    public static readonly Version Asymmetric = new(3, 6);

    /// <summary>
    /// neural-search 3.5.x throws "Remote models are only supported for asymmetric E5 text embedding" for every call
    /// to a remote model that has a <c>model_config</c> and is not asymmetric
    /// (<c>NeuralSearchMLInputBuilder.createTextEmbeddingInput</c>, 3.5.0.0; removed in 3.6.0.0 by #1767).
    /// </summary>
    public static bool BreaksRemoteModelConfig(Version version) => version.Major == 3 && version.Minor == 5;

    /// <summary>Where a symmetric remote model may carry <c>model_config.model_type: SPARSE_ENCODING</c>.</summary>
    public static bool AcceptsSymmetricModelConfig(Version version) => version >= RemoteModelConfig && !BreaksRemoteModelConfig(version);
}
