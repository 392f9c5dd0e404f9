using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using NeuralSparse.Client.Queries;
using NeuralSparse.Client.Transport;
using NeuralSparse.Core.Sparse;

namespace NeuralSparse.Client.Provisioning;

/// <summary>
/// Sets up neural sparse search with the sidecar as the ml-commons remote model, idempotently and resumably: each
/// step looks first and changes only what is missing or different, so a re-run changes nothing and a run that
/// stopped half-way is completed. Refuses features the cluster's version or plugins lack, naming the version needed.
/// </summary>
public sealed class NeuralSparseProvisioner(IOpenSearchTransport transport, TimeProvider? time = null)
{
    private const string TrustedEndpoints = "plugins.ml_commons.trusted_connector_endpoints_regex";
    private const string PrivateIpEnabled = "plugins.ml_commons.connector.private_ip_enabled";
    private readonly NeuralSparseSearchClient _client = new(transport);
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>Ensures everything <paramref name="setup"/> describes exists.</summary>
    /// <exception cref="NotSupportedException">The cluster lacks a needed version or plugin.</exception>
    /// <exception cref="OpenSearchException">A call failed, or model deployment failed or timed out.</exception>
    public async Task<ProvisionResult> EnsureAsync(NeuralSparseSetup setup, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(setup);
        var changes = new List<string>();
        Version version = await CheckClusterAsync(setup, cancellationToken);
        await EnsureTrustedEndpointAsync(setup, version, changes, cancellationToken);
        string connectorId = await EnsureConnectorAsync(setup, version, changes, cancellationToken);
        string modelId = await EnsureModelAsync(setup, connectorId, version, changes, cancellationToken);
        await EnsurePutAsync($"/_ingest/pipeline/{setup.IngestPipeline}", IngestPipelineBody(setup, modelId, version), "ingest pipeline", changes, cancellationToken);
        if (setup.TwoPhase is { Enabled: true } twoPhase)
        {
            await EnsurePutAsync($"/_search/pipeline/{setup.SearchPipeline}", twoPhase.ToSearchPipeline("Two-phase neural sparse search"), "search pipeline", changes, cancellationToken);
        }

        await EnsureIndexAsync(setup, changes, cancellationToken);
        return new ProvisionResult(version.ToString(), connectorId, modelId, changes);
    }

    /// <summary>Reads the cluster's version (GET /) and plugins (GET /_cat/plugins).</summary>
    public async Task<ClusterCapabilities> DetectAsync(CancellationToken cancellationToken = default)
    {
        JsonNode root = await _client.SendAsync(new OpenSearchRequest(HttpMethod.Get, "/"), cancellationToken);
        string number = root["version"]?["number"]?.GetValue<string>() ?? throw new NotSupportedException("The cluster did not report its version (GET /).");
        Version version = Version.Parse(Regex.Match(number, @"^\d+\.\d+(\.\d+)?").Value);
        JsonNode plugins = await _client.SendAsync(new OpenSearchRequest(HttpMethod.Get, "/_cat/plugins?format=json"), cancellationToken);
        HashSet<string> components = [.. plugins.AsArray().Select(p => p?["component"]?.GetValue<string>() ?? string.Empty)];
        return new ClusterCapabilities(version, components.Contains("opensearch-neural-search"), components.Contains("opensearch-ml"));
    }

    /// <summary>Reads the version and plugins, and refuses what the cluster cannot do.</summary>
    internal async Task<Version> CheckClusterAsync(NeuralSparseSetup setup, CancellationToken cancellationToken)
    {
        ClusterCapabilities capabilities = await DetectAsync(cancellationToken);
        Version version = capabilities.Version;
        foreach ((bool present, string component, string purpose) in new[]
        {
            (capabilities.HasMlCommons, "opensearch-ml", "remote models (ml-commons)"),
            (capabilities.HasNeuralSearch, "opensearch-neural-search", "neural_sparse and sparse_encoding (neural-search)"),
        })
        {
            if (!present)
            {
                throw new NotSupportedException($"The cluster has no {component} plugin, needed for {purpose}. Install it, or use the SDK's rank_feature fallback with pre-encoded vectors.");
            }
        }

        Require(version, OpenSearchVersions.NeuralSparse, "neural sparse search");
        if (setup.TwoPhase is { Enabled: true } twoPhase)
        {
            Require(version, OpenSearchVersions.TwoPhase, "the two-phase search pipeline");
            Require(version, twoPhase.MinimumVersion, $"two-phase prune_type {twoPhase.PruneRule.TypeName}");
        }

        if (setup.IngestPrune is { Type: not SparsePruneType.None })
        {
            Require(version, OpenSearchVersions.PruneType, "prune options on the sparse_encoding processor");
        }

        if (setup.Asymmetric)
        {
            Require(version, OpenSearchVersions.Asymmetric, "an asymmetric remote model (3.5.x refuses symmetric remote models with a model_config)");
            if (setup.SparseAnn)
            {
                throw new NotSupportedException(
                    "An asymmetric model cannot feed a sparse_vector field: neural-search does not pass sparse_embedding_format (TOKEN_ID) on the asymmetric path. Use a symmetric model with SparseAnn.");
            }
        }

        if (setup.SparseAnn)
        {
            Require(version, OpenSearchVersions.SparseAnn, "sparse ANN (sparse_vector with SEISMIC)");
            if (setup.TwoPhase is { Enabled: true })
            {
                throw new NotSupportedException(TwoPhaseParameters.SeismicMessage + " Set TwoPhase = null with SparseAnn.");
            }
        }

        return version;
    }

    private static void Require(Version cluster, Version needed, string feature)
    {
        if (cluster < needed)
        {
            throw new NotSupportedException($"{feature} needs OpenSearch {needed.Major}.{needed.Minor} or later; the cluster runs {cluster}.");
        }
    }

    /// <summary>
    /// Adds the sidecar to ml-commons' trusted endpoints and allows private addresses (2.15+). The list setting replaces
    /// ml-commons' default list (the cloud providers' hosts, MLCommonsSettings) as a whole, so the effective value is read
    /// with its default (transient over persistent over default, as cluster metadata merges them), extended, and
    /// written back: entries are only ever added. Where a transient value shadows the persistent one, both are written.
    /// </summary>
    private async Task EnsureTrustedEndpointAsync(NeuralSparseSetup setup, Version version, List<string> changes, CancellationToken cancellationToken)
    {
        // Before 2.15 the setting does not exist (a PUT naming it fails) and ml-commons refuses private addresses outright.
        bool hasPrivateIpSetting = version >= OpenSearchVersions.PrivateIpSetting;
        string pattern = "^" + Regex.Escape(setup.SidecarUrl.GetLeftPart(UriPartial.Authority)) + "/.*$";
        JsonNode settings = await _client.SendAsync(new OpenSearchRequest(HttpMethod.Get, "/_cluster/settings?include_defaults=true&flat_settings=true"), cancellationToken);
        List<string> trusted = Effective(settings, TrustedEndpoints) is JsonArray list ? [.. list.Select(n => n!.GetValue<string>())] : [];
        bool privateIps = !hasPrivateIpSetting || Effective(settings, PrivateIpEnabled)?.ToString() == "true";
        if (trusted.Contains(pattern) && privateIps)
        {
            return;
        }

        trusted.Add(pattern);
        var change = new JsonObject { [TrustedEndpoints] = new JsonArray([.. trusted.Distinct().Select(t => (JsonNode)JsonValue.Create(t))]) };
        if (hasPrivateIpSetting)
        {
            change[PrivateIpEnabled] = true;
        }

        var body = new JsonObject { ["persistent"] = change };
        if (settings["transient"] is JsonObject transientSettings && change.Any(c => transientSettings.ContainsKey(c.Key)))
        {
            body["transient"] = new JsonObject([.. change.Where(c => transientSettings.ContainsKey(c.Key)).Select(c => KeyValuePair.Create(c.Key, c.Value?.DeepClone()))]);
        }

        await _client.SendAsync(new OpenSearchRequest(HttpMethod.Put, "/_cluster/settings", body), cancellationToken);
        changes.Add("cluster settings: trusted the sidecar endpoint");
    }

    private static JsonNode? Effective(JsonNode settings, string key) =>
        settings["transient"]?[key] ?? settings["persistent"]?[key] ?? settings["defaults"]?[key];

    private async Task<string> EnsureConnectorAsync(NeuralSparseSetup setup, Version version, List<string> changes, CancellationToken cancellationToken)
    {
        if (await FindIdAsync("/_plugins/_ml/connectors/_search", Term("name.keyword", setup.ModelName), cancellationToken) is { } existing)
        {
            return existing.Id;
        }

        var connector = new JsonObject
        {
            ["name"] = setup.ModelName,
            ["description"] = $"Neural sparse sidecar, model {setup.SidecarModel}",
            ["version"] = 1,
            ["protocol"] = "http",
            ["credential"] = new JsonObject { ["api_key"] = setup.SidecarApiKey ?? "none" },
            // An asymmetric model is called with texts + content_type (NeuralSearchMLInputBuilder.createAsymmetricRemoteInput)
            // on the /encode route, which dispatches on content_type; a symmetric one with input on /documents, which
            // serves ingest and bi-encoder queries (doc-only queries then use the analyzer).
            ["parameters"] = setup.Asymmetric ? new JsonObject() : new JsonObject { ["sparse_embedding_format"] = "WORD" },
            ["actions"] = new JsonArray(new JsonObject
            {
                ["action_type"] = "predict",
                ["method"] = "POST",
                ["url"] = new Uri(setup.SidecarUrl, $"/v1/models/{Uri.EscapeDataString(setup.SidecarModel)}/{(setup.Asymmetric ? "encode" : "documents")}").ToString(),
                ["headers"] = new JsonObject { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer ${credential.api_key}" },
                ["request_body"] = setup.Asymmetric
                    ? "{ \"texts\": ${parameters.texts}, \"content_type\": \"${parameters.content_type}\" }"
                    : "{ \"texts\": ${parameters.input}, \"sparse_embedding_format\": \"${parameters.sparse_embedding_format}\" }",
            }),
            ["client_config"] = new JsonObject
            {
                ["max_connection"] = 64,
                ["read_timeout"] = 60,
                ["max_retry_times"] = version >= new Version(2, 15) ? 3 : 0,
                ["retry_backoff_policy"] = "exponential_full_jitter",
            },
        };
        JsonNode created = await _client.SendAsync(new OpenSearchRequest(HttpMethod.Post, "/_plugins/_ml/connectors/_create", connector), cancellationToken);
        changes.Add("connector: created");
        return created["connector_id"]!.GetValue<string>();
    }

    private async Task<string> EnsureModelAsync(NeuralSparseSetup setup, string connectorId, Version version, List<string> changes, CancellationToken cancellationToken)
    {
        var query = new JsonObject
        {
            ["bool"] = new JsonObject
            {
                // ml-commons' model index does not map connector_id (ml_model.json): dynamic mapping makes it analysed
                // text, where a term on a mixed-case id never matches; its .keyword sub-field holds the exact id.
                ["filter"] = new JsonArray(Term("name.keyword", setup.ModelName), Term("connector_id.keyword", connectorId)),
            },
        };
        if (await FindIdAsync("/_plugins/_ml/models/_search", query, cancellationToken) is { } existing)
        {
            string? state = existing.Source?["model_state"]?.GetValue<string>();
            if (state == "DEPLOYED")
            {
                return existing.Id;
            }

            if (state != "DEPLOYING")
            {
                await _client.SendAsync(new OpenSearchRequest(HttpMethod.Post, $"/_plugins/_ml/models/{existing.Id}/_deploy"), cancellationToken);
            }

            await WaitForDeploymentAsync(existing.Id, setup.DeployTimeout, cancellationToken);
            changes.Add("model: deployed");
            return existing.Id;
        }

        var model = new JsonObject
        {
            ["name"] = setup.ModelName,
            ["function_name"] = "remote",
            ["description"] = $"Neural sparse sidecar, model {setup.SidecarModel}",
            ["connector_id"] = connectorId,
        };

        // model_type SPARSE_ENCODING is metadata the semantic field reads; it is rejected before 3.1 and breaks every
        // call on 3.5.x (see OpenSearchVersions.BreaksRemoteModelConfig), so it is sent only where it is harmless.
        if (setup.Asymmetric)
        {
            // AsymmetricModelDetector: a RemoteModelConfig whose additional_config has is_asymmetric: true.
            model["model_config"] = new JsonObject
            {
                ["model_type"] = "SPARSE_ENCODING",
                ["additional_config"] = new JsonObject { ["is_asymmetric"] = true },
            };
        }
        else if (OpenSearchVersions.AcceptsSymmetricModelConfig(version))
        {
            model["model_config"] = new JsonObject { ["model_type"] = "SPARSE_ENCODING" };
        }

        // ml-commons answers a remote model's registration with its id and a task that is already COMPLETED; the
        // deployment runs on afterwards (MLModelManager.deployModelAfterRegistering), so its end is read from the model.
        JsonNode registered = await _client.SendAsync(new OpenSearchRequest(HttpMethod.Post, "/_plugins/_ml/models/_register?deploy=true", model), cancellationToken);
        string modelId = registered["model_id"]?.GetValue<string>()
            ?? await WaitForTaskAsync(registered["task_id"]!.GetValue<string>(), setup.DeployTimeout, cancellationToken);
        await WaitForDeploymentAsync(modelId, setup.DeployTimeout, cancellationToken);
        changes.Add("model: registered and deployed");
        return modelId;
    }

    /// <summary>
    /// Polls an ml-commons task until COMPLETED (returns its model id); any other terminal state of ml-commons'
    /// MLTaskState (FAILED, COMPLETED_WITH_ERROR, CANCELLED, EXPIRED, UNREACHABLE) or the timeout throws.
    /// </summary>
    private async Task<string> WaitForTaskAsync(string taskId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        string path = $"/_plugins/_ml/tasks/{taskId}";
        (JsonNode task, string? state) = await PollAsync(path, "state",
            s => s is "COMPLETED" or "FAILED" or "COMPLETED_WITH_ERROR" or "CANCELLED" or "EXPIRED" or "UNREACHABLE",
            timeout, s => new OpenSearchException($"ml-commons task {taskId} is still {s} after {timeout}; check GET {path}.", null, "ml_task_timeout", s, "GET", path),
            cancellationToken);
        if (state == "COMPLETED")
        {
            return task["model_id"]?.GetValue<string>() ?? string.Empty;
        }

        string error = task["error"]?.ToString() ?? "no error message";
        throw new OpenSearchException($"ml-commons task {taskId} {state}: {error}", null, "ml_task_failed", error, "GET", path);
    }

    /// <summary>
    /// Polls the model until its model_state is DEPLOYED. DEPLOY_FAILED and PARTIALLY_DEPLOYED (ml-commons MLModelState)
    /// throw with the error of the model's latest DEPLOY_MODEL task; so does the timeout, naming the state it stopped at.
    /// </summary>
    private async Task WaitForDeploymentAsync(string modelId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        string path = $"/_plugins/_ml/models/{modelId}"; // ml-commons ids are URL-safe (OpenSearch auto ids)
        (_, string? state) = await PollAsync(path, "model_state", s => s is "DEPLOYED" or "DEPLOY_FAILED" or "PARTIALLY_DEPLOYED", timeout,
            s => new OpenSearchException(
                $"ml-commons model {modelId} is still {s ?? "without a state"} after {timeout}; check GET {path} and its DEPLOY_MODEL task.",
                null, "ml_model_deploy_timeout", s, "GET", path),
            cancellationToken);
        if (state != "DEPLOYED")
        {
            string error = await DeployTaskErrorAsync(modelId, cancellationToken) ?? "no error recorded";
            throw new OpenSearchException($"ml-commons model {modelId} is {state}: {error}", null, "ml_model_not_deployed", error, "GET", path);
        }
    }

    /// <summary>
    /// GETs <paramref name="path"/> every <see cref="PollInterval"/> until its <paramref name="stateField"/> is one that
    /// <paramref name="isFinal"/> accepts, and returns that document and state; past <paramref name="timeout"/> it
    /// throws what <paramref name="timedOut"/> makes of the last state.
    /// </summary>
    private async Task<(JsonNode Document, string? State)> PollAsync(string path, string stateField, Func<string?, bool> isFinal,
        TimeSpan timeout, Func<string?, OpenSearchException> timedOut, CancellationToken cancellationToken)
    {
        DateTimeOffset deadline = _time.GetUtcNow() + timeout;
        while (true)
        {
            JsonNode document = await _client.SendAsync(new OpenSearchRequest(HttpMethod.Get, path), cancellationToken);
            string? state = document[stateField]?.GetValue<string>();
            if (isFinal(state))
            {
                return (document, state);
            }

            if (_time.GetUtcNow() >= deadline)
            {
                throw timedOut(state);
            }

            await Task.Delay(PollInterval, _time, cancellationToken);
        }
    }

    /// <summary>The error of the model's latest DEPLOY_MODEL task (ml_task.json maps model_id and task_type as keywords).</summary>
    private async Task<string?> DeployTaskErrorAsync(string modelId, CancellationToken cancellationToken)
    {
        var query = new JsonObject
        {
            ["bool"] = new JsonObject { ["filter"] = new JsonArray(Term("model_id", modelId), Term("task_type", "DEPLOY_MODEL")) },
        };
        OpenSearchResponse response = await transport.SendAsync(new OpenSearchRequest(HttpMethod.Post, "/_plugins/_ml/tasks/_search",
            new JsonObject { ["query"] = query, ["sort"] = new JsonArray(new JsonObject { ["create_time"] = "desc" }), ["size"] = 1 }), cancellationToken);
        return response.IsSuccess ? response.Json?["hits"]?["hits"]?.AsArray().FirstOrDefault()?["_source"]?["error"]?.ToString() : null;
    }

    private static JsonObject IngestPipelineBody(NeuralSparseSetup setup, string modelId, Version version)
    {
        var processor = new JsonObject
        {
            ["model_id"] = modelId,
            ["field_map"] = new JsonObject { [setup.TextField] = setup.VectorField },
        };
        if (setup.IngestPrune is { Type: not SparsePruneType.None } prune)
        {
            processor["prune_type"] = prune.TypeName;
            processor["prune_ratio"] = prune.Ratio;
        }

        if (version >= new Version(2, 16))
        {
            processor["batch_size"] = setup.IngestBatchSize;
        }

        return new JsonObject
        {
            ["description"] = "Sparse encoding through the neural sparse sidecar",
            ["processors"] = new JsonArray(new JsonObject { ["sparse_encoding"] = processor }),
        };
    }

    /// <summary>PUT <paramref name="body"/> unless GET shows the same definition already.</summary>
    private async Task EnsurePutAsync(string path, JsonObject body, string what, List<string> changes, CancellationToken cancellationToken)
    {
        OpenSearchResponse current = await transport.SendAsync(new OpenSearchRequest(HttpMethod.Get, path), cancellationToken);
        string name = path[(path.LastIndexOf('/') + 1)..];
        if (current.IsSuccess && JsonNode.DeepEquals(current.Json?[name], body))
        {
            return;
        }

        if (!current.IsSuccess && current.Status != 404)
        {
            throw OpenSearchException.FromResponse(new OpenSearchRequest(HttpMethod.Get, path), current);
        }

        await _client.SendAsync(new OpenSearchRequest(HttpMethod.Put, path, body), cancellationToken);
        changes.Add($"{what}: {(current.IsSuccess ? "updated" : "created")}");
    }

    private async Task EnsureIndexAsync(NeuralSparseSetup setup, List<string> changes, CancellationToken cancellationToken)
    {
        // One definition for creation and later runs, so a re-run never adds what creation left out.
        var settings = new JsonObject { ["index.default_pipeline"] = setup.IngestPipeline };
        if (setup.TwoPhase is { Enabled: true })
        {
            settings["index.search.default_pipeline"] = setup.SearchPipeline;
        }

        OpenSearchResponse mapping = await transport.SendAsync(new OpenSearchRequest(HttpMethod.Get, $"/{setup.Index}/_mapping"), cancellationToken);
        if (mapping.Status == 404)
        {
            var create = new JsonObject
            {
                // index.sparse is static: it is set at creation only.
                ["settings"] = setup.SparseAnn
                    ? new JsonObject([KeyValuePair.Create<string, JsonNode?>("index.sparse", true), .. settings.Select(e => KeyValuePair.Create(e.Key, e.Value?.DeepClone()))])
                    : settings.DeepClone(),
                ["mappings"] = new JsonObject
                {
                    ["properties"] = new JsonObject
                    {
                        [setup.TextField] = new JsonObject { ["type"] = "text" },
                        [setup.VectorField] = setup.SparseAnn
                            ? new JsonObject { ["type"] = "sparse_vector", ["method"] = new JsonObject { ["name"] = "seismic" } }
                            : new JsonObject { ["type"] = "rank_features" },
                    },
                },
            };
            await _client.SendAsync(new OpenSearchRequest(HttpMethod.Put, $"/{setup.Index}", create), cancellationToken);
            changes.Add("index: created");
            return;
        }

        if (!mapping.IsSuccess)
        {
            throw OpenSearchException.FromResponse(new OpenSearchRequest(HttpMethod.Get, $"/{setup.Index}/_mapping"), mapping);
        }

        string expected = setup.SparseAnn ? "sparse_vector" : "rank_features";
        string? actual = mapping.Json?[setup.Index]?["mappings"]?["properties"]?[setup.VectorField]?["type"]?.GetValue<string>();
        if (actual != expected)
        {
            throw new NotSupportedException(
                $"Index '{setup.Index}' exists and maps '{setup.VectorField}' as {actual ?? "nothing"}, not {expected}; a mapping cannot change in place. Use another index or reindex.");
        }

        JsonNode current = await _client.SendAsync(new OpenSearchRequest(HttpMethod.Get, $"/{setup.Index}/_settings?flat_settings=true"), cancellationToken);
        JsonNode? indexSettings = current[setup.Index]?["settings"];
        if (settings.Any(s => indexSettings?[s.Key]?.ToString() != s.Value!.ToString()))
        {
            await _client.SendAsync(new OpenSearchRequest(HttpMethod.Put, $"/{setup.Index}/_settings", settings), cancellationToken);
            changes.Add("index: default pipelines set");
        }
    }

    private async Task<(string Id, JsonNode? Source)?> FindIdAsync(string path, JsonObject query, CancellationToken cancellationToken)
    {
        OpenSearchResponse response = await transport.SendAsync(new OpenSearchRequest(HttpMethod.Post, path, new JsonObject { ["query"] = query, ["size"] = 1 }), cancellationToken);
        if (response.Status == 404)
        {
            return null; // the ml-commons system index does not exist before the first connector or model
        }

        JsonNode? hit = (response.IsSuccess ? response.Json : throw OpenSearchException.FromResponse(new OpenSearchRequest(HttpMethod.Post, path), response))?["hits"]?["hits"]?.AsArray().FirstOrDefault();
        return hit is null ? null : (hit["_id"]!.GetValue<string>(), hit["_source"]);
    }

    private static JsonObject Term(string field, string value) => new() { ["term"] = new JsonObject { [field] = value } };
}
