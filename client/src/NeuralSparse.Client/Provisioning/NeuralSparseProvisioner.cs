using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
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
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>Ensures everything <paramref name="setup"/> describes exists.</summary>
    /// <exception cref="NotSupportedException">The cluster lacks a needed version or plugin.</exception>
    /// <exception cref="OpenSearchException">A call failed, or model deployment failed or timed out.</exception>
    public async Task<ProvisionResult> EnsureAsync(NeuralSparseSetup setup, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(setup);
        var changes = new List<string>();
        Version version = await CheckClusterAsync(setup, cancellationToken);
        await EnsureTrustedEndpointAsync(setup, changes, cancellationToken);
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

        Require(version, new Version(2, 11), "neural sparse search");
        if (setup.TwoPhase is { Enabled: true })
        {
            Require(version, new Version(2, 15), "the two-phase search pipeline");
        }

        if (setup.IngestPrune is { Type: not SparsePruneType.None })
        {
            Require(version, new Version(2, 19), "prune options on the sparse_encoding processor");
        }

        if (setup.SparseAnn)
        {
            Require(version, new Version(3, 3), "sparse ANN (sparse_vector with SEISMIC)");
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

    private async Task EnsureTrustedEndpointAsync(NeuralSparseSetup setup, List<string> changes, CancellationToken cancellationToken)
    {
        string pattern = "^" + Regex.Escape(setup.SidecarUrl.GetLeftPart(UriPartial.Authority)) + "/.*$";
        JsonNode settings = await _client.SendAsync(new OpenSearchRequest(HttpMethod.Get, "/_cluster/settings?flat_settings=true"), cancellationToken);
        JsonObject persistent = settings["persistent"] as JsonObject ?? [];
        List<string> trusted = persistent[TrustedEndpoints] is JsonArray list ? [.. list.Select(n => n!.GetValue<string>())] : [];
        bool privateIps = persistent[PrivateIpEnabled]?.ToString() == "true";
        if (trusted.Contains(pattern) && privateIps)
        {
            return;
        }

        // The setting replaces ml-commons' default list, so entries already configured are kept.
        trusted.Add(pattern);
        var body = new JsonObject
        {
            ["persistent"] = new JsonObject
            {
                [TrustedEndpoints] = new JsonArray([.. trusted.Distinct().Select(t => (JsonNode)JsonValue.Create(t))]),
                [PrivateIpEnabled] = true,
            },
        };
        await _client.SendAsync(new OpenSearchRequest(HttpMethod.Put, "/_cluster/settings", body), cancellationToken);
        changes.Add("cluster settings: trusted the sidecar endpoint");
    }

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
            ["parameters"] = new JsonObject { ["sparse_embedding_format"] = "WORD" },
            ["actions"] = new JsonArray(new JsonObject
            {
                ["action_type"] = "predict",
                ["method"] = "POST",
                // The documents route serves ingest (and bi-encoder queries); doc-only queries use the analyzer.
                ["url"] = new Uri(setup.SidecarUrl, $"/v1/models/{Uri.EscapeDataString(setup.SidecarModel)}/documents").ToString(),
                ["headers"] = new JsonObject { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer ${credential.api_key}" },
                ["request_body"] = "{ \"texts\": ${parameters.input}, \"sparse_embedding_format\": \"${parameters.sparse_embedding_format}\" }",
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
                ["filter"] = new JsonArray(Term("name.keyword", setup.ModelName), Term("connector_id", connectorId)),
            },
        };
        if (await FindIdAsync("/_plugins/_ml/models/_search", query, cancellationToken) is { } existing)
        {
            if (existing.Source?["model_state"]?.GetValue<string>() == "DEPLOYED")
            {
                return existing.Id;
            }

            JsonNode deploy = await _client.SendAsync(new OpenSearchRequest(HttpMethod.Post, $"/_plugins/_ml/models/{existing.Id}/_deploy"), cancellationToken);
            await WaitForTaskAsync(deploy["task_id"]!.GetValue<string>(), setup.DeployTimeout, cancellationToken);
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
        if (version >= new Version(3, 1))
        {
            model["model_config"] = new JsonObject { ["model_type"] = "SPARSE_ENCODING" };
        }

        JsonNode registered = await _client.SendAsync(new OpenSearchRequest(HttpMethod.Post, "/_plugins/_ml/models/_register?deploy=true", model), cancellationToken);
        string modelId = registered["model_id"]?.GetValue<string>()
            ?? await WaitForTaskAsync(registered["task_id"]!.GetValue<string>(), setup.DeployTimeout, cancellationToken);
        changes.Add("model: registered and deployed");
        return modelId;
    }

    /// <summary>Polls an ml-commons task until COMPLETED (returns its model id) or FAILED / the timeout (throws).</summary>
    private async Task<string> WaitForTaskAsync(string taskId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        DateTimeOffset deadline = _time.GetUtcNow() + timeout;
        while (true)
        {
            JsonNode task = await _client.SendAsync(new OpenSearchRequest(HttpMethod.Get, $"/_plugins/_ml/tasks/{taskId}"), cancellationToken);
            string? state = task["state"]?.GetValue<string>();
            if (state == "COMPLETED")
            {
                return task["model_id"]?.GetValue<string>() ?? string.Empty;
            }

            if (state is "FAILED" or "COMPLETED_WITH_ERROR")
            {
                string error = task["error"]?.ToString() ?? "no error message";
                throw new OpenSearchException($"ml-commons task {taskId} {state}: {error}", null, "ml_task_failed", error, "GET", $"/_plugins/_ml/tasks/{taskId}");
            }

            if (_time.GetUtcNow() >= deadline)
            {
                throw new OpenSearchException($"ml-commons task {taskId} is still {state} after {timeout}; check GET /_plugins/_ml/tasks/{taskId}.", null, "ml_task_timeout", state, "GET", $"/_plugins/_ml/tasks/{taskId}");
            }

            await Task.Delay(TimeSpan.FromSeconds(1), _time, cancellationToken);
        }
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
                ["settings"] = setup.SparseAnn ? new JsonObject { ["index.sparse"] = true, ["index.default_pipeline"] = setup.IngestPipeline } : (JsonObject)settings.DeepClone(),
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
