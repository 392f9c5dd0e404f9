using System.Text.Json.Nodes;

namespace NeuralSparse.Client.Transport;

/// <summary>One REST call: method, path with query string, and a JSON body or NDJSON lines (for _bulk).</summary>
public sealed record OpenSearchRequest(HttpMethod Method, string Path, JsonNode? Body = null, string? NdJson = null);

/// <summary>A response: status, body text, the node that answered, and the server's Retry-After if any.</summary>
public sealed record OpenSearchResponse(int Status, string Body, Uri Node, TimeSpan? RetryAfter = null)
{
    /// <summary>True for 2xx.</summary>
    public bool IsSuccess => Status is >= 200 and < 300;

    /// <summary>The body as JSON (null when empty).</summary>
    public JsonNode? Json => string.IsNullOrWhiteSpace(Body) ? null : JsonNode.Parse(Body);
}

/// <summary>
/// The seam between the SDK and the network: the default sends HTTP to the cluster; tests and special hosts
/// substitute their own.
/// </summary>
public interface IOpenSearchTransport
{
    /// <summary>Sends <paramref name="request"/>, retrying transient failures; returns the final response, whatever its status.</summary>
    /// <exception cref="OpenSearchException">No response could be had (every attempt failed in transport or timed out).</exception>
    Task<OpenSearchResponse> SendAsync(OpenSearchRequest request, CancellationToken cancellationToken);
}
