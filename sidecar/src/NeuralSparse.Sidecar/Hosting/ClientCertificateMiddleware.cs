using NeuralSparse.Core.Errors;
using NeuralSparse.Sidecar.Http;

namespace NeuralSparse.Sidecar.Hosting;

/// <summary>
/// Mutual TLS on both ports. The TLS layer asks every client for a certificate and lets the connection through either
/// way (so probes without one can reach the health routes); this check then refuses every other call whose certificate
/// is missing, untrusted, expired or not allowed, before the API key is looked at, with a status that names the
/// reason: a 401 ProblemDetails. gRPC calls pass through to <see cref="Grpc.SidecarGrpcInterceptor"/>, which applies the
/// same check and answers UNAUTHENTICATED through the gRPC library.
/// </summary>
internal sealed class ClientCertificateMiddleware(RequestDelegate next, ClientCertificateValidator validator)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (Exempt(context.Request.Path)
            || IsGrpc(context.Request)
            || validator.Refusal(await context.Connection.GetClientCertificateAsync(context.RequestAborted)) is not { } refusal)
        {
            await next(context);
            return;
        }

        await ProblemWriter.WriteAsync(context, NeuralSparseErrorKind.Unauthenticated, refusal);
    }

    private static bool IsGrpc(HttpRequest request) =>
        request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true;

    /// <summary>Kubernetes probes and Prometheus reach these without a certificate, as they do without an API key.</summary>
    private static bool Exempt(PathString path) =>
        path.StartsWithSegments("/health", StringComparison.Ordinal)
        || path.StartsWithSegments("/metrics", StringComparison.Ordinal)
        || path.StartsWithSegments("/grpc.health.v1.Health", StringComparison.Ordinal);
}
