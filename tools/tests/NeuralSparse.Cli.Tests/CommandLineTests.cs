using NeuralSparse.Cli.Evaluation;
using NeuralSparse.Cli.Tests.Infrastructure;
using NeuralSparse.Core.Sparse;

namespace NeuralSparse.Cli.Tests;

/// <summary>Options, variables and input errors: clear messages and exit codes, never a stack trace.</summary>
public sealed class CommandLineTests
{
    [Fact]
    public async Task Variables_FillOptions_AndTheCommandLineWins()
    {
        var environment = new Dictionary<string, string> { ["NEURAL_SPARSE_SIDECAR"] = "http://127.0.0.1:9", ["NEURAL_SPARSE_MODEL"] = "doc" };

        CliRun fromVariables = await CliRunner.RunAsync(environment, "encode", "hello");
        CliRun overridden = await CliRunner.RunAsync(environment, "encode", "hello", "--sidecar", "not a url");
        CliRun missing = await CliRunner.RunAsync("encode", "hello");

        Assert.Equal(1, fromVariables.ExitCode); // nothing listens on port 9: the sidecar URL came from the variable
        Assert.Contains("127.0.0.1:9", fromVariables.Error, StringComparison.Ordinal);
        Assert.Contains("--sidecar 'not a url' is not an absolute URL", overridden.Error, StringComparison.Ordinal);
        Assert.Contains("pass --model NAME", missing.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UsageErrors_ExitTwo_AndSayHowToGetHelp()
    {
        CliRun run = await CliRunner.RunAsync("eval", "--data", "x", "--two-phase-via", "server");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("server", run.Error, StringComparison.Ordinal);
        Assert.Contains("--help", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Sweep_RefusesImpossibleSettings_WithTheServersMessage()
    {
        var error = Assert.Throws<ArgumentException>(() => EvalSetting.Sweep([0.4f], [0.5f], SparsePruneType.MaxRatio));

        Assert.Equal("The two_phase_parameter.expansion_rate must >= 1.0. Received: 0.500000", error.Message);
    }

    [Fact]
    public async Task BadQrels_AreReportedWithFileAndLine()
    {
        string data = CliRunner.TempDirectory("badqrels");
        Directory.CreateDirectory(Path.Combine(data, "qrels"));
        await File.WriteAllTextAsync(Path.Combine(data, "queries.jsonl"), """{"_id":"q1","text":"hello"}""");
        await File.WriteAllTextAsync(Path.Combine(data, "qrels", "test.tsv"), "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\thigh\n");

        CliRun run = await CliRunner.RunAsync("eval", "--data", data, "--offline", "--vectors", data);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("test.tsv:3: expected 'query-id<TAB>corpus-id<TAB>integer score', got 'q1\td2\thigh'", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Generate_ThenEvalOffline_WritesTheReportChartAndJson()
    {
        string data = CliRunner.TempDirectory("generated");

        CliRun generated = await CliRunner.RunAsync("generate", "--out", data, "--documents", "3000", "--queries", "20", "--vocabulary", "500");
        CliRun eval = await CliRunner.RunAsync("eval", "--offline", "--data", data, "--vectors", data, "--out", data, "--prune-ratios", "0.6", "--expansion-rates", "1");

        Assert.True(generated.ExitCode == 0, generated.ToString());
        Assert.True(eval.ExitCode == 0, eval.ToString());
        foreach (string file in new[] { "eval-offline.md", "eval-offline.svg", "eval-offline.json" })
        {
            Assert.True(File.Exists(Path.Combine(data, file)), file);
        }

        Assert.Contains("3,000 documents scored exactly in process", await File.ReadAllTextAsync(Path.Combine(data, "eval-offline.md")), StringComparison.Ordinal);
        Directory.Delete(data, recursive: true);
    }

    [Fact]
    public async Task VectorsOfAnotherModel_AreRefused()
    {
        string data = CliRunner.TempDirectory("othermodel");
        await CliRunner.RunAsync("generate", "--out", data, "--documents", "10", "--queries", "2", "--vocabulary", "300");

        CliRun run = await CliRunner.RunAsync("eval", "--offline", "--data", data, "--vectors", data, "--model", "doc");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("was encoded with model 'synthetic', not 'doc'", run.Error, StringComparison.Ordinal);
    }
}
