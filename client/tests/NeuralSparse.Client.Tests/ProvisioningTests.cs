using System.Text.Json.Nodes;
using NeuralSparse.Client.Provisioning;
using NeuralSparse.Client.Queries;
using NeuralSparse.Client.Transport;
using NeuralSparse.Core.Sparse;
using NeuralSparse.Tests.Schema;

namespace NeuralSparse.Client.Tests;

public sealed class ProvisioningTests
{
    private static readonly NeuralSparseSetup Setup = new()
    {
        Index = "docs",
        SidecarUrl = new Uri("http://neural-sparse.search.svc:8080"),
        SidecarModel = "doc-v3-distill",
        SidecarApiKey = "key",
        IngestPrune = new SparsePruneRule(SparsePruneType.MaxRatio, 0.1f),
    };

    [Fact]
    public async Task FreshCluster_GetsEverything_WithBodiesTheApiSpecAccepts()
    {
        var cluster = new FakeOpenSearch("3.1.0");

        ProvisionResult result = await new NeuralSparseProvisioner(cluster).EnsureAsync(Setup);

        Assert.Equal(
            ["cluster settings: trusted the sidecar endpoint", "connector: created", "model: registered and deployed",
             "ingest pipeline: created", "search pipeline: created", "index: created"],
            result.Changes);
        Assert.Equal("3.1.0", result.ClusterVersion);
        JsonNode index = cluster.Indices["docs"];
        Assert.Equal("rank_features", index["mappings"]!["properties"]!["passage_embedding"]!["type"]!.GetValue<string>());
        Assert.Equal("docs-neural-sparse-ingest", index["settings"]!["index.default_pipeline"]!.GetValue<string>());
        Assert.Equal("docs-neural-sparse-two-phase", index["settings"]!["index.search.default_pipeline"]!.GetValue<string>());
        JsonNode processor = cluster.IngestPipelines["docs-neural-sparse-ingest"]["processors"]![0]!["sparse_encoding"]!;
        Assert.Equal(result.ModelId, processor["model_id"]!.GetValue<string>());
        Assert.Equal("max_ratio", processor["prune_type"]!.GetValue<string>());
        Assert.Equal("http://neural-sparse.search.svc:8080/v1/models/doc-v3-distill/documents",
            cluster.Connectors.Single().Value["actions"]![0]!["url"]!.GetValue<string>());
        Assert.Equal("SPARSE_ENCODING", cluster.Models.Single().Value["model_config"]!["model_type"]!.GetValue<string>());
        Assert.True(cluster.ResponseSchemaErrors.Count == 0, string.Join("\n", cluster.ResponseSchemaErrors)); // the canned responses are shaped as the spec says

        if (OpenSearchSpec.Find() is { } spec)
        {
            foreach ((string ns, string body, JsonNode json) in new[]
            {
                ("cluster.yaml", "cluster.put_settings", cluster.Sent("PUT", "/_cluster/settings")),
                ("ml.yaml", "ml.create_connector", cluster.Sent("POST", "/_plugins/_ml/connectors/_create")),
                ("ml.yaml", "ml.register_model", cluster.Sent("POST", "/_plugins/_ml/models/_register?deploy=true")),
                ("ingest.yaml", "ingest.put_pipeline", cluster.Sent("PUT", "/_ingest/pipeline/docs-neural-sparse-ingest")),
                ("indices.yaml", "indices.create", cluster.Sent("PUT", "/docs")),
            })
            {
                IReadOnlyList<string> errors = spec.Validate(ns, body, json);
                Assert.True(errors.Count == 0, $"{body}: {string.Join("; ", errors)}");
            }
        }
    }

    [Fact]
    public async Task FreshCluster_RequestBodies_MatchTheGoldens()
    {
        var cluster = new FakeOpenSearch("3.1.0");
        ProvisionResult result = await new NeuralSparseProvisioner(cluster).EnsureAsync(Setup);

        QueryJsonTests.AssertJson("""
            {"persistent":{"plugins.ml_commons.trusted_connector_endpoints_regex":["^https://runtime\\.sagemaker\\..*[a-z0-9-]\\.amazonaws\\.com/.*$",
              "^https://api\\.openai\\.com/.*$","^https://bedrock-runtime\\..*[a-z0-9-]\\.amazonaws\\.com/.*$","^http://neural-sparse\\.search\\.svc:8080/.*$"],
              "plugins.ml_commons.connector.private_ip_enabled":true}}
            """, cluster.Sent("PUT", "/_cluster/settings"));
        QueryJsonTests.AssertJson("""
            {"name":"neural-sparse-sidecar-doc-v3-distill","description":"Neural sparse sidecar, model doc-v3-distill","version":1,"protocol":"http",
             "credential":{"api_key":"key"},"parameters":{"sparse_embedding_format":"WORD"},
             "actions":[{"action_type":"predict","method":"POST","url":"http://neural-sparse.search.svc:8080/v1/models/doc-v3-distill/documents",
               "headers":{"Content-Type":"application/json","Authorization":"Bearer ${credential.api_key}"},
               "request_body":"{ \"texts\": ${parameters.input}, \"sparse_embedding_format\": \"${parameters.sparse_embedding_format}\" }"}],
             "client_config":{"max_connection":64,"read_timeout":60,"max_retry_times":3,"retry_backoff_policy":"exponential_full_jitter"}}
            """, cluster.Sent("POST", "/_plugins/_ml/connectors/_create"));
        QueryJsonTests.AssertJson($$$"""
            {"name":"neural-sparse-sidecar-doc-v3-distill","function_name":"remote","description":"Neural sparse sidecar, model doc-v3-distill",
             "connector_id":"{{{result.ConnectorId}}}","model_config":{"model_type":"SPARSE_ENCODING"}}
            """, cluster.Sent("POST", "/_plugins/_ml/models/_register?deploy=true"));
        QueryJsonTests.AssertJson($$$"""
            {"description":"Sparse encoding through the neural sparse sidecar","processors":[{"sparse_encoding":{
              "model_id":"{{{result.ModelId}}}","field_map":{"passage_text":"passage_embedding"},"prune_type":"max_ratio","prune_ratio":0.1,"batch_size":32}}]}
            """, cluster.Sent("PUT", "/_ingest/pipeline/docs-neural-sparse-ingest"));
        QueryJsonTests.AssertJson("""
            {"description":"Two-phase neural sparse search","request_processors":[{"neural_sparse_two_phase_processor":{"enabled":true,
              "two_phase_parameter":{"prune_type":"max_ratio","prune_ratio":0.4,"expansion_rate":5,"max_window_size":10000}}}]}
            """, cluster.Sent("PUT", "/_search/pipeline/docs-neural-sparse-two-phase"));
        QueryJsonTests.AssertJson("""
            {"settings":{"index.default_pipeline":"docs-neural-sparse-ingest","index.search.default_pipeline":"docs-neural-sparse-two-phase"},
             "mappings":{"properties":{"passage_text":{"type":"text"},"passage_embedding":{"type":"rank_features"}}}}
            """, cluster.Sent("PUT", "/docs"));
    }

    [Fact]
    public async Task SecondRun_ChangesNothing()
    {
        var cluster = new FakeOpenSearch("3.1.0");
        var provisioner = new NeuralSparseProvisioner(cluster);
        ProvisionResult first = await provisioner.EnsureAsync(Setup);
        int mutations = cluster.Mutations;

        ProvisionResult second = await provisioner.EnsureAsync(Setup);

        Assert.Empty(second.Changes);
        Assert.Equal(mutations, cluster.Mutations);
        Assert.Equal((first.ConnectorId, first.ModelId), (second.ConnectorId, second.ModelId));
    }

    [Fact]
    public async Task PartialEarlierRun_IsCompleted()
    {
        // An earlier run registered the model but died before deployment finished.
        var cluster = new FakeOpenSearch("2.19.1");
        string connectorId = cluster.AddConnector("neural-sparse-sidecar-doc-v3-distill");
        cluster.AddModel("neural-sparse-sidecar-doc-v3-distill", connectorId, "REGISTERED");
        cluster.Settings["plugins.ml_commons.trusted_connector_endpoints_regex"] = new JsonArray("^https://api\\.openai\\.com/.*$");

        ProvisionResult result = await new NeuralSparseProvisioner(cluster).EnsureAsync(Setup);

        Assert.Equal(["cluster settings: trusted the sidecar endpoint", "model: deployed", "ingest pipeline: created", "search pipeline: created", "index: created"], result.Changes);
        Assert.Equal("DEPLOYED", cluster.Models.Single().Value["model_state"]!.GetValue<string>());
        Assert.Equal(2, cluster.Settings["plugins.ml_commons.trusted_connector_endpoints_regex"]!.AsArray().Count); // the existing entry is kept
        Assert.False(cluster.Models.Single().Value.AsObject().ContainsKey("model_config")); // 2.x: no model_type
    }

    /// <summary>
    /// Defect A: neural-search 3.5.0.0 <c>NeuralSearchMLInputBuilder.createTextEmbeddingInput</c> throws "Remote models are
    /// only supported for asymmetric E5 text embedding" for a non-asymmetric remote model with a model_config (removed
    /// in 3.6.0.0); ml-commons parses it as a RemoteModelConfig only from 3.1.0.0 (<c>MLRegisterModelInput.parse</c>).
    /// </summary>
    [Theory]
    [InlineData("3.0.0", false)]
    [InlineData("3.1.0", true)]
    [InlineData("3.4.0", true)]
    [InlineData("3.5.0", false)]
    [InlineData("3.5.1", false)]
    [InlineData("3.6.0", true)]
    [InlineData("3.8.0", true)]
    public async Task ModelConfig_IsSentOnlyWhereNeuralSearchCanCallTheModel(string version, bool expected)
    {
        var cluster = new FakeOpenSearch(version);

        await new NeuralSparseProvisioner(cluster).EnsureAsync(Setup);

        Assert.Equal(expected, cluster.Sent("POST", "/_plugins/_ml/models/_register?deploy=true").AsObject().ContainsKey("model_config"));
    }

    /// <summary>Defect C: ml-commons MLCommonsSettings defines connector.private_ip_enabled from 2.15.0.0 only.</summary>
    [Theory]
    [InlineData("2.11.0", false)]
    [InlineData("2.14.0", false)]
    [InlineData("2.15.0", true)]
    public async Task PrivateIpSetting_IsSetOnlyWhereItExists(string version, bool expected)
    {
        var cluster = new FakeOpenSearch(version);

        await new NeuralSparseProvisioner(cluster).EnsureAsync(Setup with { TwoPhase = null, IngestPrune = null });

        Assert.Equal(expected, cluster.Sent("PUT", "/_cluster/settings")["persistent"]!.AsObject().ContainsKey("plugins.ml_commons.connector.private_ip_enabled"));
    }

    /// <summary>
    /// Defect D: ml-commons' model index does not map connector_id (ml_model.json), so it is analysed text and a term
    /// query on a mixed-case id never matches; ml-commons itself searches it with a match query
    /// (DeleteConnectorTransportAction). The existing model must be found, not registered again.
    /// </summary>
    [Fact]
    public async Task ExistingModel_IsFoundByItsMixedCaseConnectorId()
    {
        var cluster = new FakeOpenSearch("3.1.0");
        string connectorId = cluster.AddConnector("neural-sparse-sidecar-doc-v3-distill");
        string modelId = cluster.AddModel("neural-sparse-sidecar-doc-v3-distill", connectorId, "DEPLOYED");

        ProvisionResult result = await new NeuralSparseProvisioner(cluster).EnsureAsync(Setup);

        Assert.Equal(modelId, result.ModelId);
        Assert.Single(cluster.Models);
        Assert.DoesNotContain(result.Changes, c => c.StartsWith("model:", StringComparison.Ordinal));
    }

    /// <summary>
    /// Defect F: trusted_connector_endpoints_regex replaces the whole list and its default holds the cloud providers'
    /// hosts (ml-commons MLCommonsSettings); a cluster relying on the default must keep it after our PUT.
    /// </summary>
    [Fact]
    public async Task TrustedEndpoints_KeepMlCommonsDefaults()
    {
        var cluster = new FakeOpenSearch("3.1.0");

        await new NeuralSparseProvisioner(cluster).EnsureAsync(Setup);

        Assert.Equal([.. FakeOpenSearch.DefaultTrustedEndpoints, "^http://neural-sparse\\.search\\.svc:8080/.*$"],
            cluster.Settings["plugins.ml_commons.trusted_connector_endpoints_regex"]!.AsArray().Select(n => n!.GetValue<string>()));
    }

    /// <summary>Transient cluster settings override persistent ones (Metadata: persistent, then transient on top).</summary>
    [Fact]
    public async Task TrustedEndpoints_InATransientSetting_AreKeptAndStillEffective()
    {
        var cluster = new FakeOpenSearch("3.1.0");
        cluster.TransientSettings["plugins.ml_commons.trusted_connector_endpoints_regex"] = new JsonArray("^https://mine\\.example/.*$");

        await new NeuralSparseProvisioner(cluster).EnsureAsync(Setup);

        string[] expected = ["^https://mine\\.example/.*$", "^http://neural-sparse\\.search\\.svc:8080/.*$"];
        Assert.Equal(expected, cluster.TransientSettings["plugins.ml_commons.trusted_connector_endpoints_regex"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal(expected, cluster.Settings["plugins.ml_commons.trusted_connector_endpoints_regex"]!.AsArray().Select(n => n!.GetValue<string>()));
    }

    /// <summary>
    /// Defect G: neural-search's two-phase processor throws on SEISMIC fields (NeuralSparseTwoPhaseProcessor.validateSeismicQuery,
    /// 3.3.0.0+), so a sparse ANN index must never get the two-phase pipeline as its default, on the first run or a later one.
    /// </summary>
    [Fact]
    public async Task SparseAnnWithTwoPhase_IsRefusedWithTheProcessorsMessage()
    {
        var cluster = new FakeOpenSearch("3.3.0");

        var error = await Assert.ThrowsAsync<NotSupportedException>(() => new NeuralSparseProvisioner(cluster).EnsureAsync(Setup with { SparseAnn = true }));

        Assert.Contains("Two phase search processor is not compatible with [seismic] field", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, cluster.Mutations);
    }

    [Fact]
    public async Task SparseAnn_SecondRun_ChangesNothing()
    {
        var cluster = new FakeOpenSearch("3.3.0");
        var provisioner = new NeuralSparseProvisioner(cluster);
        NeuralSparseSetup ann = Setup with { SparseAnn = true, TwoPhase = null };
        await provisioner.EnsureAsync(ann);

        ProvisionResult second = await provisioner.EnsureAsync(ann);

        Assert.Empty(second.Changes);
        Assert.False(cluster.Indices["docs"]["settings"]!.AsObject().ContainsKey("index.search.default_pipeline"));
    }

    /// <summary>
    /// Defect H: the two-phase factory reads prune_type from 2.19.0.0 (NeuralSparseTwoPhaseProcessor.Factory); on 2.15–2.18
    /// it reads only prune_ratio, so alpha_mass and abs_value run silently as max_ratio and a top_k ratio fails "[0, 1]".
    /// </summary>
    [Theory]
    [InlineData(SparsePruneType.TopK, 5f)]
    [InlineData(SparsePruneType.AlphaMass, 0.4f)]
    [InlineData(SparsePruneType.AbsValue, 0.4f)]
    public async Task TwoPhasePruneTypeOtherThanMaxRatio_NeedsTwoNineteen(SparsePruneType type, float ratio)
    {
        NeuralSparseSetup setup = Setup with { IngestPrune = null, TwoPhase = new TwoPhaseParameters { PruneType = type, PruneRatio = ratio } };

        var error = await Assert.ThrowsAsync<NotSupportedException>(() => new NeuralSparseProvisioner(new FakeOpenSearch("2.18.0")).EnsureAsync(setup));

        Assert.EndsWith("needs OpenSearch 2.19 or later; the cluster runs 2.18.0.", error.Message, StringComparison.Ordinal);
        Assert.Contains(setup.TwoPhase.PruneRule.TypeName, error.Message, StringComparison.Ordinal);
        await new NeuralSparseProvisioner(new FakeOpenSearch("2.19.0")).EnsureAsync(setup);
    }

    [Fact]
    public async Task TwoPhaseMaxRatio_WorksFromTwoFifteen()
    {
        var cluster = new FakeOpenSearch("2.15.0");

        await new NeuralSparseProvisioner(cluster).EnsureAsync(Setup with { IngestPrune = null });

        Assert.True(cluster.SearchPipelines.ContainsKey("docs-neural-sparse-two-phase"));
    }

    /// <summary>
    /// Asymmetric remote models (neural-search AsymmetricModelDetector, NeuralSearchMLInputBuilder.createAsymmetricRemoteInput):
    /// is_asymmetric in additional_config; the connector sends texts + content_type to the sidecar's /encode route.
    /// </summary>
    [Fact]
    public async Task Asymmetric_RegistersOneModelForBothSides_WithTheBodiesTheBlueprintUses()
    {
        var cluster = new FakeOpenSearch("3.6.0");

        ProvisionResult result = await new NeuralSparseProvisioner(cluster).EnsureAsync(Setup with { Asymmetric = true, TwoPhase = null });

        QueryJsonTests.AssertJson("""
            {"name":"neural-sparse-sidecar-doc-v3-distill-asymmetric","description":"Neural sparse sidecar, model doc-v3-distill","version":1,"protocol":"http",
             "credential":{"api_key":"key"},"parameters":{},
             "actions":[{"action_type":"predict","method":"POST","url":"http://neural-sparse.search.svc:8080/v1/models/doc-v3-distill/encode",
               "headers":{"Content-Type":"application/json","Authorization":"Bearer ${credential.api_key}"},
               "request_body":"{ \"texts\": ${parameters.texts}, \"content_type\": \"${parameters.content_type}\" }"}],
             "client_config":{"max_connection":64,"read_timeout":60,"max_retry_times":3,"retry_backoff_policy":"exponential_full_jitter"}}
            """, cluster.Sent("POST", "/_plugins/_ml/connectors/_create"));
        QueryJsonTests.AssertJson($$$"""
            {"name":"neural-sparse-sidecar-doc-v3-distill-asymmetric","function_name":"remote","description":"Neural sparse sidecar, model doc-v3-distill",
             "connector_id":"{{{result.ConnectorId}}}","model_config":{"model_type":"SPARSE_ENCODING","additional_config":{"is_asymmetric":true} } }
            """, cluster.Sent("POST", "/_plugins/_ml/models/_register?deploy=true"));
        Assert.Equal("rank_features", cluster.Indices["docs"]["mappings"]!["properties"]!["passage_embedding"]!["type"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("3.5.0", false, "needs OpenSearch 3.6 or later")]
    [InlineData("3.6.0", true, "cannot feed a sparse_vector field")]
    public async Task Asymmetric_IsRefusedBeforeThreeSix_AndWithSparseAnn(string version, bool sparseAnn, string message)
    {
        NeuralSparseSetup setup = Setup with { Asymmetric = true, SparseAnn = sparseAnn, TwoPhase = null };

        var error = await Assert.ThrowsAsync<NotSupportedException>(() => new NeuralSparseProvisioner(new FakeOpenSearch(version)).EnsureAsync(setup));

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Defect E: for a remote model the register task is COMPLETED at once and deployment runs asynchronously
    /// (ml-commons MLModelManager.deployModelAfterRegistering); provisioning returns only once model_state is DEPLOYED.
    /// </summary>
    [Fact]
    public async Task Registration_WaitsUntilTheModelIsDeployed()
    {
        var cluster = new FakeOpenSearch("3.1.0") { DeployPolls = 3 };

        ProvisionResult result = await new NeuralSparseProvisioner(cluster, new InstantTimeProvider()).EnsureAsync(Setup);

        Assert.Equal("DEPLOYED", cluster.Models[result.ModelId]["model_state"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("DEPLOY_FAILED")]
    [InlineData("PARTIALLY_DEPLOYED")]
    public async Task FailedDeployment_ReportsTheStateAndTheDeployTaskError(string outcome)
    {
        var cluster = new FakeOpenSearch("3.1.0") { DeployOutcome = outcome, TaskError = "Connection refused: neural-sparse.search.svc" };

        var error = await Assert.ThrowsAsync<OpenSearchException>(() => new NeuralSparseProvisioner(cluster, new InstantTimeProvider()).EnsureAsync(Setup));

        Assert.Equal("ml_model_not_deployed", error.ErrorType);
        Assert.Contains(outcome, error.Message, StringComparison.Ordinal);
        Assert.Contains("Connection refused", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DeploymentThatNeverEnds_TimesOutNamingTheState()
    {
        var cluster = new FakeOpenSearch("3.1.0") { DeployPolls = int.MaxValue };

        var error = await Assert.ThrowsAsync<OpenSearchException>(() =>
            new NeuralSparseProvisioner(cluster, new InstantTimeProvider()).EnsureAsync(Setup with { DeployTimeout = TimeSpan.FromSeconds(30) }));

        Assert.Equal("ml_model_deploy_timeout", error.ErrorType);
        Assert.Contains("DEPLOYING", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Defect E: MLTaskState's terminal states besides COMPLETED end the task poll at once.</summary>
    [Theory]
    [InlineData("FAILED")]
    [InlineData("COMPLETED_WITH_ERROR")]
    [InlineData("CANCELLED")]
    [InlineData("EXPIRED")]
    [InlineData("UNREACHABLE")]
    public async Task TaskInATerminalState_IsReportedWithoutWaitingForTheTimeout(string state)
    {
        var cluster = new FakeOpenSearch("3.1.0") { RegisterAnswersModelId = false, RegisterTaskState = state, TaskError = "node left" };
        var time = new InstantTimeProvider();
        DateTimeOffset start = time.GetUtcNow();

        var error = await Assert.ThrowsAsync<OpenSearchException>(() => new NeuralSparseProvisioner(cluster, time).EnsureAsync(Setup));

        Assert.Equal("ml_task_failed", error.ErrorType);
        Assert.Contains(state, error.Message, StringComparison.Ordinal);
        Assert.True(time.GetUtcNow() - start < Setup.DeployTimeout, "the poll waited for the timeout");
    }

    [Theory]
    [InlineData("2.14.0", "two-phase search pipeline needs OpenSearch 2.15 or later; the cluster runs 2.14.0.")]
    [InlineData("2.18.0", "prune options on the sparse_encoding processor needs OpenSearch 2.19 or later; the cluster runs 2.18.0.")]
    [InlineData("2.10.0", "neural sparse search needs OpenSearch 2.11 or later; the cluster runs 2.10.0.")]
    public async Task OlderCluster_RefusesFeaturesNamingTheVersion(string version, string message)
    {
        var error = await Assert.ThrowsAsync<NotSupportedException>(() => new NeuralSparseProvisioner(new FakeOpenSearch(version)).EnsureAsync(Setup));

        Assert.EndsWith(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SparseAnn_NeedsThreeThree_AndMapsSparseVector()
    {
        NeuralSparseSetup ann = Setup with { SparseAnn = true, TwoPhase = null };
        var error = await Assert.ThrowsAsync<NotSupportedException>(() => new NeuralSparseProvisioner(new FakeOpenSearch("3.2.0")).EnsureAsync(ann));
        Assert.Contains("sparse ANN", error.Message, StringComparison.Ordinal);

        var cluster = new FakeOpenSearch("3.3.0");
        await new NeuralSparseProvisioner(cluster).EnsureAsync(ann);
        Assert.Equal("sparse_vector", cluster.Indices["docs"]["mappings"]!["properties"]!["passage_embedding"]!["type"]!.GetValue<string>());
        Assert.True(cluster.Indices["docs"]["settings"]!["index.sparse"]!.GetValue<bool>());
    }

    [Fact]
    public async Task MissingNeuralSearchPlugin_IsRefused()
    {
        var error = await Assert.ThrowsAsync<NotSupportedException>(() =>
            new NeuralSparseProvisioner(new FakeOpenSearch("3.1.0") { Plugins = ["opensearch-ml"] }).EnsureAsync(Setup));

        Assert.Contains("opensearch-neural-search", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExistingIndexWithAnotherMapping_IsNotTouched()
    {
        var cluster = new FakeOpenSearch("3.1.0");
        cluster.Indices["docs"] = JsonNode.Parse("""{"settings":{},"mappings":{"properties":{"passage_embedding":{"type":"text"}}}}""")!;

        var error = await Assert.ThrowsAsync<NotSupportedException>(() => new NeuralSparseProvisioner(cluster).EnsureAsync(Setup));

        Assert.Contains("maps 'passage_embedding' as text, not rank_features", error.Message, StringComparison.Ordinal);
    }

    /// <summary>An in-memory OpenSearch with ml-commons and neural-search: just the calls provisioning makes.</summary>
    private sealed class FakeOpenSearch(string version) : IOpenSearchTransport
    {
        private readonly List<(string Method, string Path, JsonNode? Body)> _calls = [];
        private readonly Dictionary<string, int> _deployPolls = [];
        private int _ids;

        public string[] Plugins { get; init; } = ["opensearch-ml", "opensearch-neural-search"];

        public string? TaskError { get; init; }

        /// <summary>Where a deployment ends. Defaults to DEPLOYED.</summary>
        public string DeployOutcome { get; init; } = "DEPLOYED";

        /// <summary>Reads of a DEPLOYING model before it reaches <see cref="DeployOutcome"/>. Defaults to 2.</summary>
        public int DeployPolls { get; init; } = 2;

        /// <summary>The register task's state (COMPLETED for remote models).</summary>
        public string RegisterTaskState { get; init; } = "COMPLETED";

        /// <summary>Whether the register response carries the model id (ml-commons does for remote models).</summary>
        public bool RegisterAnswersModelId { get; init; } = true;

        public JsonObject Settings { get; } = [];

        public JsonObject TransientSettings { get; } = [];

        /// <summary>ml-commons MLCommonsSettings defaults (3.8.0.0, abridged): the cloud providers' hosts.</summary>
        public static readonly string[] DefaultTrustedEndpoints =
            ["^https://runtime\\.sagemaker\\..*[a-z0-9-]\\.amazonaws\\.com/.*$", "^https://api\\.openai\\.com/.*$", "^https://bedrock-runtime\\..*[a-z0-9-]\\.amazonaws\\.com/.*$"];

        private JsonObject DefaultSettings()
        {
            var defaults = new JsonObject
            {
                ["plugins.ml_commons.trusted_connector_endpoints_regex"] = new JsonArray([.. DefaultTrustedEndpoints.Select(e => (JsonNode)e)]),
            };
            if (Version.Parse(version) >= new Version(2, 15))
            {
                defaults["plugins.ml_commons.connector.private_ip_enabled"] = "false";
            }

            return defaults;
        }

        public Dictionary<string, JsonNode> Connectors { get; } = [];

        public Dictionary<string, JsonNode> Models { get; } = [];

        public Dictionary<string, JsonNode> Tasks { get; } = [];

        public Dictionary<string, JsonNode> IngestPipelines { get; } = [];

        public Dictionary<string, JsonNode> SearchPipelines { get; } = [];

        public Dictionary<string, JsonNode> Indices { get; } = [];

        public int Mutations => _calls.Count(c => c.Method is "PUT" || (c.Method == "POST" && !c.Path.EndsWith("/_search", StringComparison.Ordinal)));

        public JsonNode Sent(string method, string path) => _calls.Last(c => c.Method == method && c.Path == path).Body!;

        public string AddConnector(string name)
        {
            string id = NewId();
            Connectors[id] = new JsonObject { ["name"] = name };
            return id;
        }

        public string AddModel(string name, string connectorId, string state)
        {
            string id = NewId();
            Models[id] = new JsonObject { ["name"] = name, ["connector_id"] = connectorId, ["model_state"] = state };
            return id;
        }

        /// <summary>An id shaped like OpenSearch's auto-generated ones (20 URL-safe base64 characters, mixed case).</summary>
        private string NewId() => $"Kx{++_ids:D2}vQ2oB8f_AbCdEf1Zq";

        /// <summary>Where a canned 200 response disagrees with the API spec's response schema.</summary>
        public List<string> ResponseSchemaErrors { get; } = [];

        public Task<OpenSearchResponse> SendAsync(OpenSearchRequest request, CancellationToken cancellationToken)
        {
            _calls.Add((request.Method.Method, request.Path, request.Body?.DeepClone()));
            (int status, JsonNode? body) = Handle(request.Method.Method, request.Path, request.Body);
            if (status == 200 && ResponseSchema(request.Method.Method, request.Path) is { } schema && OpenSearchSpec.Find() is { } spec)
            {
                ResponseSchemaErrors.AddRange(spec.ValidateResponse(schema.Namespace, schema.Name, body).Select(e => $"{request.Method} {request.Path}: {e}"));
            }

            return Task.FromResult(new OpenSearchResponse(status, body?.ToJsonString() ?? "{}", new Uri("http://fake:9200")));
        }

        private static (string Namespace, string Name)? ResponseSchema(string method, string path) => (method, path.Split('?')[0]) switch
        {
            ("GET", "/") => ("_core.yaml", "info@200"),
            ("GET", "/_cat/plugins") => ("cat.yaml", "cat.plugins@200"),
            ("GET", "/_cluster/settings") => ("cluster.yaml", "cluster.get_settings@200"),
            ("POST", "/_plugins/_ml/connectors/_search") => ("ml.yaml", "ml.search_connectors@200"),
            ("POST", "/_plugins/_ml/connectors/_create") => ("ml.yaml", "ml.create_connector@200"),
            ("POST", "/_plugins/_ml/models/_search") => ("ml.yaml", "ml.search_models@200"),
            ("POST", "/_plugins/_ml/models/_register") => ("ml.yaml", "ml.register_model@200"),
            ("POST", var p) when p.EndsWith("/_deploy", StringComparison.Ordinal) => ("ml.yaml", "ml.deploy_model@200"),
            ("GET", var p) when p.StartsWith("/_plugins/_ml/models/", StringComparison.Ordinal) => ("ml.yaml", "ml.get_model@200"),
            ("GET", var p) when p.StartsWith("/_plugins/_ml/tasks/", StringComparison.Ordinal) => ("ml.yaml", "ml.get_task@200"),
            _ => null,
        };

        private (int, JsonNode?) Handle(string method, string path, JsonNode? body)
        {
            string[] parts = path.Split('?')[0].Trim('/').Split('/');
            switch (method, path.Split('?')[0])
            {
                case ("GET", "/"):
                    return (200, JsonNode.Parse($$"""
                        { "name": "node-1", "cluster_name": "test", "cluster_uuid": "uuid", "tagline": "The OpenSearch Project: https://opensearch.org/",
                          "version": { "distribution": "opensearch", "number": "{{version}}", "build_type": "tar", "build_hash": "abc",
                            "build_date": "2025-01-01T00:00:00Z", "build_snapshot": false, "lucene_version": "10.1.0",
                            "minimum_wire_compatibility_version": "2.19.0", "minimum_index_compatibility_version": "2.0.0" } }
                        """));
                case ("GET", "/_cat/plugins"):
                    return (200, new JsonArray([.. Plugins.Select(p => (JsonNode)new JsonObject { ["component"] = p })]));
                case ("GET", "/_cluster/settings"):
                    var settings = new JsonObject { ["persistent"] = Settings.DeepClone(), ["transient"] = TransientSettings.DeepClone() };
                    if (path.Contains("include_defaults=true", StringComparison.Ordinal))
                    {
                        settings["defaults"] = DefaultSettings();
                    }

                    return (200, settings);
                case ("PUT", "/_cluster/settings"):
                    if (body!["persistent"]!.AsObject().Select(s => s.Key).FirstOrDefault(k => !KnownSetting(k)) is { } unknown)
                    {
                        return (400, Error("illegal_argument_exception", $"persistent setting [{unknown}], not recognized"));
                    }

                    foreach ((string scope, JsonObject store) in new[] { ("persistent", Settings), ("transient", TransientSettings) })
                    {
                        foreach ((string key, JsonNode? value) in body[scope]?.AsObject() ?? [])
                        {
                            store[key] = value is JsonValue v && v.GetValueKind() == System.Text.Json.JsonValueKind.True ? "true" : value?.DeepClone();
                        }
                    }

                    return (200, new JsonObject { ["acknowledged"] = true });
                case ("POST", "/_plugins/_ml/connectors/_search"):
                    return Search(Connectors, body!, null);
                case ("POST", "/_plugins/_ml/connectors/_create"):
                    string connectorId = AddConnector(body!["name"]!.GetValue<string>());
                    Connectors[connectorId] = body.DeepClone();
                    return (200, new JsonObject { ["connector_id"] = connectorId });
                case ("POST", "/_plugins/_ml/models/_search"):
                    return Search(Models, body!, null);
                case ("POST", "/_plugins/_ml/models/_register"):
                    if (body!["model_config"] is not null && Version.Parse(version) < new Version(3, 1))
                    {
                        return (400, Error("illegal_argument_exception", "embedding dimension is null")); // MLRegisterModelInput.parse before 3.1
                    }

                    string modelId = AddModel(body["name"]!.GetValue<string>(), body["connector_id"]!.GetValue<string>(), "REGISTERED");
                    foreach ((string key, JsonNode? value) in body.AsObject())
                    {
                        Models[modelId][key] = value?.DeepClone();
                    }

                    // MLModelManager: the register task is COMPLETED at once; deployModelAfterRegistering runs asynchronously.
                    string registerTask = NewTask("REGISTER_MODEL", modelId, RegisterTaskState, RegisterTaskState == "COMPLETED" ? null : TaskError);
                    if (RegisterTaskState == "COMPLETED")
                    {
                        StartDeployment(modelId);
                    }

                    return (200, RegisterAnswersModelId
                        ? new JsonObject { ["task_id"] = registerTask, ["status"] = "CREATED", ["model_id"] = modelId }
                        : new JsonObject { ["task_id"] = registerTask, ["status"] = "CREATED" });
                case ("POST", _) when parts is ["_plugins", "_ml", "models", var id, "_deploy"]:
                    return (200, new JsonObject { ["task_id"] = StartDeployment(id), ["task_type"] = "DEPLOY_MODEL", ["status"] = "CREATED" });
                case ("GET", _) when parts is ["_plugins", "_ml", "models", var id]:
                    if (Models[id]["model_state"]!.GetValue<string>() == "DEPLOYING" && ++_deployPolls[id] >= DeployPolls)
                    {
                        Models[id]["model_state"] = DeployOutcome;
                    }

                    return (200, Models[id].DeepClone());
                case ("POST", "/_plugins/_ml/tasks/_search"):
                    return Search(Tasks, body!, "model_id");
                case ("GET", _) when parts is ["_plugins", "_ml", "tasks", var taskId]:
                    return (200, Tasks[taskId]);
                case ("GET", _) when parts is ["_ingest", "pipeline", var name]:
                    return Get(IngestPipelines, name);
                case ("PUT", _) when parts is ["_ingest", "pipeline", var name]:
                    IngestPipelines[name] = body!.DeepClone();
                    return (200, new JsonObject { ["acknowledged"] = true });
                case ("GET", _) when parts is ["_search", "pipeline", var name]:
                    return Get(SearchPipelines, name);
                case ("PUT", _) when parts is ["_search", "pipeline", var name]:
                    SearchPipelines[name] = body!.DeepClone();
                    return (200, new JsonObject { ["acknowledged"] = true });
                case ("GET", _) when parts is [var index, "_mapping"]:
                    return Indices.TryGetValue(index, out JsonNode? mapped)
                        ? (200, new JsonObject { [index] = new JsonObject { ["mappings"] = mapped["mappings"]!.DeepClone() } })
                        : (404, Error("index_not_found_exception"));
                case ("GET", _) when parts is [var index, "_settings"]:
                    return (200, new JsonObject { [index] = new JsonObject { ["settings"] = Indices[index]["settings"]!.DeepClone() } });
                case ("PUT", _) when parts is [var index, "_settings"]:
                    foreach ((string key, JsonNode? value) in body!.AsObject())
                    {
                        Indices[index]["settings"]![key] = value?.DeepClone();
                    }

                    return (200, new JsonObject { ["acknowledged"] = true });
                case ("PUT", _) when parts is [var index]:
                    Indices[index] = body!.DeepClone();
                    return (200, new JsonObject { ["acknowledged"] = true });
                default:
                    return (400, Error($"unexpected {method} {path}"));
            }
        }

        /// <summary>ml-commons MLCommonsSettings: private_ip_enabled exists from 2.15.0.0.</summary>
        private bool KnownSetting(string key) =>
            key != "plugins.ml_commons.connector.private_ip_enabled" || Version.Parse(version) >= new Version(2, 15);

        private string NewTask(string type, string modelId, string state, string? error)
        {
            string id = NewId();
            Tasks[id] = new JsonObject { ["task_type"] = type, ["model_id"] = modelId, ["state"] = state };
            if (error is not null)
            {
                Tasks[id]["error"] = error;
            }

            return id;
        }

        /// <summary>The model goes DEPLOYING, then to <see cref="DeployOutcome"/> after <see cref="DeployPolls"/> reads of it.</summary>
        private string StartDeployment(string modelId)
        {
            Models[modelId]["model_state"] = "DEPLOYING";
            _deployPolls[modelId] = 0;
            bool failed = DeployOutcome is "DEPLOY_FAILED" or "PARTIALLY_DEPLOYED";
            return NewTask("DEPLOY_MODEL", modelId, failed ? "FAILED" : "COMPLETED", failed ? TaskError ?? "deployment failed" : null);
        }

        /// <summary>
        /// The ml-commons system indices as OpenSearch searches them: <c>term</c>/<c>match</c> inside <c>bool</c>. Fields the
        /// index does not map (connector_id in the model index, ml_model.json) are dynamic: analysed text (lowercased
        /// words) with an exact <c>.keyword</c> sub-field, so a term query on the text field never matches a mixed-case id.
        /// </summary>
        private static (int, JsonNode?) Search(Dictionary<string, JsonNode> store, JsonNode body, string? keywordField)
        {
            if (store.Count == 0)
            {
                return (404, Error("index_not_found_exception")); // the ml-commons system index does not exist yet
            }

            var hits = store.Where(e => Matches(body["query"]!, e.Value, keywordField))
                .Select(e => (JsonNode)new JsonObject { ["_id"] = e.Key, ["_source"] = e.Value.DeepClone() });
            return (200, new JsonObject { ["hits"] = new JsonObject { ["hits"] = new JsonArray([.. hits]) } });
        }

        private static bool Matches(JsonNode query, JsonNode source, string? keywordField)
        {
            (string kind, JsonNode clause) = (query.AsObject().Single().Key, query.AsObject().Single().Value!);
            if (kind == "bool")
            {
                return new[] { "filter", "must" }.SelectMany(k => clause[k]?.AsArray() ?? []).All(q => Matches(q!, source, keywordField));
            }

            (string field, JsonNode value) = (clause.AsObject().Single().Key, clause.AsObject().Single().Value!);
            string wanted = (value is JsonObject o ? o["value"] ?? o["query"] : value)!.GetValue<string>();
            if (field == keywordField || field is "task_type")
            {
                return source[field]?.GetValue<string>() == wanted; // mapped as keyword (ml_task.json)
            }

            if (field.EndsWith(".keyword", StringComparison.Ordinal))
            {
                return source[field[..^".keyword".Length]]?.GetValue<string>() == wanted;
            }

            string[] tokens = Analyze(source[field]?.GetValue<string>() ?? string.Empty);
            return kind == "term" ? tokens.Contains(wanted, StringComparer.Ordinal) : Analyze(wanted).Any(tokens.Contains);
        }

        /// <summary>The standard analyzer, closely enough for ids and names: split on what is not a letter, digit or underscore; lowercase.</summary>
        private static string[] Analyze(string text) =>
            System.Text.RegularExpressions.Regex.Split(text, @"[^\p{L}\p{N}_]+").Where(t => t.Length > 0).Select(t => t.ToLowerInvariant()).ToArray();

        private static (int, JsonNode?) Get(Dictionary<string, JsonNode> store, string name) =>
            store.TryGetValue(name, out JsonNode? value) ? (200, new JsonObject { [name] = value.DeepClone() }) : (404, new JsonObject());

        private static JsonObject Error(string type, string? reason = null) => new() { ["error"] = new JsonObject { ["type"] = type, ["reason"] = reason ?? type } };
    }
}
