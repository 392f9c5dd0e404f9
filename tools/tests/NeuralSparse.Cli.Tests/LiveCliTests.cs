using System.Text.Json.Nodes;
using NeuralSparse.Cli.Tests.Infrastructure;

namespace NeuralSparse.Cli.Tests;

/// <summary>
/// The four commands against a real OpenSearch cluster and sidecar (integration-tests/compose.yaml). Runs only when
/// OPENSEARCH_URL is set; never on this project's build machines.
/// </summary>
public sealed class LiveCliTests
{
    [LiveClusterFact]
    public async Task FourCommands_AgainstARealCluster()
    {
        static string Variable(string name) => Environment.GetEnvironmentVariable(name) ?? throw new InvalidOperationException($"Set {name} for the live suite.");
        string work = CliRunner.TempDirectory("live");
        string index = "cli-live-" + Guid.NewGuid().ToString("N")[..8];
        var environment = new Dictionary<string, string>
        {
            ["NEURAL_SPARSE_CLUSTER"] = Variable("OPENSEARCH_URL"),
            ["NEURAL_SPARSE_USERNAME"] = Environment.GetEnvironmentVariable("OPENSEARCH_USERNAME") ?? "admin",
            ["NEURAL_SPARSE_PASSWORD"] = Variable("OPENSEARCH_PASSWORD"),
            ["NEURAL_SPARSE_INSECURE"] = "true",
            ["NEURAL_SPARSE_SIDECAR"] = Variable("NEURAL_SPARSE_SIDECAR_URL"),
            ["NEURAL_SPARSE_MODEL"] = Variable("NEURAL_SPARSE_SIDECAR_MODEL"),
        };
        string setup = Path.Combine(work, "setup.json");
        await File.WriteAllTextAsync(setup, new JsonObject { ["index"] = index, ["sidecarUrl"] = Variable("NEURAL_SPARSE_SIDECAR_URL_FOR_CLUSTER") }.ToJsonString());

        Assert.Equal(0, (await CliRunner.RunAsync(environment, "provision", "--config", setup, "--dry-run")).ExitCode);
        Assert.Equal(0, (await CliRunner.RunAsync(environment, "provision", "--config", setup)).ExitCode);
        Assert.Empty(JsonNode.Parse((await CliRunner.RunAsync(environment, "provision", "--config", setup)).Lines.Single())!["planned"]!.AsArray());
        string corpus = Path.Combine(work, "corpus.jsonl");
        File.Copy(CliRunner.Fixture("beir-tiny", "corpus.jsonl"), corpus);
        CliRun ingest = await CliRunner.RunAsync(environment, "ingest", "--index", index, "--input", corpus);
        Assert.True(ingest.ExitCode == 0, ingest.ToString());
        await CliRunner.RunAsync(environment, "encode", "weather in new york");
        Thread.Sleep(TimeSpan.FromSeconds(2)); // the index refresh interval
        foreach (string[] mode in new[] { new[] { "--index", index }, ["--index", index, "--two-phase-via", "processor"], ["--offline"] })
        {
            CliRun eval = await CliRunner.RunAsync(environment, ["eval", "--data", CliRunner.Fixture("beir-tiny"), "--size", "10", "--out", Path.Combine(work, string.Join('-', mode)), "--vectors", work, .. mode]);
            Assert.True(eval.ExitCode == 0, eval.ToString());
        }
    }
}

/// <summary>Runs only when OPENSEARCH_URL names a cluster; skipped with the reason otherwise.</summary>
internal sealed class LiveClusterFactAttribute : FactAttribute
{
    public LiveClusterFactAttribute()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("OPENSEARCH_URL")))
        {
            Skip = "Set OPENSEARCH_URL (and OPENSEARCH_PASSWORD, NEURAL_SPARSE_SIDECAR_URL, NEURAL_SPARSE_SIDECAR_URL_FOR_CLUSTER, NEURAL_SPARSE_SIDECAR_MODEL) to run the live suite; integration-tests/compose.yaml starts a cluster and the sidecar.";
        }
    }
}
