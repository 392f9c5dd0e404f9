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
            {"persistent":{"plugins.ml_commons.trusted_connector_endpoints_regex":["^http://neural-sparse\\.search\\.svc:8080/.*$"],
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

    [Fact]
    public async Task FailedDeployment_ReportsTheTaskError()
    {
        var cluster = new FakeOpenSearch("3.1.0") { TaskError = "Connection refused: neural-sparse.search.svc" };

        var error = await Assert.ThrowsAsync<OpenSearchException>(() => new NeuralSparseProvisioner(cluster).EnsureAsync(Setup));

        Assert.Equal("ml_task_failed", error.ErrorType);
        Assert.Contains("Connection refused", error.Message, StringComparison.Ordinal);
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
        private int _ids;

        public string[] Plugins { get; init; } = ["opensearch-ml", "opensearch-neural-search"];

        public string? TaskError { get; init; }

        public JsonObject Settings { get; } = [];

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
            string id = "connector-" + ++_ids;
            Connectors[id] = new JsonObject { ["name"] = name };
            return id;
        }

        public string AddModel(string name, string connectorId, string state)
        {
            string id = "model-" + ++_ids;
            Models[id] = new JsonObject { ["name"] = name, ["connector_id"] = connectorId, ["model_state"] = state };
            return id;
        }

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
                    return (200, new JsonObject { ["persistent"] = Settings.DeepClone(), ["transient"] = new JsonObject() });
                case ("PUT", "/_cluster/settings"):
                    foreach ((string key, JsonNode? value) in body!["persistent"]!.AsObject())
                    {
                        Settings[key] = value is JsonValue v && v.GetValueKind() == System.Text.Json.JsonValueKind.True ? "true" : value?.DeepClone();
                    }

                    return (200, new JsonObject { ["acknowledged"] = true });
                case ("POST", "/_plugins/_ml/connectors/_search"):
                    return Search(Connectors, body!, "name");
                case ("POST", "/_plugins/_ml/connectors/_create"):
                    string connectorId = AddConnector(body!["name"]!.GetValue<string>());
                    Connectors[connectorId] = body.DeepClone();
                    return (200, new JsonObject { ["connector_id"] = connectorId });
                case ("POST", "/_plugins/_ml/models/_search"):
                    return Search(Models, body!, "name");
                case ("POST", "/_plugins/_ml/models/_register"):
                    string modelId = AddModel(body!["name"]!.GetValue<string>(), body["connector_id"]!.GetValue<string>(), "DEPLOYING");
                    foreach ((string key, JsonNode? value) in body.AsObject())
                    {
                        Models[modelId][key] = value?.DeepClone();
                    }

                    return (200, new JsonObject { ["task_id"] = NewTask(modelId), ["status"] = "CREATED" });
                case ("POST", _) when parts is ["_plugins", "_ml", "models", var id, "_deploy"]:
                    return (200, new JsonObject { ["task_id"] = NewTask(id) });
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

        private string NewTask(string modelId)
        {
            string id = "task-" + ++_ids;
            if (TaskError is null)
            {
                Models[modelId]["model_state"] = "DEPLOYED";
                Tasks[id] = new JsonObject { ["state"] = "COMPLETED", ["model_id"] = modelId };
            }
            else
            {
                Tasks[id] = new JsonObject { ["state"] = "FAILED", ["error"] = TaskError };
            }

            return id;
        }

        private static (int, JsonNode?) Search(Dictionary<string, JsonNode> store, JsonNode body, string nameField)
        {
            if (store.Count == 0)
            {
                return (404, Error("index_not_found_exception")); // the ml-commons system index does not exist yet
            }

            string text = body.ToJsonString();
            var hits = store.Where(e => text.Contains($"\"{e.Value[nameField]!.GetValue<string>()}\"", StringComparison.Ordinal)
                    && (e.Value["connector_id"] is not { } c || text.Contains($"\"{c.GetValue<string>()}\"", StringComparison.Ordinal)))
                .Select(e => (JsonNode)new JsonObject { ["_id"] = e.Key, ["_source"] = e.Value.DeepClone() });
            return (200, new JsonObject { ["hits"] = new JsonObject { ["hits"] = new JsonArray([.. hits]) } });
        }

        private static (int, JsonNode?) Get(Dictionary<string, JsonNode> store, string name) =>
            store.TryGetValue(name, out JsonNode? value) ? (200, new JsonObject { [name] = value.DeepClone() }) : (404, new JsonObject());

        private static JsonObject Error(string type) => new() { ["error"] = new JsonObject { ["type"] = type, ["reason"] = type } };
    }
}
