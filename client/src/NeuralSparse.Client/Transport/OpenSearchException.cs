using System.Text.Json.Nodes;

namespace NeuralSparse.Client.Transport;

/// <summary>A failed OpenSearch call: the HTTP status, OpenSearch's error type and reason, and the request.</summary>
public sealed class OpenSearchException : Exception
{
    /// <summary>Creates the exception.</summary>
    public OpenSearchException(string message, int? status, string? errorType, string? reason, string method, string path, Exception? innerException = null)
        : base(message, innerException)
    {
        Status = status;
        ErrorType = errorType;
        Reason = reason;
        Method = method;
        Path = path;
    }

    /// <summary>HTTP status, or null when no response arrived (transport error, timeout).</summary>
    public int? Status { get; }

    /// <summary>OpenSearch's <c>error.type</c>, e.g. <c>resource_already_exists_exception</c>.</summary>
    public string? ErrorType { get; }

    /// <summary>OpenSearch's <c>error.reason</c>.</summary>
    public string? Reason { get; }

    /// <summary>HTTP method of the failed request.</summary>
    public string Method { get; }

    /// <summary>Path of the failed request.</summary>
    public string Path { get; }

    internal static OpenSearchException FromResponse(OpenSearchRequest request, OpenSearchResponse response)
    {
        (string? type, string? reason) = ParseError(response.Body);
        string message = $"{request.Method} {request.Path} failed with {response.Status}" +
            (type is null ? string.Empty : $" {type}") + (reason is null ? "." : $": {reason}");
        return new OpenSearchException(message, response.Status, type, reason, request.Method.Method, request.Path);
    }

    private static (string? Type, string? Reason) ParseError(string body)
    {
        try
        {
            JsonNode? error = JsonNode.Parse(body)?["error"];
            return error switch
            {
                JsonObject obj => (obj["type"]?.GetValue<string>(), obj["reason"]?.GetValue<string>()),
                JsonValue text => (null, text.ToString()),
                _ => (null, null),
            };
        }
        catch (System.Text.Json.JsonException)
        {
            return (null, body.Length > 200 ? body[..200] : body);
        }
    }
}
