using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using NeuralSparse.Cli.Evaluation;
using NeuralSparse.Cli.Hosting;

namespace NeuralSparse.Cli.Commands;

/// <summary><c>generate --out DIR</c>: a synthetic BEIR set with pre-encoded vectors, to measure the offline mode at scale.</summary>
internal static class GenerateCommand
{
    public static Command Create(CliHost host)
    {
        var output = new Option<string>("--out") { Description = "folder to write (qrels/test.tsv, queries.jsonl, queries.vectors.jsonl, corpus.vectors.jsonl)", Required = true };
        var documents = new Option<int>("--documents") { Description = "corpus size", DefaultValueFactory = _ => 100_000 };
        var queries = new Option<int>("--queries") { Description = "judged queries", DefaultValueFactory = _ => 200 };
        var vocabulary = new Option<int>("--vocabulary") { Description = "distinct tokens", DefaultValueFactory = _ => 30_000 };
        var seed = new Option<int>("--seed") { Description = "random seed", DefaultValueFactory = _ => 1 };
        var command = new Command("generate", "Write a synthetic pre-encoded BEIR set (for measuring eval --offline at scale: eval --offline --data DIR --vectors DIR).")
        {
            output, documents, queries, vocabulary, seed,
        };
        command.SetAction((parse, cancellationToken) => CliApplication.GuardAsync(host, async () =>
        {
            string directory = parse.GetValue(output)!;
            try
            {
                long written = await TerminalProgress.RunAsync(host, "generating", report => Task.Run(() => CorpusGenerator.Write(
                    directory, parse.GetValue(documents), parse.GetValue(queries), parse.GetValue(vocabulary), parse.GetValue(seed), n => report(n, parse.GetValue(documents))), cancellationToken));
                string summary = host.IsTerminal
                    ? string.Create(CultureInfo.InvariantCulture, $"Wrote {written:N0} documents and {parse.GetValue(queries)} queries to {directory}; run: neural-sparse eval --offline --data {directory} --vectors {directory}")
                    : new JsonObject { ["event"] = "done", ["documents"] = written, ["queries"] = parse.GetValue(queries), ["directory"] = Path.GetFullPath(directory) }.ToJsonString();
                await host.Out.WriteLineAsync(summary);
                return 0;
            }
            catch (ArgumentOutOfRangeException ex)
            {
                throw new CliException(ex.Message, ex);
            }
        }));
        return command;
    }
}
