using System.Text.Json.Nodes;
using NeuralSparse.Client.Transport;

namespace NeuralSparse.Cli.Provisioning;

/// <summary>
/// Lets the SDK's provisioner run against the real cluster without changing it: reads (GET, and the ml-commons
/// <c>_search</c> lookups) go to the cluster; every change is recorded, not sent, and answered as the cluster would
/// answer success, with placeholder ids for what would be created. So the plan is exactly the requests a real run
/// sends, in order, computed by the same code.
/// </summary>
internal sealed class DryRunTransport(IOpenSearchTransport cluster) : IOpenSearchTransport
{
    public const string NewConnectorId = "<id of the new connector>";
    public const string NewModelId = "<id of the new model>";
    private const string TaskId = "<task id>";

    private readonly HashSet<string> _deployed = new(StringComparer.Ordinal);

    /// <summary>The changes a real run would send, in order.</summary>
    public List<OpenSearchRequest> Planned { get; } = [];

    public async Task<OpenSearchResponse> SendAsync(OpenSearchRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        string path = request.Path.Split('?')[0];
        bool read = request.Method == HttpMethod.Get || request.Method == HttpMethod.Head
            || (request.Method == HttpMethod.Post && path.EndsWith("/_search", StringComparison.Ordinal));
        bool placeholder = request.Path.Contains('<', StringComparison.Ordinal) || _deployed.Contains(path);
        if (read && !placeholder)
        {
            return await cluster.SendAsync(request, cancellationToken);
        }

        if (read)
        {
            // Polling something this plan would have created: it is ready.
            return path.Contains("/_ml/tasks/", StringComparison.Ordinal)
                ? Answer(new JsonObject { ["state"] = "COMPLETED", ["model_id"] = NewModelId })
                : Answer(new JsonObject { ["model_state"] = "DEPLOYED" });
        }

        Planned.Add(request);
        if (path.EndsWith("/_deploy", StringComparison.Ordinal))
        {
            _deployed.Add(path[..^"/_deploy".Length]); // its state, read next, is what the deployment would make it
        }

        return path switch
        {
            _ when path.EndsWith("/_ml/connectors/_create", StringComparison.Ordinal) => Answer(new JsonObject { ["connector_id"] = NewConnectorId }),
            _ when path.EndsWith("/_ml/models/_register", StringComparison.Ordinal) => Answer(new JsonObject { ["model_id"] = NewModelId, ["task_id"] = TaskId, ["status"] = "CREATED" }),
            _ when path.EndsWith("/_deploy", StringComparison.Ordinal) => Answer(new JsonObject { ["task_id"] = TaskId, ["status"] = "CREATED" }),
            _ => Answer(new JsonObject { ["acknowledged"] = true }),
        };
    }

    private static OpenSearchResponse Answer(JsonObject body) => new(200, body.ToJsonString(), new Uri("http://dry-run"));
}
