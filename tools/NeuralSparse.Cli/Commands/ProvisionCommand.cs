using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using NeuralSparse.Cli.Hosting;
using NeuralSparse.Cli.Provisioning;
using NeuralSparse.Client.Provisioning;
using NeuralSparse.Client.Transport;
using Spectre.Console;

namespace NeuralSparse.Cli.Commands;

/// <summary>
/// <c>provision --config setup.json [--dry-run]</c>: plans with the SDK's provisioner against the real cluster
/// (nothing changed), shows what exists and what will change (every request with <c>--dry-run</c>), then applies.
/// </summary>
internal static class ProvisionCommand
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static Command Create(CommonOptions common, CliHost host)
    {
        var config = new Option<string>("--config") { Description = "setup file (JSON): index, sidecarUrl, sidecarModel, twoPhase, … (see tools/README.md)", Required = true };
        var dryRun = new Option<bool>("--dry-run") { Description = "show the exact requests a real run would send, and change nothing" };
        var command = new Command("provision", "Set up the sidecar as the cluster's model, pipelines and index; idempotent: a re-run changes nothing.") { config, dryRun };
        command.SetAction((parse, cancellationToken) => CliApplication.GuardAsync(host, async () =>
        {
            CommonOptions.Settings settings = common.Resolve(parse, host);
            NeuralSparseSetup setup = SetupFile.Load(parse.GetValue(config)!, settings.SidecarUrl, settings.Model);
            using HttpOpenSearchTransport transport = settings.CreateTransport();
            return await RunAsync(host, transport, setup, parse.GetValue(dryRun), cancellationToken);
        }));
        return command;
    }

    internal static async Task<int> RunAsync(CliHost host, IOpenSearchTransport cluster, NeuralSparseSetup setup, bool dryRun, CancellationToken cancellationToken)
    {
        var planner = new DryRunTransport(cluster);
        ProvisionResult plan = await new NeuralSparseProvisioner(planner).EnsureAsync(setup, cancellationToken);
        JsonArray requests = [.. planner.Planned.Select(r => (JsonNode)new JsonObject
        {
            ["method"] = r.Method.Method,
            ["path"] = r.Path,
            ["body"] = Redact(r.Body?.DeepClone()),
        })];
        List<string> existing = [];
        if (plan.ConnectorId != DryRunTransport.NewConnectorId)
        {
            existing.Add($"connector {plan.ConnectorId}");
        }

        if (plan.ModelId != DryRunTransport.NewModelId)
        {
            existing.Add($"model {plan.ModelId}");
        }

        ProvisionResult? applied = null;
        if (!dryRun && plan.Changes.Count > 0)
        {
            if (host.IsTerminal)
            {
                ShowPlan(host.Terminal, plan, existing, requests: null);
            }

            applied = await new NeuralSparseProvisioner(cluster).EnsureAsync(setup, cancellationToken);
        }

        if (!host.IsTerminal)
        {
            var summary = new JsonObject
            {
                ["dryRun"] = dryRun,
                ["clusterVersion"] = plan.ClusterVersion,
                ["index"] = setup.Index,
                ["existing"] = new JsonArray([.. existing.Select(e => (JsonNode)e)]),
                ["planned"] = new JsonArray([.. plan.Changes.Select(c => (JsonNode)c)]),
                ["applied"] = new JsonArray([.. (applied?.Changes ?? []).Select(c => (JsonNode)c)]),
                ["connectorId"] = (applied ?? plan).ConnectorId,
                ["modelId"] = (applied ?? plan).ModelId,
            };
            if (dryRun)
            {
                summary["requests"] = requests;
            }

            await host.Out.WriteLineAsync(summary.ToJsonString(CliJson.Line));
            return 0;
        }

        if (dryRun || plan.Changes.Count == 0)
        {
            ShowPlan(host.Terminal, plan, existing, dryRun ? requests : null);
        }

        if (applied is not null)
        {
            host.Terminal.MarkupLine($"[green]Applied[/] {applied.Changes.Count} change(s): {Markup.Escape(string.Join("; ", applied.Changes))}");
            host.Terminal.MarkupLine($"Connector [bold]{Markup.Escape(applied.ConnectorId)}[/], model [bold]{Markup.Escape(applied.ModelId)}[/].");
        }

        return 0;
    }

    private static void ShowPlan(IAnsiConsole terminal, ProvisionResult plan, List<string> existing, JsonArray? requests)
    {
        terminal.MarkupLine($"Cluster [bold]{Markup.Escape(plan.ClusterVersion)}[/].");
        if (existing.Count > 0)
        {
            terminal.MarkupLine($"Exists: {Markup.Escape(string.Join(", ", existing))}.");
        }

        if (plan.Changes.Count == 0)
        {
            terminal.MarkupLine("[green]Up to date[/]: nothing to change.");
            return;
        }

        terminal.MarkupLine(requests is null ? "Will change:" : "Would change (dry run, nothing sent):");
        foreach (string change in plan.Changes)
        {
            terminal.MarkupLine($"  • {Markup.Escape(change)}");
        }

        foreach (JsonNode? request in requests ?? [])
        {
            terminal.WriteLine();
            terminal.MarkupLine($"[bold]{request!["method"]} {Markup.Escape(request["path"]!.GetValue<string>())}[/]");
            if (request["body"] is { } body)
            {
                terminal.WriteLine(body.ToJsonString(Indented));
            }
        }
    }

    /// <summary>The connector's credential is not printed.</summary>
    private static JsonNode? Redact(JsonNode? body)
    {
        if (body?["credential"] is JsonObject credential)
        {
            foreach (string key in credential.Select(c => c.Key).ToList())
            {
                credential[key] = "***";
            }
        }

        return body;
    }
}
