using System.CommandLine;
using NeuralSparse.Cli.Hosting;
using NeuralSparse.Cli.Ingest;
using NeuralSparse.Client.Ingest;
using NeuralSparse.Client.Transport;
using Spectre.Console;

namespace NeuralSparse.Cli.Commands;

/// <summary>
/// <c>ingest --index NAME --input corpus.jsonl</c>: pre-encoded bulk ingest through the sidecar with progress,
/// resumable from a checkpoint, failures written to a file with ids and reasons.
/// </summary>
internal static class IngestCommand
{
    public static Command Create(CommonOptions common, CliHost host)
    {
        var index = new Option<string>("--index") { Description = "the index to ingest into (provision creates it)", Required = true };
        var input = new Option<string>("--input") { Description = "JSONL file, one document per line", Required = true };
        var idField = new Option<string>("--id-field") { Description = "field holding the document id", DefaultValueFactory = _ => "_id" };
        var textField = new Option<string[]>("--text-field") { Description = "field(s) to encode, joined by a space; repeatable (default: title, text)" };
        var checkpoint = new Option<string>("--checkpoint") { Description = "checkpoint file (default: <input>.checkpoint.json); a run resumes from it" };
        var failures = new Option<string>("--failures") { Description = "failures file, JSONL with id, status, type and reason (default: <input>.failures.jsonl)" };
        var restart = new Option<bool>("--restart") { Description = "ignore an existing checkpoint and start from the first line" };
        var batch = new Option<int>("--batch-size") { Description = "documents per encode call and per _bulk request", DefaultValueFactory = _ => 32 };
        var parallel = new Option<int>("--parallel") { Description = "batches in flight at once", DefaultValueFactory = _ => 4 };
        var vectorField = new Option<string>("--vector-field") { Description = "the index's rank_features field", DefaultValueFactory = _ => "passage_embedding" };
        var storedText = new Option<string>("--stored-text-field") { Description = "field the encoded text is stored in", DefaultValueFactory = _ => "passage_text" };
        foreach (Option<int> positive in new[] { batch, parallel })
        {
            positive.Validators.Add(r =>
            {
                if (r.GetValueOrDefault<int>() < 1)
                {
                    r.AddError($"{r.Option.Name} must be at least 1.");
                }
            });
        }

        var command = new Command("ingest", "Encode documents through the sidecar and bulk-index them with their vectors; resumable after a crash or Ctrl-C.")
        {
            index, input, idField, textField, checkpoint, failures, restart, batch, parallel, vectorField, storedText,
        };
        command.SetAction((parse, cancellationToken) => CliApplication.GuardAsync(host, async () =>
        {
            CommonOptions.Settings settings = common.Resolve(parse, host);
            string path = parse.GetValue(input)!;
            var ingest = new IngestSettings
            {
                Index = parse.GetValue(index)!,
                Input = path,
                IdField = parse.GetValue(idField)!,
                TextFields = parse.GetValue(textField) is { Length: > 0 } fields ? fields : ["title", "text"],
                CheckpointPath = parse.GetValue(checkpoint) ?? path + ".checkpoint.json",
                FailuresPath = parse.GetValue(failures) ?? path + ".failures.jsonl",
                Restart = parse.GetValue(restart),
                Bulk = new BulkIngestOptions
                {
                    BatchSize = parse.GetValue(batch),
                    MaxParallelBatches = parse.GetValue(parallel),
                    VectorField = parse.GetValue(vectorField)!,
                    TextField = parse.GetValue(storedText)!,
                },
            };
            using HttpOpenSearchTransport transport = settings.CreateTransport();
            SidecarEncoderClient encoder = settings.CreateEncoder(out HttpClient http);
            using (http)
            {
                return await RunAsync(host, transport, encoder, ingest, cancellationToken);
            }
        }));
        return command;
    }

    internal static async Task<int> RunAsync(CliHost host, IOpenSearchTransport transport, ISparseDocumentEncoder encoder, IngestSettings settings, CancellationToken cancellationToken)
    {
        var ingest = new CheckpointedIngest(transport, encoder, settings, host.Time);
        IngestSnapshot done = await IngestDisplay.RunAsync(host, Path.GetFileName(settings.Input), TimeSpan.FromSeconds(2), report => ingest.RunAsync(report, cancellationToken));
        if (host.IsTerminal)
        {
            host.Terminal.MarkupLine(Markup.Escape(IngestDisplay.Describe(done with { Eta = TimeSpan.Zero })));
            if (done.Failed > 0)
            {
                host.Terminal.MarkupLine($"[yellow]{done.Failed:N0} document(s) failed[/]: ids and reasons in {Markup.Escape(settings.FailuresPath)}");
            }
        }
        else
        {
            var summary = IngestDisplay.Json("done", done);
            summary["failuresFile"] = Path.GetFullPath(settings.FailuresPath);
            summary["checkpoint"] = Path.GetFullPath(settings.CheckpointPath);
            await host.Out.WriteLineAsync(summary.ToJsonString(CliJson.Line));
        }

        return done.Failed > 0 ? CliApplication.DocumentsFailed : 0;
    }
}
