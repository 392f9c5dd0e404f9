using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using NeuralSparse.Core.Errors;
using NeuralSparse.Sidecar.Hosting;
using NeuralSparse.Sidecar.Metrics;

namespace NeuralSparse.Sidecar.Http;

/// <summary>
/// Around every HTTP request: the client certificate check (mutual TLS) and then the API key check, the one place where
/// exceptions become ProblemDetails, the request metrics and the Server-Timing header. gRPC calls pass through: SidecarGrpcInterceptor makes
/// the same checks and reports errors in trailers. The TLS layer lets connections without a certificate through, so
/// probes and scrapes reach /health and /metrics; every other route is refused here with a 401 naming the reason.
/// </summary>
internal sealed class RequestPipelineMiddleware(
    RequestDelegate next, ApiKeyValidator apiKeys, ClientCertificateValidator certificates, SidecarMetrics metrics, ILogger<RequestPipelineMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        long started = Stopwatch.GetTimestamp();
        bool isGrpc = context.Request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true;

        // Server-Timing (W3C): the time spent here before the response started, so a client can tell the service's
        // share of a latency from the network's and its own.
        context.Response.OnStarting(static state =>
        {
            (HttpResponse response, long since) = ((HttpResponse, long))state;
            response.Headers["Server-Timing"] = string.Create(CultureInfo.InvariantCulture, $"app;dur={Stopwatch.GetElapsedTime(since).TotalMilliseconds:F3}");
            return Task.CompletedTask;
        }, (context.Response, started));
        try
        {
            if (!isGrpc && RequiresCredentials(context.Request.Path))
            {
                if (certificates.IsEnabled
                    && certificates.Refusal(await context.Connection.GetClientCertificateAsync(context.RequestAborted)) is { } refusal)
                {
                    throw new NeuralSparseException(NeuralSparseErrorKind.Unauthenticated, refusal);
                }

                if (!apiKeys.IsAuthorized(context.Request))
                {
                    throw new NeuralSparseException(NeuralSparseErrorKind.Unauthenticated, "Send the API key as 'Authorization: Bearer <key>' or 'X-Api-Key: <key>'.");
                }
            }

            await next(context);
        }
        catch (Exception ex) when (!isGrpc && !context.RequestAborted.IsCancellationRequested)
        {
            await HandleAsync(context, ex);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; there is no one to answer. 499 is nginx's "client closed request", for metrics only.
            context.Response.StatusCode = 499;
        }
        finally
        {
            string route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "unmatched";
            metrics.RequestCompleted(route, isGrpc ? "grpc" : "http", context.Response.StatusCode, Stopwatch.GetElapsedTime(started));
        }
    }

    /// <summary>Kubernetes probes and Prometheus reach these without a certificate or an API key.</summary>
    private static bool RequiresCredentials(PathString path) =>
        !path.StartsWithSegments("/health", StringComparison.Ordinal) && !path.StartsWithSegments("/metrics", StringComparison.Ordinal);

    private async Task HandleAsync(HttpContext context, Exception exception)
    {
        (NeuralSparseErrorKind kind, string detail) = exception switch
        {
            NeuralSparseException e => (e.Kind, e.Message),
            BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } =>
                (NeuralSparseErrorKind.PayloadTooLarge, "The request body is over the configured limit (NeuralSparse:Limits:MaxRequestBytes)."),
            BadHttpRequestException e => (NeuralSparseErrorKind.Validation, e.Message),
            JsonException e => (NeuralSparseErrorKind.Validation, "The body is not valid JSON (or not valid UTF-8): " + e.Message),
            DecoderFallbackException or InvalidOperationException { InnerException: DecoderFallbackException } =>
                (NeuralSparseErrorKind.Validation, "The body is not valid UTF-8."),
            _ => (NeuralSparseErrorKind.Backend, "An unexpected error occurred; it has been logged."),
        };

        if (exception is not NeuralSparseException and not BadHttpRequestException and not JsonException and not DecoderFallbackException
            and not InvalidOperationException { InnerException: DecoderFallbackException })
        {
            SidecarLog.UnhandledError(logger, context.Request.Method, context.Request.Path, exception);
        }
        else if (kind == NeuralSparseErrorKind.Backend)
        {
            SidecarLog.BackendError(logger, context.Request.Method, context.Request.Path, detail);
        }

        await ProblemWriter.WriteAsync(context, kind, detail);
    }
}
