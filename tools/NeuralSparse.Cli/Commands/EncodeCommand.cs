using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using NeuralSparse.Cli.Hosting;
using NeuralSparse.Client.Ingest;
using Spectre.Console;

namespace NeuralSparse.Cli.Commands;

/// <summary><c>encode TEXT… [--query] [--top N]</c>: the top tokens and weights the sidecar gives each text.</summary>
internal static class EncodeCommand
{
    public static Command Create(CommonOptions common, CliHost host)
    {
        var texts = new Argument<string[]>("text") { Description = "texts to encode", Arity = ArgumentArity.OneOrMore };
        var query = new Option<bool>("--query") { Description = "encode as a query (idf weights for doc-only models) instead of a document" };
        var top = new Option<int>("--top") { Description = "tokens to show per text", DefaultValueFactory = _ => 20 };
        top.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 1)
            {
                r.AddError("--top must be at least 1.");
            }
        });
        var command = new Command("encode", "Encode texts through the sidecar and show the top tokens, for quick checks.") { texts, query, top };
        command.SetAction((parse, cancellationToken) => CliApplication.GuardAsync(host, async () =>
        {
            SidecarEncoderClient encoder = common.Resolve(parse, host).CreateEncoder(out HttpClient http);
            using (http)
            {
                string[] inputs = parse.GetValue(texts)!;
                bool asQuery = parse.GetValue(query);
                IReadOnlyList<IReadOnlyDictionary<string, float>> vectors = asQuery
                    ? [.. await Task.WhenAll(inputs.Select(t => encoder.EncodeQueryAsync(t, cancellationToken)))]
                    : await encoder.EncodeDocumentsAsync(inputs, cancellationToken);
                Show(host, inputs, vectors, parse.GetValue(top));
                return 0;
            }
        }));
        return command;
    }

    private static void Show(CliHost host, string[] texts, IReadOnlyList<IReadOnlyDictionary<string, float>> vectors, int top)
    {
        for (int i = 0; i < texts.Length; i++)
        {
            KeyValuePair<string, float>[] best = [.. vectors[i].OrderByDescending(t => t.Value).ThenBy(t => t.Key, StringComparer.Ordinal).Take(top)];
            if (!host.IsTerminal)
            {
                host.Out.WriteLine(new JsonObject
                {
                    ["text"] = texts[i],
                    ["tokens"] = vectors[i].Count,
                    ["top"] = new JsonObject([.. best.Select(t => KeyValuePair.Create<string, JsonNode?>(t.Key, t.Value))]),
                }.ToJsonString(CliJson.Line));
                continue;
            }

            var table = new Table().Title(Markup.Escape(texts[i])).AddColumn("token").AddColumn(new TableColumn("weight").RightAligned());
            foreach ((string token, float weight) in best)
            {
                table.AddRow(Markup.Escape(token), weight.ToString("0.0000", CultureInfo.InvariantCulture));
            }

            table.Caption($"{best.Length} of {vectors[i].Count} tokens");
            host.Terminal.Write(table);
        }
    }
}
