using System.Diagnostics;
using System.Text.Json.Nodes;
using NeuralSparse.Client;
using NeuralSparse.Client.Queries;
using NeuralSparse.Client.Transport;

namespace NeuralSparse.Cli.Evaluation;

/// <summary>What <c>eval</c> measures, and how.</summary>
internal sealed record EvalOptions
{
    public required string Data { get; init; }

    public string Split { get; init; } = "test";

    public int Size { get; init; } = 100;

    public IReadOnlyList<EvalSetting> Settings { get; init; } = [EvalSetting.Off, EvalSetting.On];

    public string VectorField { get; init; } = "passage_embedding";

    /// <summary>Cluster mode: the index to search.</summary>
    public string? Index { get; init; }

    /// <summary>Cluster mode: rewrite on the client (true) or create search pipelines for the server processor.</summary>
    public bool ClientSideTwoPhase { get; init; } = true;

    /// <summary>Cluster mode: send query_text with this ml-commons model id instead of query_tokens.</summary>
    public string? QueryTextModelId { get; init; }

    public int Warmup { get; init; } = 20;

    public int Repeats { get; init; } = 3;

    /// <summary>Evaluate only the first N judged queries.</summary>
    public int? MaxQueries { get; init; }
}

/// <summary>Runs the settings offline (exact, in process) or against a cluster, and computes every figure of the report.</summary>
internal static class EvalRunner
{
    /// <summary>Offline: one streaming pass over the corpus vectors scores every setting for every query.</summary>
    public static EvalReport Offline(EvalOptions options, BeirDataset data, IReadOnlyList<QueryVector> queries, string corpusVectors, VectorCache vectors, Action<long> progress)
    {
        var ranker = new StreamingRanker(queries, options.Settings, options.Size, options.VectorField);
        var clock = Stopwatch.StartNew();
        long documents = SparseVectorFile.Scan(corpusVectors, ranker.Vocabulary.TryGet, (id, tokens, weights) =>
        {
            ranker.Add(id, tokens, weights);
            if (ranker.Documents % 10_000 == 0)
            {
                progress(ranker.Documents);
            }
        });
        double seconds = Math.Max(clock.Elapsed.TotalSeconds, 1e-6);
        IReadOnlyList<OfflineSettingRun> runs = ranker.Results();
        IReadOnlyDictionary<string, IReadOnlyList<ScoredDocument>> off = runs.First(r => r.Setting.TwoPhase is null).Runs;
        var judgements = Judgements(data, queries);
        return new EvalReport(
            "offline", data.Directory, options.Split, queries.Count, options.Size, null, vectors.Model, null, 0, 1, documents, documents / seconds,
            string.Join("; ", vectors.Sources),
            [.. runs.Select(r => Result(r.Setting, options.Size, r.Runs, off, judgements, null, null, r.MeanPostingsScored))],
            Notes(data, queries));
    }

    /// <summary>Cluster: warm-up, then timed passes with the settings interleaved; relevance from the first pass.</summary>
    public static async Task<EvalReport> ClusterAsync(
        EvalOptions options, BeirDataset data, IReadOnlyList<QueryVector> queries, IOpenSearchTransport transport, VectorCache? vectors, Action<int, int> progress, CancellationToken cancellationToken)
    {
        string index = options.Index ?? throw new CliException("Cluster mode needs --index (or pass --offline).");
        var notes = Notes(data, queries);
        var client = new NeuralSparseSearchClient(transport);
        JsonNode count = await client.SendAsync(new OpenSearchRequest(HttpMethod.Get, $"/{Uri.EscapeDataString(index)}/_count"), cancellationToken);
        long indexed = count["count"]?.GetValue<long>() ?? 0;
        if (File.Exists(data.CorpusPath) && File.ReadLines(data.CorpusPath).Count(l => !string.IsNullOrWhiteSpace(l)) is var corpusSize && corpusSize != indexed)
        {
            notes.Add($"The index holds {indexed:N0} documents, the corpus {corpusSize:N0}: ingest the corpus first for comparable figures.");
        }

        var pipelines = new Dictionary<EvalSetting, string>();
        try
        {
            if (!options.ClientSideTwoPhase)
            {
                foreach ((EvalSetting setting, int i) in options.Settings.Where(s => s.TwoPhase is not null).Select((s, i) => (s, i)))
                {
                    string name = $"{index}-neural-sparse-eval-{i}";
                    await client.SendAsync(new OpenSearchRequest(HttpMethod.Put, $"/_search/pipeline/{name}", setting.TwoPhase!.ToSearchPipeline("neural-sparse eval (temporary)")), cancellationToken);
                    pipelines[setting] = name;
                }
            }

            (string Path, JsonObject Body)[][] requests = [.. options.Settings.Select(s => queries.Select(q => Request(options, index, s, q, pipelines.GetValueOrDefault(s))).ToArray())];
            int total = (options.Settings.Count * options.Warmup) + (options.Settings.Count * queries.Count * options.Repeats), done = 0;
            for (int s = 0; s < options.Settings.Count && queries.Count > 0; s++)
            {
                for (int i = 0; i < options.Warmup; i++)
                {
                    await SearchAsync(client, requests[s][i % queries.Count], cancellationToken);
                    progress(++done, total);
                }
            }

            var took = options.Settings.Select(_ => new List<double>()).ToArray();
            var clientTimes = options.Settings.Select(_ => new List<double>()).ToArray();
            var runs = options.Settings.Select(_ => new Dictionary<string, IReadOnlyList<ScoredDocument>>(StringComparer.Ordinal)).ToArray();
            for (int repeat = 0; repeat < options.Repeats; repeat++)
            {
                for (int s = 0; s < options.Settings.Count; s++)
                {
                    for (int q = 0; q < queries.Count; q++)
                    {
                        (List<ScoredDocument> hits, double tookMs, double clientMs) = await SearchAsync(client, requests[s][q], cancellationToken);
                        took[s].Add(tookMs);
                        clientTimes[s].Add(clientMs);
                        if (repeat == 0)
                        {
                            runs[s][queries[q].Id] = hits;
                        }

                        progress(++done, total);
                    }
                }
            }

            int offIndex = Math.Max(0, options.Settings.ToList().FindIndex(s => s.TwoPhase is null));
            var judgements = Judgements(data, queries);
            return new EvalReport(
                "cluster", data.Directory, options.Split, queries.Count, options.Size, index, vectors?.Model, options.ClientSideTwoPhase ? "client-side rewrite" : "server processor",
                options.Warmup, options.Repeats, indexed, null,
                options.QueryTextModelId is { } model ? $"query_text encoded by the cluster's model {model}" : string.Join("; ", vectors?.Sources ?? []),
                [.. options.Settings.Select((setting, s) => Result(setting, options.Size, runs[s], runs[offIndex], judgements, took[s], clientTimes[s], null))],
                notes);
        }
        finally
        {
            foreach (string name in pipelines.Values)
            {
                await transport.SendAsync(new OpenSearchRequest(HttpMethod.Delete, $"/_search/pipeline/{name}"), CancellationToken.None);
            }
        }
    }

    private static (string Path, JsonObject Body) Request(EvalOptions options, string index, EvalSetting setting, QueryVector query, string? pipeline)
    {
        NeuralSparseQuery sparse = options.QueryTextModelId is { } model
            ? new NeuralSparseQuery(options.VectorField) { QueryText = TextOf(query), ModelId = model }
            : new NeuralSparseQuery(options.VectorField) { QueryTokens = query.Tokens };

        // "_none" keeps an index's default two-phase pipeline out of the settings that must not use it.
        var request = new SearchRequest(sparse) { Size = options.Size, SearchPipeline = pipeline ?? "_none" };
        if (setting.TwoPhase is { } parameters && options.ClientSideTwoPhase)
        {
            request = ClientSideTwoPhase.Apply(request, parameters);
        }

        JsonObject body = request.ToJson();
        body["_source"] = false;
        return (request.Path(index), body);
    }

    private static string TextOf(QueryVector query) => query.Text ?? throw new InvalidOperationException("query_text mode needs the query texts");

    /// <summary>A query for query_text mode: no tokens, the text instead.</summary>
    public static QueryVector WithText(TextRecord query) => new(query.Id, new Dictionary<string, float>(), query.Text);

    private static async Task<(List<ScoredDocument> Hits, double Took, double Client)> SearchAsync(NeuralSparseSearchClient client, (string Path, JsonObject Body) request, CancellationToken cancellationToken)
    {
        long start = Stopwatch.GetTimestamp();
        JsonNode json = await client.SendAsync(new OpenSearchRequest(HttpMethod.Post, request.Path, request.Body), cancellationToken);
        double clientMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        List<ScoredDocument> hits = [.. (json["hits"]?["hits"]?.AsArray() ?? []).Select(h => new ScoredDocument(h!["_id"]!.GetValue<string>(), h["_score"]?.GetValue<double>() ?? 0))];
        return (hits, json["took"]?.GetValue<double>() ?? double.NaN, clientMs);
    }

    private static SettingResult Result(
        EvalSetting setting, int size, IReadOnlyDictionary<string, IReadOnlyList<ScoredDocument>> runs, IReadOnlyDictionary<string, IReadOnlyList<ScoredDocument>> off,
        IReadOnlyDictionary<string, IReadOnlyDictionary<string, int>> judgements, List<double>? took, List<double>? client, double? postings)
    {
        QueryMetrics metrics = TrecMetrics.Mean(runs, judgements);
        double overlap = judgements.Keys.Select(q =>
        {
            HashSet<string> reference = [.. (off.GetValueOrDefault(q) ?? []).Take(10).Select(h => h.Id)];
            return reference.Count == 0 ? 1.0 : (double)(runs.GetValueOrDefault(q) ?? []).Take(10).Count(h => reference.Contains(h.Id)) / reference.Count;
        }).DefaultIfEmpty(1).Average();
        TwoPhaseParameters? p = setting.TwoPhase;
        return new SettingResult(
            setting.Label, p is null ? null : new NeuralSparse.Core.Sparse.SparsePruneRule(p.PruneType, p.PruneRatio).TypeName, p?.PruneRatio, p?.ExpansionRate, p?.WindowSize(size),
            metrics.Ndcg10, metrics.Recall100, metrics.Mrr10, overlap,
            took is null ? null : LatencyJson.Of(took), client is null ? null : LatencyJson.Of(client), postings);
    }

    private static Dictionary<string, IReadOnlyDictionary<string, int>> Judgements(BeirDataset data, IReadOnlyList<QueryVector> queries) =>
        queries.ToDictionary(q => q.Id, q => data.Judgements[q.Id], StringComparer.Ordinal);

    private static List<string> Notes(BeirDataset data, IReadOnlyList<QueryVector> queries)
    {
        var notes = new List<string>();
        if (data.UnknownQueries > 0)
        {
            notes.Add($"{data.UnknownQueries} judged queries are missing from queries.jsonl and were left out.");
        }

        if (queries.Count < data.Queries.Count)
        {
            notes.Add($"Only the first {queries.Count} of {data.Queries.Count} judged queries were evaluated (--max-queries).");
        }

        return notes;
    }
}
