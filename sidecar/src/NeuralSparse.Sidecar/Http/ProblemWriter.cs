using System.Text.Json;
using NeuralSparse.Core.Errors;
using NeuralSparse.Sidecar.Hosting;

namespace NeuralSparse.Sidecar.Http;

/// <summary>Writes an error as RFC 9457 ProblemDetails, with retry hints where a retry can succeed.</summary>
internal static class ProblemWriter
{
    public static async Task WriteAsync(HttpContext context, NeuralSparseErrorKind kind, string detail)
    {
        HttpResponse response = context.Response;
        if (response.HasStarted)
        {
            return; // nothing sensible can be added to a response that is already streaming
        }

        response.Clear();
        response.StatusCode = ErrorMapping.HttpStatus(kind);
        if (ErrorMapping.IsRetryable(kind))
        {
            response.Headers.RetryAfter = ErrorMapping.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        if (kind == NeuralSparseErrorKind.Overloaded)
        {
            // ml-commons 2.15–3.7 retries a connector call only when this header says it was throttled.
            response.Headers["x-amzn-ErrorType"] = "ThrottlingException";
        }

        if (kind == NeuralSparseErrorKind.Unauthenticated)
        {
            response.Headers.WWWAuthenticate = "Bearer";
        }

        response.ContentType = "application/problem+json";
        string name = ErrorMapping.Name(kind);
        await using var writer = new Utf8JsonWriter(response.Body, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        writer.WriteStartObject();
        writer.WriteString("type", "urn:neural-sparse:error:" + name);
        writer.WriteString("title", Title(kind));
        writer.WriteNumber("status", response.StatusCode);
        writer.WriteString("detail", detail);
        writer.WriteString("instance", context.Request.Path);
        writer.WriteString("errorType", name);
        writer.WriteEndObject();
    }

    private static string Title(NeuralSparseErrorKind kind) => kind switch
    {
        NeuralSparseErrorKind.Validation => "The request is invalid.",
        NeuralSparseErrorKind.ModelNotFound => "The model is not served.",
        NeuralSparseErrorKind.UnsupportedOperation => "The model does not support this operation.",
        NeuralSparseErrorKind.Unauthenticated => "A valid API key is required.",
        NeuralSparseErrorKind.PayloadTooLarge => "The request body is too large.",
        NeuralSparseErrorKind.UnsupportedMediaType => "The content type is not supported.",
        NeuralSparseErrorKind.Overloaded => "The service is at capacity.",
        NeuralSparseErrorKind.Unavailable => "The service is not ready.",
        NeuralSparseErrorKind.DeadlineExceeded => "The request timed out.",
        _ => "The service failed to process the request.",
    };
}
