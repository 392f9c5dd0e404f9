using System.Diagnostics;
using System.Text.Json.Nodes;
using NeuralSparse.Cli.Ingest;
using NeuralSparse.Cli.Tests.Infrastructure;
using NeuralSparse.Client.Tests.InMemory;

namespace NeuralSparse.Cli.Tests;

/// <summary>
/// Ingest as a real child process, stopped mid-run by SIGKILL (no chance to clean up), SIGTERM (a service manager) or
/// SIGINT (Ctrl-C), then resumed: every document ends up indexed exactly once, and every refused one is in the failures
/// file exactly once.
/// </summary>
[Collection(SidecarCollection.Name)]
public sealed class IngestResumeTests(SidecarFixture sidecar)
{
    private const int Documents = 480;
    private static readonly string[] Words = ["hello", "world", "the", "weather", "in", "ny", "now", "new", "york", "rain", "sparse", "search", "open", "cafe", "a", "b", "c"];

    [Theory]
    [InlineData(CliRunner.SigKill, 137)]
    [InlineData(CliRunner.SigTerm, 130)]
    public Task StoppedMidRun_ThenResumed_IndexesEveryDocumentExactlyOnce_AndReportsEveryFailureOnce(int signal, int exitCode) =>
        StopAndResumeAsync(signal, exitCode);

    [SigIntDeliverableFact]
    public Task StoppedByCtrlC_ThenResumed_IndexesEveryDocumentExactlyOnce_AndReportsEveryFailureOnce() =>
        StopAndResumeAsync(CliRunner.SigInt, 130);

    private async Task StopAndResumeAsync(int signal, int exitCode)
    {
        // Every 40th document is refused by the mapper. Each _bulk takes 40 ms, and those after the first 24 (of 96; a
        // checkpoint is saved every 8) wait until the first run has been stopped: it cannot finish first on a busy machine.
        var cluster = new InMemoryOpenSearch
        {
            BulkDelay = TimeSpan.FromMilliseconds(40),
            HoldBulksAfter = 24,
            RejectDocument = id => int.Parse(id[1..], System.Globalization.CultureInfo.InvariantCulture) % 40 == 7 ? 400 : null,
        };
        cluster.Handle("PUT", "/kill", """{"mappings":{"properties":{"passage_embedding":{"type":"rank_features"}}}}""");
        await using ClusterHost host = await ClusterHost.StartAsync(cluster);
        string work = CliRunner.TempDirectory("kill");
        string input = Path.Combine(work, "corpus.jsonl");
        var random = new Random(signal);
        await File.WriteAllLinesAsync(input, Enumerable.Range(0, Documents).Select(i =>
            new JsonObject { ["_id"] = $"k{i:D4}", ["text"] = string.Join(' ', Enumerable.Range(0, 6).Select(_ => Words[random.Next(Words.Length)])), ["n"] = i }.ToJsonString()));
        string[] args = ["ingest", "--index", "kill", "--input", input, "--batch-size", "5", "--parallel", "2", "--cluster", host.Url, "--sidecar", sidecar.Url, "--model", "doc"];

        using (Process first = CliRunner.Start(args))
        {
            Task<string> firstOutput = first.StandardOutput.ReadToEndAsync();
            string checkpointPath = input + ".checkpoint.json";
            var clock = Stopwatch.StartNew();
            while (IngestCheckpoint.Load(checkpointPath) is not { Offset: > 0 } && !first.HasExited && clock.Elapsed < TimeSpan.FromSeconds(60))
            {
                await Task.Delay(10);
            }

            CliRunner.Signal(first, signal);
            using (var stopped = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
            {
                try
                {
                    await first.WaitForExitAsync(stopped.Token);
                }
                catch (OperationCanceledException)
                {
                    first.Kill();
                    Assert.Fail($"the CLI was still running 60 s after signal {signal}");
                }
            }

            cluster.ReleaseBulks();
            Assert.Equal(exitCode, first.ExitCode);
            IngestCheckpoint atStop = IngestCheckpoint.Load(checkpointPath)!;
            Assert.False(atStop.Complete, "the run finished before it could be stopped; the test proves nothing");
            Assert.All((await firstOutput).Split('\n', StringSplitOptions.RemoveEmptyEntries), line => JsonNode.Parse(line)); // a pipe gets JSON only
        }

        int indexedBeforeResume = cluster.Indices["kill"].Documents.Count;
        CliRun resumed = await CliRunner.RunProcessAsync(args, TimeSpan.FromSeconds(120));

        Assert.True(resumed.ExitCode == 3, resumed.ToString()); // finished, with failed documents
        string[] expectedFailures = [.. Enumerable.Range(0, Documents).Where(i => i % 40 == 7).Select(i => $"k{i:D4}")];
        InMemoryOpenSearch.IndexState index = cluster.Indices["kill"];
        Assert.Equal(Enumerable.Range(0, Documents).Select(i => $"k{i:D4}").Except(expectedFailures).Order(), index.Documents.Select(d => d.Id).Order());
        Assert.All(index.Documents, d => Assert.True(d.Operations == 1, $"{d.Id} was indexed {d.Operations} times"));
        Assert.All(index.Documents, d => Assert.Equal(int.Parse(d.Id[1..], System.Globalization.CultureInfo.InvariantCulture), d.Source["n"]!.GetValue<int>()));
        string[] failures = [.. File.ReadAllLines(input + ".failures.jsonl").Select(l => JsonNode.Parse(l)!["id"]!.GetValue<string>())];
        Assert.Equal(expectedFailures, failures.Order());
        JsonNode done = JsonNode.Parse(resumed.Lines[^1])!;
        Assert.Equal("done", done["event"]!.GetValue<string>());
        Assert.True(done["resumed"]!.GetValue<bool>());
        Assert.Equal(index.CreateConflicts, done["alreadyPresent"]!.GetValue<long>()); // indexed before the stop, found on resume, not indexed again
        Assert.InRange(indexedBeforeResume, 1, Documents - expectedFailures.Length - 1);
        Assert.True(IngestCheckpoint.Load(input + ".checkpoint.json")!.Complete);
        Directory.Delete(work, recursive: true);
    }

    [PseudoTerminalFact]
    public async Task OnATerminal_ShowsLiveProgress_WithRateEtaRetriesAndFailures()
    {
        var cluster = new InMemoryOpenSearch { BulkDelay = TimeSpan.FromMilliseconds(30), RejectDocument = id => id == "t0003" ? 400 : null };
        cluster.Handle("PUT", "/tty", """{"mappings":{"properties":{"passage_embedding":{"type":"rank_features"}}}}""");
        await using ClusterHost host = await ClusterHost.StartAsync(cluster);
        string work = CliRunner.TempDirectory("tty");
        string input = Path.Combine(work, "corpus.jsonl");
        await File.WriteAllLinesAsync(input, Enumerable.Range(0, 120).Select(i => $$"""{"_id":"t{{i:D4}}","text":"hello world {{Words[i % Words.Length]}}"}"""));
        string command = string.Join(' ', new[] { "dotnet", CliRunner.Assembly, "ingest", "--index", "tty", "--input", input, "--batch-size", "5", "--parallel", "1", "--cluster", host.Url, "--sidecar", sidecar.Url, "--model", "doc" }.Select(Quote));

        // script(1) runs the command on a pseudo-terminal and copies what it draws to our pipe.
        var start = new ProcessStartInfo("/usr/bin/script") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (string arg in new[] { "-qfec", command, "/dev/null" })
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["TERM"] = "xterm-256color";
        start.Environment["COLUMNS"] = "160";
        using Process process = Process.Start(start)!;
        string screen = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();

        Assert.True(process.ExitCode == 3, $"exit {process.ExitCode}:\n{screen}");
        Assert.Contains("\u001b[", screen, StringComparison.Ordinal); // ANSI: the display redraws in place
        Assert.Contains("docs/s", screen, StringComparison.Ordinal);
        Assert.Contains("ETA", screen, StringComparison.Ordinal);
        Assert.Contains("retried", screen, StringComparison.Ordinal);
        Assert.Contains("1 failed", screen, StringComparison.Ordinal);
        Assert.DoesNotContain("{\"event\"", screen, StringComparison.Ordinal); // no machine output on a terminal
        Directory.Delete(work, recursive: true);

        static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
    }
}

/// <summary>Skipped where this process ignores SIGINT (inherited by the CLI it starts), with the reason.</summary>
internal sealed class SigIntDeliverableFactAttribute : FactAttribute
{
    public SigIntDeliverableFactAttribute()
    {
        if (CliRunner.IgnoresSignal(CliRunner.SigInt))
        {
            Skip = "this test run ignores SIGINT (started in the background by a non-interactive shell, e.g. `cmd &`), and so does every process it starts: Ctrl-C cannot be tested here. The SIGTERM case covers the same graceful stop.";
        }
    }
}

/// <summary>Needs script(1) (util-linux) to run the CLI on a pseudo-terminal; skipped with the reason where it is absent.</summary>
internal sealed class PseudoTerminalFactAttribute : FactAttribute
{
    public PseudoTerminalFactAttribute()
    {
        if (!File.Exists("/usr/bin/script"))
        {
            Skip = "script(1) from util-linux (apt-get install util-linux) is needed to run the CLI on a pseudo-terminal.";
        }
    }
}
