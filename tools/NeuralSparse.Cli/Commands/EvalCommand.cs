using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text.Json.Nodes;
using NeuralSparse.Cli.Evaluation;
using NeuralSparse.Cli.Hosting;
using NeuralSparse.Client.Ingest;
using NeuralSparse.Client.Transport;
using NeuralSparse.Core.Sparse;
using Spectre.Console;

namespace NeuralSparse.Cli.Commands;

/// <summary>
/// <c>eval --data DIR [--split test] [--offline] [--index NAME] [--out DIR]</c>: relevance and latency of two-phase
/// off, on and a prune_ratio × expansion_rate sweep, against a cluster or exactly in process; Markdown, SVG, JSON.
/// </summary>
internal static class EvalCommand
{
    public static Command Create(CommonOptions common, CliHost host)
    {
        var data = new Option<string>("--data") { Description = "BEIR folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv", Required = true };
        var split = new Option<string>("--split") { Description = "qrels split", DefaultValueFactory = _ => "test" };
        var offline = new Option<bool>("--offline") { Description = "no cluster: exact sparse dot-product ranking in process, two-phase simulated exactly" };
        var index = new Option<string>("--index") { Description = "cluster mode: the index holding the corpus (ingest it first)" };
        var output = new Option<string>("--out") { Description = "where eval-<mode>.md, .svg and .json go", DefaultValueFactory = _ => "." };
        var size = new Option<int>("--size") { Description = "hits per query (Recall@100 needs 100); the two-phase window is size × expansion_rate", DefaultValueFactory = _ => 100 };
        var ratios = new Option<float[]>("--prune-ratios") { Description = "prune_ratio values of the sweep, comma-separated", CustomParser = Floats, DefaultValueFactory = _ => [0.2f, 0.4f, 0.6f] };
        var rates = new Option<float[]>("--expansion-rates") { Description = "expansion_rate values of the sweep, comma-separated", CustomParser = Floats, DefaultValueFactory = _ => [2f, 5f, 10f] };
        var pruneType = new Option<string>("--prune-type") { Description = "two-phase prune_type of the sweep", DefaultValueFactory = _ => "max_ratio" };
        var via = new Option<string>("--two-phase-via") { Description = "client: the SDK rewrites each request; processor: temporary search pipelines run neural_sparse_two_phase_processor", DefaultValueFactory = _ => "client" };
        via.AcceptOnlyFromAmong("client", "processor");
        var warmup = new Option<int>("--warmup") { Description = "cluster mode: untimed queries per setting before timing", DefaultValueFactory = _ => 20 };
        var repeats = new Option<int>("--repeats") { Description = "cluster mode: timed passes over every query", DefaultValueFactory = _ => 3 };
        var queryText = new Option<bool>("--query-text") { Description = "cluster mode: send query_text with --model-id (the cluster encodes) instead of query_tokens from the sidecar" };
        var modelId = new Option<string>("--model-id") { Description = "ml-commons model id for --query-text (provision prints it)" };
        var vectors = new Option<string>("--vectors") { Description = "folder of encoded vectors (queries.vectors.jsonl, corpus.vectors.jsonl): read if present, else encoded through the sidecar and written; default: --out" };
        var vectorField = new Option<string>("--vector-field") { Description = "the index's rank_features field", DefaultValueFactory = _ => "passage_embedding" };
        var maxQueries = new Option<int?>("--max-queries") { Description = "evaluate only the first N judged queries" };
        foreach (Option<int> positive in new[] { size, repeats })
        {
            positive.Validators.Add(r =>
            {
                if (r.GetValueOrDefault<int>() < 1)
                {
                    r.AddError($"{r.Option.Name} must be at least 1.");
                }
            });
        }

        var command = new Command("eval", "Measure relevance (NDCG@10, Recall@100, MRR@10) and latency of two-phase settings on a BEIR data set.")
        {
            data, split, offline, index, output, size, ratios, rates, pruneType, via, warmup, repeats, queryText, modelId, vectors, vectorField, maxQueries,
        };
        command.SetAction((parse, cancellationToken) => CliApplication.GuardAsync(host, async () =>
        {
            CommonOptions.Settings settings = common.Resolve(parse, host);
            IReadOnlyList<EvalSetting> sweep;
            try
            {
                sweep = EvalSetting.Sweep(parse.GetValue(ratios)!, parse.GetValue(rates)!, SparsePruneRule.ParseType(parse.GetValue(pruneType)));
            }
            catch (Exception ex) when (ex is ArgumentException or NeuralSparse.Core.Errors.NeuralSparseException)
            {
                throw new CliException(ex.Message, ex);
            }

            string outDirectory = parse.GetValue(output)!;
            var options = new EvalOptions
            {
                Data = parse.GetValue(data)!,
                Split = parse.GetValue(split)!,
                Size = parse.GetValue(size),
                Settings = sweep,
                VectorField = parse.GetValue(vectorField)!,
                Index = parse.GetValue(index),
                ClientSideTwoPhase = parse.GetValue(via) == "client",
                QueryTextModelId = parse.GetValue(queryText) ? parse.GetValue(modelId) ?? throw new CliException("--query-text needs --model-id (the ml-commons model that encodes the query).") : null,
                Warmup = Math.Max(0, parse.GetValue(warmup)),
                Repeats = parse.GetValue(repeats),
                MaxQueries = parse.GetValue(maxQueries),
            };
            if (options.QueryTextModelId is not null && options.ClientSideTwoPhase && sweep.Any(s => s.TwoPhase is not null))
            {
                throw new CliException("The client-side rewrite needs query_tokens; with --query-text use --two-phase-via processor.");
            }

            bool isOffline = parse.GetValue(offline);
            if (isOffline && options.QueryTextModelId is not null)
            {
                throw new CliException("--query-text needs a cluster; offline mode encodes queries through the sidecar.");
            }

            HttpClient? http = null;
            SidecarEncoderClient Encoder() => settings.CreateEncoder(out http);
            try
            {
                var cache = new VectorCache(parse.GetValue(vectors) ?? outDirectory, settings.Model, Encoder, Encoder);
                EvalReport report = await RunAsync(host, options, isOffline, cache, isOffline ? null : settings.CreateTransport, cancellationToken);
                Show(host, report, ReportWriter.Write(report, outDirectory));
                return 0;
            }
            finally
            {
                http?.Dispose();
            }
        }));
        return command;
    }

    internal static async Task<EvalReport> RunAsync(CliHost host, EvalOptions options, bool offline, VectorCache cache, Func<HttpOpenSearchTransport>? cluster, CancellationToken cancellationToken)
    {
        BeirDataset data = BeirDataset.Load(options.Data, options.Split);
        TextRecord[] judged = [.. data.Queries.Take(options.MaxQueries ?? int.MaxValue)];
        if (judged.Length == 0)
        {
            throw new CliException($"No judged query: qrels/{options.Split}.tsv names no query that queries.jsonl has.");
        }

        List<QueryVector> queries = options.QueryTextModelId is null
            ? await TerminalProgress.RunAsync(host, "encoding queries", _ => cache.QueriesAsync(judged, cancellationToken))
            : [.. judged.Select(EvalRunner.WithText)];
        if (offline)
        {
            string corpus = await TerminalProgress.RunAsync(host, "encoding corpus", report => cache.CorpusAsync(data.CorpusPath, n => report(n, 0), cancellationToken));
            return await TerminalProgress.RunAsync(host, "scoring", report => Task.Run(() => EvalRunner.Offline(options, data, queries, corpus, cache, n => report(n, 0)), cancellationToken));
        }

        using HttpOpenSearchTransport transport = cluster!();
        return await TerminalProgress.RunAsync(host, "searching", report =>
            EvalRunner.ClusterAsync(options, data, queries, transport, options.QueryTextModelId is null ? cache : null, (done, total) => report(done, total), cancellationToken));
    }

    private static void Show(CliHost host, EvalReport report, (string Markdown, string Chart, string Json) files)
    {
        if (!host.IsTerminal)
        {
            var summary = new JsonObject
            {
                ["event"] = "done",
                ["mode"] = report.Mode,
                ["queries"] = report.Queries,
                ["markdown"] = Path.GetFullPath(files.Markdown),
                ["chart"] = Path.GetFullPath(files.Chart),
                ["json"] = Path.GetFullPath(files.Json),
                ["settings"] = new JsonArray([.. report.Settings.Select(s => (JsonNode)new JsonObject
                {
                    ["label"] = s.Label,
                    ["ndcg10"] = s.Ndcg10,
                    ["recall100"] = s.Recall100,
                    ["mrr10"] = s.Mrr10,
                    ["tookP50"] = s.Took?.P50,
                    ["postingsScored"] = s.MeanPostingsScored,
                })]),
            };
            host.Out.WriteLine(summary.ToJsonString(CliJson.Line));
            return;
        }

        bool cluster = report.Mode == "cluster";
        var table = new Table().AddColumns("setting", "window", "NDCG@10", "Recall@100", "MRR@10", "top-10 vs off", cluster ? "took p50/p99 ms" : "postings/query");
        foreach (SettingResult s in report.Settings)
        {
            table.AddRow(
                Markup.Escape(s.Label), s.Window?.ToString(CultureInfo.InvariantCulture) ?? "–", F(s.Ndcg10), F(s.Recall100), F(s.Mrr10), s.Top10OverlapWithOff.ToString("P0", CultureInfo.InvariantCulture),
                cluster ? string.Create(CultureInfo.InvariantCulture, $"{s.Took?.P50:0.#} / {s.Took?.P99:0.#}") : string.Create(CultureInfo.InvariantCulture, $"{s.MeanPostingsScored:N0}"));
        }

        host.Terminal.Write(table);
        host.Terminal.MarkupLine($"{report.Queries} queries{(report.DocumentsPerSecond is { } rate ? string.Create(CultureInfo.InvariantCulture, $", {report.Documents:N0} documents scored at {rate:N0}/s") : string.Empty)}.");
        host.Terminal.MarkupLine($"Report: {Markup.Escape(files.Markdown)}, chart: {Markup.Escape(files.Chart)}, data: {Markup.Escape(files.Json)}");

        static string F(double v) => v.ToString("0.0000", CultureInfo.InvariantCulture);
    }

    private static float[] Floats(ArgumentResult result)
    {
        var values = new List<float>();
        foreach (string part in result.Tokens.SelectMany(t => t.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            if (!float.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out float value))
            {
                result.AddError($"'{part}' is not a number.");
                return [];
            }

            values.Add(value);
        }

        return [.. values];
    }
}
