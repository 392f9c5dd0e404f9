using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using NeuralSparse.Client.Transport;
using NeuralSparse.Core.Sparse;

namespace NeuralSparse.Client.Tests.InMemory;

/// <summary>
/// An in-memory single-shard OpenSearch that stores documents and SCORES searches the way the real engine does, for
/// tests that compare rankings (and for the CLI's end-to-end tests, served over HTTP):
/// <list type="bullet">
/// <item><c>rank_features</c> fields store each weight as Lucene's FeatureField does (truncated to 9 significant bits;
/// non-normal or non-finite weights are refused like the mapper refuses them);</item>
/// <item><c>neural_sparse</c> with <c>query_tokens</c> scores Σ (boost · w_q(t)) · stored(t) over the tokens a document
/// has (each term in float, the sum in double rounded to float, as Lucene's disjunction does), matching documents with
/// any query token; <c>bool</c> (must / should / filter / must_not, boost) composes clauses;</item>
/// <item><c>rescore</c> (query rescorer, score_mode total) re-ranks the top <c>window_size</c> hits: a hit the rescore
/// query matches scores <c>query_weight · first + rescore_query_weight · second</c>, others <c>query_weight · first</c>;</item>
/// <item>search pipelines with <c>neural_sparse_two_phase_processor</c> rewrite the request as the processor does
/// (split with the shared prune rule, window = size × expansion_rate), per request or as the index default;</item>
/// <item>ties rank the earlier-indexed document first (Lucene's doc id order);</item>
/// <item>the provisioning calls of <c>NeuralSparseProvisioner</c> (cluster settings, ml-commons connector, model,
/// tasks, ingest and search pipelines, index create/mapping/settings), <c>_bulk</c> (index and create),
/// <c>_count</c>, <c>_refresh</c>, delete.</item>
/// </list>
/// Anything else answers 400 naming what is unsupported, so a test cannot pass on a call the fake ignores.
/// </summary>
internal sealed class InMemoryOpenSearch(string version = "3.1.0") : IOpenSearchTransport
{
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _bulksReleased = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _ids;
    private int _bulkCalls;

    public string[] Plugins { get; init; } = ["opensearch-ml", "opensearch-neural-search"];

    /// <summary>Status to give a document at index time instead of indexing it (null indexes it), by id.</summary>
    public Func<string, int?> RejectDocument { get; init; } = _ => null;

    /// <summary>Time each _bulk call takes (to make a kill land mid-run).</summary>
    public TimeSpan BulkDelay { get; init; }

    /// <summary>
    /// Where set, _bulk calls after this many wait for <see cref="ReleaseBulks"/>: a run that a test stops mid-way
    /// cannot finish first, however slowly the test gets to stop it.
    /// </summary>
    public int? HoldBulksAfter { get; init; }

    /// <summary>Lets held and later _bulk calls through.</summary>
    public void ReleaseBulks() => _bulksReleased.TrySetResult();

    /// <summary>What a call waits before it is handled: for _bulk, the hold and then <see cref="BulkDelay"/>.</summary>
    public async Task BeforeHandlingAsync(string path, CancellationToken cancellationToken)
    {
        if (!path.Split('?')[0].EndsWith("/_bulk", StringComparison.Ordinal))
        {
            return;
        }

        if (HoldBulksAfter is int limit && Interlocked.Increment(ref _bulkCalls) > limit)
        {
            await _bulksReleased.Task.WaitAsync(cancellationToken);
        }

        if (BulkDelay > TimeSpan.Zero)
        {
            await Task.Delay(BulkDelay, cancellationToken);
        }
    }

    public JsonObject Settings { get; } = [];

    public Dictionary<string, JsonObject> Connectors { get; } = [];

    public Dictionary<string, JsonObject> Models { get; } = [];

    public Dictionary<string, JsonObject> IngestPipelines { get; } = [];

    public Dictionary<string, JsonObject> SearchPipelines { get; } = [];

    public Dictionary<string, IndexState> Indices { get; } = [];

    /// <summary>Every call, in order.</summary>
    public List<(string Method, string Path, string? Body)> Calls { get; } = [];

    /// <summary>Calls that change state (anything but GET and the search/count/refresh reads).</summary>
    public int Mutations
    {
        get
        {
            lock (_gate)
            {
                return Calls.Count(c => c.Method is "PUT" or "DELETE" || (c.Method == "POST" && !c.Path.Split('?')[0].EndsWith("/_search", StringComparison.Ordinal)
                    && !c.Path.Split('?')[0].EndsWith("/_refresh", StringComparison.Ordinal)));
            }
        }
    }

    /// <summary>Indexes documents directly, in order (tests that need a known doc id order).</summary>
    public void Index(string index, string field, IEnumerable<(string Id, IReadOnlyDictionary<string, float> Vector)> documents)
    {
        lock (_gate)
        {
            if (!Indices.TryGetValue(index, out IndexState? state))
            {
                Indices[index] = state = new IndexState(index, [], new JsonObject { ["properties"] = new JsonObject { [field] = new JsonObject { ["type"] = "rank_features" } } });
            }

            foreach ((string id, IReadOnlyDictionary<string, float> vector) in documents)
            {
                var source = new JsonObject { [field] = new JsonObject([.. vector.Select(t => KeyValuePair.Create<string, JsonNode?>(t.Key, t.Value))]) };
                (int status, _, _) = state.Put(id, source, create: false);
                if (status >= 300)
                {
                    throw new ArgumentException($"document {id} was refused ({status})");
                }
            }
        }
    }

    public async Task<OpenSearchResponse> SendAsync(OpenSearchRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        cancellationToken.ThrowIfCancellationRequested();
        string? body = request.NdJson ?? request.Body?.ToJsonString();
        await BeforeHandlingAsync(request.Path, cancellationToken);
        (int status, JsonNode? response) = Handle(request.Method.Method, request.Path, body);
        return new OpenSearchResponse(status, response?.ToJsonString() ?? string.Empty, new Uri("http://in-memory:9200"));
    }

    /// <summary>Handles one REST call given as text (the HTTP host's entry point).</summary>
    public (int Status, JsonNode? Body) Handle(string method, string pathAndQuery, string? body)
    {
        lock (_gate)
        {
            Calls.Add((method, pathAndQuery, body));
            try
            {
                return Route(method, pathAndQuery, body);
            }
            catch (BadRequestException ex)
            {
                return (ex.Status, Error(ex.Type, ex.Message));
            }
            catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException or ArgumentException or KeyNotFoundException)
            {
                return (400, Error("parsing_exception", ex.Message));
            }
        }
    }

    private (int, JsonNode?) Route(string method, string pathAndQuery, string? text)
    {
        string path = pathAndQuery.Split('?')[0];
        Dictionary<string, string> query = QueryString(pathAndQuery);
        string[] parts = path.Trim('/').Split('/', StringSplitOptions.RemoveEmptyEntries).Select(Uri.UnescapeDataString).ToArray();
        JsonNode? body = method == "POST" && path.EndsWith("/_bulk", StringComparison.Ordinal) || string.IsNullOrWhiteSpace(text) ? null : JsonNode.Parse(text);
        switch (method, parts)
        {
            case ("GET", []):
                return (200, JsonNode.Parse($$"""{"name":"in-memory","cluster_name":"test","cluster_uuid":"uuid","version":{"distribution":"opensearch","number":"{{version}}","build_type":"tar","build_hash":"x","build_date":"2025-01-01T00:00:00Z","build_snapshot":false,"lucene_version":"10.1.0","minimum_wire_compatibility_version":"2.19.0","minimum_index_compatibility_version":"2.0.0"},"tagline":"The OpenSearch Project: https://opensearch.org/"}"""));
            case ("GET", ["_cat", "plugins"]):
                return (200, new JsonArray([.. Plugins.Select(p => (JsonNode)new JsonObject { ["name"] = "node-1", ["component"] = p, ["version"] = version })]));
            case ("GET", ["_cluster", "settings"]):
                return (200, new JsonObject { ["persistent"] = Settings.DeepClone(), ["transient"] = new JsonObject() });
            case ("PUT", ["_cluster", "settings"]):
                foreach ((string key, JsonNode? value) in body!["persistent"]!.AsObject())
                {
                    Settings[key] = value is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False ? v.ToString().ToLowerInvariant() : value?.DeepClone();
                }

                return Acknowledged();
            case ("POST", ["_plugins", "_ml", "connectors", "_search"]):
                return FindByName(Connectors, body!);
            case ("POST", ["_plugins", "_ml", "connectors", "_create"]):
                string connectorId = NewId("connector");
                Connectors[connectorId] = body!.AsObject().DeepClone().AsObject();
                return (200, new JsonObject { ["connector_id"] = connectorId });
            case ("POST", ["_plugins", "_ml", "models", "_search"]):
                return FindByName(Models, body!);
            case ("POST", ["_plugins", "_ml", "models", "_register"]):
                string modelId = NewId("model");
                JsonObject model = body!.AsObject().DeepClone().AsObject();
                model["model_state"] = query.ContainsKey("deploy") ? "DEPLOYED" : "REGISTERED";
                Models[modelId] = model;
                return (200, new JsonObject { ["task_id"] = NewTask(modelId), ["status"] = "CREATED" });
            case ("POST", ["_plugins", "_ml", "models", var id, "_deploy"]):
                Models[id]["model_state"] = "DEPLOYED";
                return (200, new JsonObject { ["task_id"] = NewTask(id), ["status"] = "CREATED" });
            case ("GET", ["_plugins", "_ml", "models", var id]):
                return Models.TryGetValue(id, out JsonObject? found) ? (200, found.DeepClone()) : (404, Error("status_exception", $"Failed to find model {id}"));
            case ("GET", ["_plugins", "_ml", "tasks", var taskId]):
                return (200, new JsonObject { ["state"] = "COMPLETED", ["model_id"] = taskId.Split(':')[1], ["task_type"] = "REGISTER_MODEL" });
            case ("GET", ["_ingest", "pipeline", var name]):
                return Get(IngestPipelines, name);
            case ("PUT", ["_ingest", "pipeline", var name]):
                IngestPipelines[name] = body!.AsObject().DeepClone().AsObject();
                return Acknowledged();
            case ("GET", ["_search", "pipeline", var name]):
                return Get(SearchPipelines, name);
            case ("PUT", ["_search", "pipeline", var name]):
                SearchPipelines[name] = body!.AsObject().DeepClone().AsObject();
                return Acknowledged();
            case ("DELETE", ["_search", "pipeline", var name]):
                return SearchPipelines.Remove(name) ? Acknowledged() : (404, Error("resource_not_found_exception", $"pipeline [{name}] is missing"));
            case ("PUT", [var index]) when !index.StartsWith('_'):
                if (Indices.ContainsKey(index))
                {
                    return (400, Error("resource_already_exists_exception", $"index [{index}] already exists"));
                }

                Indices[index] = new IndexState(index, body?["settings"]?.AsObject().DeepClone().AsObject() ?? [], body?["mappings"]?.AsObject().DeepClone().AsObject() ?? []);
                return (200, new JsonObject { ["acknowledged"] = true, ["shards_acknowledged"] = true, ["index"] = index });
            case ("DELETE", [var index]):
                return Indices.Remove(index) ? Acknowledged() : IndexMissing(index);
            case ("GET", [var index, "_mapping"]):
                return Indices.TryGetValue(index, out IndexState? mapped)
                    ? (200, new JsonObject { [index] = new JsonObject { ["mappings"] = mapped.Mappings.DeepClone() } })
                    : IndexMissing(index);
            case ("GET", [var index, "_settings"]):
                return Indices.TryGetValue(index, out IndexState? withSettings)
                    ? (200, new JsonObject { [index] = new JsonObject { ["settings"] = withSettings.Settings.DeepClone() } })
                    : IndexMissing(index);
            case ("PUT", [var index, "_settings"]):
                foreach ((string key, JsonNode? value) in body!.AsObject())
                {
                    Indices[index].Settings[key] = value?.DeepClone();
                }

                return Acknowledged();
            case ("POST", [var index, "_refresh"]):
                return Indices.ContainsKey(index) ? (200, new JsonObject { ["_shards"] = Shards() }) : IndexMissing(index);
            case ("GET" or "POST", [var index, "_count"]):
                return Indices.TryGetValue(index, out IndexState? counted) ? (200, new JsonObject { ["count"] = counted.Documents.Count, ["_shards"] = Shards() }) : IndexMissing(index);
            case ("POST", [var index, "_bulk"]):
                return Bulk(index, query, text ?? string.Empty);
            case ("GET" or "POST", [var index, "_search"]):
                return Indices.TryGetValue(index, out IndexState? searched) ? Search(searched, query, body?.AsObject() ?? []) : IndexMissing(index);
            default:
                throw new BadRequestException(400, "unsupported_operation_exception", $"the in-memory cluster does not support {method} {pathAndQuery}");
        }
    }

    private (int, JsonNode?) Bulk(string index, Dictionary<string, string> query, string lines)
    {
        if (!Indices.TryGetValue(index, out IndexState? state))
        {
            return IndexMissing(index); // a real cluster would create it with a dynamic mapping, and neural_sparse would then fail
        }

        if (query.GetValueOrDefault("pipeline") != "_none" && state.Settings["index.default_pipeline"] is not null)
        {
            throw new BadRequestException(400, "illegal_argument_exception", "the in-memory cluster runs no ingest pipeline: send ?pipeline=_none with pre-encoded vectors");
        }

        string[] rows = lines.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var items = new JsonArray();
        for (int i = 0; i + 1 < rows.Length; i += 2)
        {
            JsonObject action = JsonNode.Parse(rows[i])!.AsObject();
            (string op, JsonNode? meta) = action.Single();
            string id = meta!["_id"]!.GetValue<string>();
            (int status, string? type, string? reason) = RejectDocument(id) is { } rejected
                ? (rejected, rejected == 400 ? "mapper_parsing_exception" : "es_rejected_execution_exception", $"rejected by the test for document [{id}]")
                : op is "index" or "create"
                    ? state.Put(id, JsonNode.Parse(rows[i + 1])!.AsObject(), op == "create")
                    : throw new BadRequestException(400, "illegal_argument_exception", $"unsupported bulk action [{op}]");
            var item = new JsonObject { ["_index"] = index, ["_id"] = id, ["status"] = status };
            if (status < 300)
            {
                item["result"] = "created";
            }
            else
            {
                item["error"] = new JsonObject { ["type"] = type, ["reason"] = reason };
            }

            items.Add(new JsonObject { [op] = item });
        }

        return (200, new JsonObject { ["took"] = 1, ["errors"] = items.Any(i => i!.AsObject().Single().Value!["status"]!.GetValue<int>() >= 300), ["items"] = items });
    }

    private (int, JsonNode?) Search(IndexState index, Dictionary<string, string> query, JsonObject body)
    {
        var clock = Stopwatch.StartNew();
        string? pipelineName = query.GetValueOrDefault("search_pipeline") ?? index.Settings["index.search.default_pipeline"]?.GetValue<string>();
        if (pipelineName is not null and not "_none")
        {
            JsonObject pipeline = SearchPipelines.TryGetValue(pipelineName, out JsonObject? p) ? p : throw new BadRequestException(404, "resource_not_found_exception", $"Pipeline {pipelineName} is not defined");
            foreach (JsonNode? processor in pipeline["request_processors"]?.AsArray() ?? [])
            {
                body = TwoPhaseProcessor.Rewrite(body, processor!["neural_sparse_two_phase_processor"]?.AsObject()
                    ?? throw new BadRequestException(400, "illegal_argument_exception", "the in-memory cluster runs only neural_sparse_two_phase_processor"));
            }
        }

        Matcher matcher = Compile(body["query"]?.AsObject() ?? new JsonObject { ["match_all"] = new JsonObject() }, index, 1f);
        var hits = new List<(Document Document, float Score)>();
        foreach (Document document in index.Documents)
        {
            if (matcher(document) is { } score)
            {
                hits.Add((document, score));
            }
        }

        List<(Document Document, float Score)> ranked = [.. hits.OrderByDescending(h => h.Score).ThenBy(h => h.Document.Ordinal)];
        foreach (JsonNode? rescore in body["rescore"]?.AsArray() ?? [])
        {
            ranked = Rescore(ranked, rescore!.AsObject(), index);
        }

        int from = body["from"]?.GetValue<int>() ?? 0;
        int size = body["size"]?.GetValue<int>() ?? 10;
        bool source = body["_source"] is not JsonValue value || value.GetValueKind() != JsonValueKind.False;
        var page = ranked.Skip(from).Take(size).Select(h =>
        {
            var hit = new JsonObject { ["_index"] = index.Name, ["_id"] = h.Document.Id, ["_score"] = h.Score };
            if (source)
            {
                hit["_source"] = h.Document.Source.DeepClone();
            }

            return (JsonNode)hit;
        });
        return (200, new JsonObject
        {
            ["took"] = (int)clock.ElapsedMilliseconds,
            ["timed_out"] = false,
            ["_shards"] = Shards(),
            ["hits"] = new JsonObject
            {
                ["total"] = new JsonObject { ["value"] = ranked.Count, ["relation"] = "eq" },
                ["max_score"] = ranked.Count > 0 ? ranked.Max(h => h.Score) : null,
                ["hits"] = new JsonArray([.. page]),
            },
        });
    }

    private static List<(Document, float)> Rescore(List<(Document Document, float Score)> ranked, JsonObject rescore, IndexState index)
    {
        int window = rescore["window_size"]?.GetValue<int>() ?? 10;
        JsonObject spec = rescore["query"]!.AsObject();
        float queryWeight = spec["query_weight"]?.GetValue<float>() ?? 1f;
        float rescoreWeight = spec["rescore_query_weight"]?.GetValue<float>() ?? 1f;
        if ((spec["score_mode"]?.GetValue<string>() ?? "total") != "total")
        {
            throw new BadRequestException(400, "illegal_argument_exception", "the in-memory cluster rescores with score_mode total only");
        }

        Matcher second = Compile(spec["rescore_query"]!.AsObject(), index, 1f);
        var top = ranked.Take(window)
            .Select(h => (h.Document, Score: second(h.Document) is { } s ? (h.Score * queryWeight) + (s * rescoreWeight) : h.Score * queryWeight))
            .OrderByDescending(h => h.Score).ThenBy(h => h.Document.Ordinal);
        return [.. top, .. ranked.Skip(window)];
    }

    /// <summary>A compiled query: the score when the document matches, else null.</summary>
    private delegate float? Matcher(Document document);

    private static Matcher Compile(JsonObject query, IndexState index, float boost)
    {
        (string type, JsonNode? clause) = query.Single();
        switch (type)
        {
            case "match_all":
                return _ => boost * (clause?["boost"]?.GetValue<float>() ?? 1f);
            case "neural_sparse":
            {
                (string field, JsonNode? options) = clause!.AsObject().Single();
                if (index.Mappings["properties"]?[field]?["type"]?.GetValue<string>() != "rank_features")
                {
                    throw new BadRequestException(400, "illegal_argument_exception", "[neural_sparse] query only works on [rank_features] fields");
                }

                if (options!["query_tokens"] is not JsonObject tokens)
                {
                    throw new BadRequestException(400, "illegal_argument_exception", "the in-memory cluster encodes no query_text: send query_tokens");
                }

                float outer = boost * (options["boost"]?.GetValue<float>() ?? 1f);

                // Lucene folds the boosts into each term's weight: BoostQuery(FeatureQuery(t), w) under the outer boosts.
                (string Token, float Weight)[] terms = [.. tokens.Select(t =>
                {
                    float weight = t.Value!.GetValue<float>();
                    return weight is > 0f and <= 64f
                        ? (t.Key, outer * weight)
                        : throw new BadRequestException(400, "illegal_argument_exception", string.Create(CultureInfo.InvariantCulture, $"weight must be in (0, 64.0], got: {weight}"));
                })];
                return document =>
                {
                    if (!document.Features.TryGetValue(field, out Dictionary<string, float>? features))
                    {
                        return null;
                    }

                    double sum = 0;
                    bool matched = false;
                    foreach ((string token, float weight) in terms)
                    {
                        if (features.TryGetValue(token, out float stored))
                        {
                            sum += weight * stored;
                            matched = true;
                        }
                    }

                    return matched ? (float)sum : null;
                };
            }

            case "bool":
            {
                float inner = boost * (clause!["boost"]?.GetValue<float>() ?? 1f);
                Matcher[] Clauses(string name, float clauseBoost) => [.. (clause[name]?.AsArray() ?? []).Select(q => Compile(q!.AsObject(), index, clauseBoost))];
                Matcher[] must = Clauses("must", inner), should = Clauses("should", inner), filter = Clauses("filter", 0f), mustNot = Clauses("must_not", 0f);
                int minimumShould = must.Length + filter.Length == 0 ? 1 : 0;
                return document =>
                {
                    double sum = 0;
                    foreach (Matcher m in must)
                    {
                        if (m(document) is not { } s)
                        {
                            return null;
                        }

                        sum += s;
                    }

                    if (filter.Any(m => m(document) is null) || mustNot.Any(m => m(document) is not null))
                    {
                        return null;
                    }

                    int matchedShould = 0;
                    foreach (Matcher m in should)
                    {
                        if (m(document) is { } s)
                        {
                            sum += s;
                            matchedShould++;
                        }
                    }

                    return matchedShould >= minimumShould ? (float)sum : null;
                };
            }

            default:
                throw new BadRequestException(400, "parsing_exception", $"the in-memory cluster does not score [{type}] queries");
        }
    }

    private string NewId(string kind) => $"{kind}-{++_ids}";

    private string NewTask(string modelId) => $"task-{++_ids}:{modelId}";

    private static (int, JsonNode?) FindByName(Dictionary<string, JsonObject> store, JsonNode query)
    {
        if (store.Count == 0)
        {
            return (404, Error("index_not_found_exception", "no such index [.plugins-ml-config]")); // ml-commons' index does not exist yet
        }

        string text = query.ToJsonString();
        var hits = store.Where(e => text.Contains($"\"{e.Value["name"]!.GetValue<string>()}\"", StringComparison.Ordinal)
                && (e.Value["connector_id"] is not { } c || text.Contains($"\"{c.GetValue<string>()}\"", StringComparison.Ordinal)))
            .Select(e => (JsonNode)new JsonObject { ["_id"] = e.Key, ["_source"] = e.Value.DeepClone() });
        return (200, new JsonObject { ["hits"] = new JsonObject { ["hits"] = new JsonArray([.. hits]) } });
    }

    private static (int, JsonNode?) Get(Dictionary<string, JsonObject> store, string name) =>
        store.TryGetValue(name, out JsonObject? value) ? (200, new JsonObject { [name] = value.DeepClone() }) : (404, new JsonObject());

    private static (int, JsonNode?) Acknowledged() => (200, new JsonObject { ["acknowledged"] = true });

    private static (int, JsonNode?) IndexMissing(string index) => (404, Error("index_not_found_exception", $"no such index [{index}]"));

    private static JsonObject Shards() => new() { ["total"] = 1, ["successful"] = 1, ["skipped"] = 0, ["failed"] = 0 };

    private static JsonObject Error(string type, string reason) => new()
    {
        ["error"] = new JsonObject { ["root_cause"] = new JsonArray(new JsonObject { ["type"] = type, ["reason"] = reason }), ["type"] = type, ["reason"] = reason },
        ["status"] = 400,
    };

    private static Dictionary<string, string> QueryString(string pathAndQuery)
    {
        int mark = pathAndQuery.IndexOf('?', StringComparison.Ordinal);
        return mark < 0
            ? []
            : pathAndQuery[(mark + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries)
                .Select(p => p.Split('=', 2))
                .ToDictionary(p => Uri.UnescapeDataString(p[0]), p => p.Length > 1 ? Uri.UnescapeDataString(p[1]) : string.Empty);
    }

    /// <summary>One stored document: source, its rank_features as stored (FeatureField-truncated), index order.</summary>
    internal sealed record Document(string Id, long Ordinal, JsonObject Source, Dictionary<string, Dictionary<string, float>> Features)
    {
        /// <summary>Successful index/create operations on this id (1 for a document indexed exactly once).</summary>
        public int Operations { get; set; } = 1;
    }

    /// <summary>An index: settings, mappings, documents in index order.</summary>
    internal sealed class IndexState(string name, JsonObject settings, JsonObject mappings)
    {
        private readonly Dictionary<string, int> _positions = new(StringComparer.Ordinal);
        private long _ordinal;

        public string Name { get; } = name;

        public JsonObject Settings { get; } = settings;

        public JsonObject Mappings { get; } = mappings;

        public List<Document> Documents { get; } = [];

        /// <summary>create actions refused because the id existed.</summary>
        public int CreateConflicts { get; private set; }

        public Document? Find(string id) => _positions.TryGetValue(id, out int position) ? Documents[position] : null;

        public (int Status, string? Type, string? Reason) Put(string id, JsonObject source, bool create)
        {
            Document? existing = Find(id);
            if (existing is not null && create)
            {
                CreateConflicts++;
                return (409, "version_conflict_engine_exception", $"[{id}]: version conflict, document already exists (current version [{existing.Operations}])");
            }

            var features = new Dictionary<string, Dictionary<string, float>>(StringComparer.Ordinal);
            foreach ((string field, JsonNode? mapping) in Mappings["properties"]?.AsObject() ?? [])
            {
                if (mapping?["type"]?.GetValue<string>() == "rank_features" && source[field] is JsonObject vector)
                {
                    var stored = new Dictionary<string, float>(StringComparer.Ordinal);
                    foreach ((string token, JsonNode? value) in vector)
                    {
                        float weight = value!.GetValue<float>();
                        if (!float.IsFinite(weight) || weight < 1.17549435E-38f)
                        {
                            return (400, "mapper_parsing_exception", string.Create(CultureInfo.InvariantCulture, $"failed to parse field [{field}]: featureValue must be a positive normal float, got: {weight}"));
                        }

                        stored[token] = StoredFeature(weight);
                    }

                    features[field] = stored;
                }
            }

            if (existing is not null)
            {
                Documents[_positions[id]] = existing with { Source = source, Features = features, Operations = existing.Operations + 1 };
                return (200, null, null);
            }

            _positions[id] = Documents.Count;
            Documents.Add(new Document(id, _ordinal++, source, features));
            return (201, null, null);
        }

        /// <summary>FeatureField keeps a weight's top 17 bits as the term frequency: the low 15 bits are lost.</summary>
        private static float StoredFeature(float weight) => BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(weight) & ~0x7FFF);
    }

    /// <summary>The processor's request rewrite, on the JSON it receives (neural-search NeuralSparseTwoPhaseProcessor).</summary>
    private static class TwoPhaseProcessor
    {
        public static JsonObject Rewrite(JsonObject body, JsonObject processor)
        {
            JsonObject parameters = processor["two_phase_parameter"]?.AsObject() ?? [];
            bool enabled = processor["enabled"]?.GetValue<bool>() ?? true;
            var rule = SparsePruneRule.Parse(parameters["prune_type"]?.GetValue<string>() ?? "max_ratio", parameters["prune_ratio"]?.GetValue<double>() ?? 0.4);
            float expansion = parameters["expansion_rate"]?.GetValue<float>() ?? 5f;
            int maxWindow = parameters["max_window_size"]?.GetValue<int>() ?? 10_000;
            if (!enabled || rule.Ratio == 0f)
            {
                return body;
            }

            JsonObject rewritten = body.DeepClone().AsObject();
            var low = new List<(JsonObject Clause, float Boost)>();
            if (rewritten["query"] is JsonObject query)
            {
                Collect(query, 1f, rule, low);
            }

            if (low.Count == 0)
            {
                return body;
            }

            int window = (int)((body["size"]?.GetValue<int>() ?? 10) * expansion);
            if (window < 0 || window > maxWindow)
            {
                throw new BadRequestException(400, "illegal_argument_exception", $"The two-phase window size of neural_sparse_two_phase_processor should be [0,{maxWindow}], but get the value of {window}");
            }

            float outer = (rewritten["rescore"]?.AsArray() ?? []).Aggregate(1f, (product, r) => product * (r!["query"]?["query_weight"]?.GetValue<float>() ?? 1f));
            var rescores = rewritten["rescore"]?.AsArray() ?? [];
            rewritten.Remove("rescore");
            rescores.Add(new JsonObject
            {
                ["window_size"] = window,
                ["query"] = new JsonObject
                {
                    ["rescore_query"] = new JsonObject
                    {
                        ["bool"] = new JsonObject
                        {
                            ["should"] = new JsonArray([.. low.Select(l =>
                            {
                                (string field, JsonNode? options) = l.Clause.Single();
                                options!["boost"] = l.Boost;
                                return (JsonNode)new JsonObject { ["neural_sparse"] = new JsonObject { [field] = options.DeepClone() } };
                            })]),
                            ["boost"] = outer,
                        },
                    },
                    ["query_weight"] = 1f,
                    ["rescore_query_weight"] = 1f,
                    ["score_mode"] = "total",
                },
            });
            rewritten["rescore"] = rescores;
            return rewritten;
        }

        private static void Collect(JsonObject query, float boost, SparsePruneRule rule, List<(JsonObject, float)> low)
        {
            if (query["neural_sparse"] is JsonObject sparse)
            {
                (string field, JsonNode? options) = sparse.Single();
                if (options!["query_tokens"] is JsonObject tokens)
                {
                    string[] names = [.. tokens.Select(t => t.Key)];
                    (SparseVector high, SparseVector rest) = rule.Split(SparseVector.FromPairs(names.Select((n, i) => KeyValuePair.Create(i, tokens[n]!.GetValue<float>()))));
                    JsonObject Map(SparseVector v) => new([.. Enumerable.Range(0, v.Count).Select(i => KeyValuePair.Create<string, JsonNode?>(names[v.TokenIds[i]], v.Weights[i]))]);
                    var copy = options.DeepClone().AsObject();
                    copy["query_tokens"] = Map(rest);
                    copy.Remove("boost");
                    options["query_tokens"] = Map(high);
                    low.Add((new JsonObject { [field] = copy }, boost * (options["boost"]?.GetValue<float>() ?? 1f)));
                }
            }
            else if (query["bool"] is JsonObject @bool)
            {
                float inner = boost * (@bool["boost"]?.GetValue<float>() ?? 1f);
                foreach (JsonNode? should in @bool["should"]?.AsArray() ?? [])
                {
                    Collect(should!.AsObject(), inner, rule, low);
                }
            }
        }
    }

    private sealed class BadRequestException(int status, string type, string message) : Exception(message)
    {
        public int Status { get; } = status;

        public string Type { get; } = type;
    }
}
