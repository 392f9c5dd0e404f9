using System.Text.Json.Nodes;
using System.Xml.Linq;
using NeuralSparse.Cli.Tests.Infrastructure;
using NeuralSparse.Client.Tests.InMemory;

namespace NeuralSparse.Cli.Tests;

/// <summary>The four commands against the real sidecar process and the in-memory cluster served over HTTP.</summary>
[Collection(SidecarCollection.Name)]
public sealed class EndToEndTests(SidecarFixture sidecar)
{
    private static readonly System.Text.Json.JsonSerializerOptions Relaxed = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    [Fact]
    public async Task ProvisionIngestEncodeEval_EndToEnd_AndOfflineEqualsTheCluster()
    {
        await using ClusterHost host = await ClusterHost.StartAsync(new InMemoryOpenSearch("3.1.0"));
        string work = CliRunner.TempDirectory("e2e");
        string setup = Path.Combine(work, "setup.json");
        await File.WriteAllTextAsync(setup, $$"""{ "index": "beir", "sidecarUrl": "{{sidecar.Url}}", "twoPhase": { "pruneRatio": 0.4 } }""");
        var environment = new Dictionary<string, string>
        {
            ["NEURAL_SPARSE_CLUSTER"] = host.Url,
            ["NEURAL_SPARSE_SIDECAR"] = sidecar.Url,
            ["NEURAL_SPARSE_MODEL"] = "doc",
        };

        // provision --dry-run: the exact requests, and the cluster unchanged.
        CliRun dryRun = await CliRunner.RunAsync(environment, "provision", "--config", setup, "--dry-run");
        Assert.True(dryRun.ExitCode == 0, dryRun.ToString());
        Assert.Equal(0, host.Cluster.Mutations);
        JsonArray planned = JsonNode.Parse(dryRun.Lines.Single())!["requests"]!.AsArray();
        Assert.Equal(6, planned.Count);

        // provision: sends exactly what the dry run showed (ids filled in), then a re-run plans nothing.
        int callsBefore = host.Cluster.Calls.Count;
        CliRun provisioned = await CliRunner.RunAsync(environment, "provision", "--config", setup);
        Assert.True(provisioned.ExitCode == 0, provisioned.ToString());
        JsonNode result = JsonNode.Parse(provisioned.Lines.Single())!;
        string Fill(string text) => text.Replace("<id of the new connector>", result["connectorId"]!.GetValue<string>(), StringComparison.Ordinal)
            .Replace("<id of the new model>", result["modelId"]!.GetValue<string>(), StringComparison.Ordinal);
        var sent = host.Cluster.Calls.Skip(callsBefore)
            .Where(c => c.Method is "PUT" or "DELETE" || (c.Method == "POST" && !c.Path.Split('?')[0].EndsWith("/_search", StringComparison.Ordinal)))
            .Select(c => $"{c.Method} {c.Path} {Redacted(c.Body)}").ToList();
        Assert.Equal(planned.Select(r => Fill($"{r!["method"]} {r["path"]} {r["body"]?.ToJsonString(Relaxed)}")), sent);
        CliRun again = await CliRunner.RunAsync(environment, "provision", "--config", setup);
        Assert.Empty(JsonNode.Parse(again.Lines.Single())!["planned"]!.AsArray());

        // ingest the BEIR corpus (title + text), one batch at a time so the index order is the corpus order.
        string corpus = Path.Combine(work, "corpus.jsonl");
        File.Copy(CliRunner.Fixture("beir-tiny", "corpus.jsonl"), corpus);
        CliRun ingested = await CliRunner.RunAsync(environment, "ingest", "--index", "beir", "--input", corpus, "--parallel", "1", "--batch-size", "4");
        Assert.True(ingested.ExitCode == 0, ingested.ToString());
        Assert.Equal(20, JsonNode.Parse(ingested.Lines[^1])!["indexed"]!.GetValue<long>());
        Assert.Equal(20, host.Cluster.Indices["beir"].Documents.Count);

        // encode: the top tokens as JSON lines.
        CliRun encoded = await CliRunner.RunAsync(environment, "encode", "weather in ny", "hello world", "--top", "3");
        Assert.True(encoded.ExitCode == 0, encoded.ToString());
        Assert.Equal(2, encoded.Lines.Length);
        Assert.Equal(3, JsonNode.Parse(encoded.Lines[0])!["top"]!.AsObject().Count);

        // eval: cluster (client-side rewrite and server processor) and offline, same sweep.
        string[] sweep = ["eval", "--data", CliRunner.Fixture("beir-tiny"), "--size", "10", "--prune-ratios", "0.4,0.7", "--expansion-rates", "1,5", "--warmup", "2", "--repeats", "2"];
        string clientOut = Path.Combine(work, "client"), processorOut = Path.Combine(work, "processor"), offlineOut = Path.Combine(work, "offline");
        CliRun client = await CliRunner.RunAsync(environment, [.. sweep, "--index", "beir", "--out", clientOut, "--vectors", work]);
        CliRun processor = await CliRunner.RunAsync(environment, [.. sweep, "--index", "beir", "--out", processorOut, "--vectors", work, "--two-phase-via", "processor"]);
        CliRun offline = await CliRunner.RunAsync(environment, [.. sweep, "--offline", "--out", offlineOut, "--vectors", work]);
        foreach (CliRun run in new[] { client, processor, offline })
        {
            Assert.True(run.ExitCode == 0, run.ToString());
        }

        JsonNode clientReport = Report(clientOut, "cluster"), processorReport = Report(processorOut, "cluster"), offlineReport = Report(offlineOut, "offline");
        Assert.Equal(6, clientReport["queries"]!.GetValue<int>()); // q1–q6 (q5 has no relevant document); q7 is not in queries.jsonl, q8 is not judged
        Assert.Equal(["off", "on (default)", "0.4 × 1", "0.7 × 1", "0.7 × 5"], clientReport["settings"]!.AsArray().Select(s => s!["label"]!.GetValue<string>()));
        Assert.Equal(Relevance(offlineReport), Relevance(clientReport));
        Assert.Equal(Relevance(offlineReport), Relevance(processorReport));
        Assert.All(clientReport["settings"]!.AsArray(), s => Assert.Equal(12, s!["took"]!["samples"]!.GetValue<int>())); // 6 queries × 2 repeats
        Assert.DoesNotContain(host.Cluster.SearchPipelines.Keys, k => k.Contains("eval", StringComparison.Ordinal)); // temporary pipelines removed
        Assert.Contains("1 judged queries are missing from queries.jsonl", offlineReport["notes"]![0]!.GetValue<string>(), StringComparison.Ordinal);
        foreach ((string folder, string mode) in new[] { (clientOut, "cluster"), (offlineOut, "offline") })
        {
            XDocument chart = XDocument.Load(Path.Combine(folder, $"eval-{mode}.svg"));
            Assert.Equal(5, chart.Descendants(XName.Get("circle", "http://www.w3.org/2000/svg")).Count());
            string markdown = await File.ReadAllTextAsync(Path.Combine(folder, $"eval-{mode}.md"));
            Assert.Contains("| 0.7 × 5 | 0.7 | 5 | 50 |", markdown, StringComparison.Ordinal);
            Assert.Contains($"](eval-{mode}.svg)", markdown, StringComparison.Ordinal);
        }

        Directory.Delete(work, recursive: true);
    }

    [Fact]
    public async Task Provision_OnACluster_TooOld_FailsWithTheClustersMessage()
    {
        await using ClusterHost host = await ClusterHost.StartAsync(new InMemoryOpenSearch("2.10.0"));
        string setup = Path.Combine(CliRunner.TempDirectory("old"), "setup.json");
        await File.WriteAllTextAsync(setup, """{ "index": "docs", "sidecarUrl": "http://sidecar:8080", "sidecarModel": "doc" }""");

        CliRun run = await CliRunner.RunAsync("provision", "--config", setup, "--cluster", host.Url);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("needs OpenSearch 2.11 or later; the cluster runs 2.10.0", run.Error, StringComparison.Ordinal);
        Assert.Equal(string.Empty, run.Out);
    }

    [Fact]
    public async Task Provision_RefusesAConfigWithATypo_NamingTheField()
    {
        string setup = Path.Combine(CliRunner.TempDirectory("typo"), "setup.json");
        await File.WriteAllTextAsync(setup, """{ "index": "docs", "sidecarUrl": "http://sidecar:8080", "sidecarModel": "doc", "twoPhase": { "pruneRatio": 0.4, "expansion": 3 } }""");

        CliRun run = await CliRunner.RunAsync("provision", "--config", setup, "--cluster", "http://127.0.0.1:9");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("expansion", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Encode_OnATerminal_ShowsATableOfTheTopTokens()
    {
        CliRun run = await CliRunner.RunOnTerminalAsync("encode", "the weather in ny", "--query", "--sidecar", sidecar.Url, "--model", "doc");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("weather", run.Out, StringComparison.Ordinal);
        Assert.Contains("4.5684", run.Out, StringComparison.Ordinal); // the idf of "weather" in the test model's idf.json
        Assert.Contains("of 4 tokens", run.Out, StringComparison.Ordinal);
    }

    private static JsonNode Report(string folder, string mode) => JsonNode.Parse(File.ReadAllText(Path.Combine(folder, $"eval-{mode}.json")))!;

    private static string[] Relevance(JsonNode report) => [.. report["settings"]!.AsArray().Select(s =>
        $"{s!["label"]}: {s["ndcg10"]!.GetValue<double>():R} {s["recall100"]!.GetValue<double>():R} {s["mrr10"]!.GetValue<double>():R} {s["top10OverlapWithOff"]!.GetValue<double>():R}")];

    private static string Redacted(string? body)
    {
        if (body is null)
        {
            return string.Empty;
        }

        JsonNode json = JsonNode.Parse(body)!;
        if (json["credential"] is JsonObject credential)
        {
            foreach (string key in credential.Select(c => c.Key).ToList())
            {
                credential[key] = "***";
            }
        }

        return json.ToJsonString(Relaxed);
    }
}
