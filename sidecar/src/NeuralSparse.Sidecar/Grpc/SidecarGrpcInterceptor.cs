using System.Globalization;
using Grpc.Core;
using Grpc.Core.Interceptors;
using NeuralSparse.Core.Errors;
using NeuralSparse.Sidecar.Hosting;

namespace NeuralSparse.Sidecar.Grpc;

/// <summary>
/// Around every gRPC call: the API key (the health service stays open, like <c>/health</c>), and the one error table:
/// a <see cref="NeuralSparseException"/> becomes an <see cref="RpcException"/> with the mapped status, and retryable
/// errors carry <c>grpc-retry-pushback-ms</c>, the gRPC retry policy's server hint. Anything else is logged and
/// answered UNKNOWN without details.
/// </summary>
internal sealed class SidecarGrpcInterceptor(ApiKeyValidator apiKeys, ClientCertificateValidator certificates, ILogger<SidecarGrpcInterceptor> logger) : Interceptor
{
    /// <summary>Trailer the gRPC retry policy reads as "retry after this many milliseconds".</summary>
    public const string RetryPushbackTrailer = "grpc-retry-pushback-ms";

    private const string HealthServicePrefix = "/grpc.health.v1.Health/";

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Admit(context);
        try
        {
            return await continuation(request, context);
        }
        catch (Exception ex) when (ToRpcException(ex, context) is { } mapped)
        {
            throw mapped;
        }
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Admit(context);
        try
        {
            return await continuation(requestStream, context);
        }
        catch (Exception ex) when (ToRpcException(ex, context) is { } mapped)
        {
            throw mapped;
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Admit(context);
        try
        {
            await continuation(request, responseStream, context);
        }
        catch (Exception ex) when (ToRpcException(ex, context) is { } mapped)
        {
            throw mapped;
        }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Admit(context);
        try
        {
            await continuation(requestStream, responseStream, context);
        }
        catch (Exception ex) when (ToRpcException(ex, context) is { } mapped)
        {
            throw mapped;
        }
    }

    /// <summary>The status and trailers a client sees for <paramref name="error"/>.</summary>
    public static RpcException ToRpcException(NeuralSparseException error)
    {
        ArgumentNullException.ThrowIfNull(error);
        var trailers = new Metadata();
        if (ErrorMapping.IsRetryable(error.Kind))
        {
            trailers.Add(RetryPushbackTrailer, (ErrorMapping.RetryAfterSeconds * 1000).ToString(CultureInfo.InvariantCulture));
        }

        return new RpcException(new Status(ErrorMapping.GrpcStatus(error.Kind), error.Message), trailers);
    }

    private void Admit(ServerCallContext context)
    {
        if (context.Method.StartsWith(HealthServicePrefix, StringComparison.Ordinal))
        {
            return;
        }

        // Mutual TLS first (identity), then the API key, as RequestPipelineMiddleware does for HTTP. HTTP/2 cannot
        // renegotiate, so the certificate from the handshake is all there is.
        HttpContext http = context.GetHttpContext();
        if (certificates.Refusal(http.Connection.ClientCertificate) is { } refusal)
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, refusal));
        }

        if (!apiKeys.IsAuthorized(http.Request))
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "Send the API key as 'authorization: Bearer <key>' or 'x-api-key' metadata."));
        }
    }

    /// <summary>Null for what the library already answers correctly: RpcException, and cancellation by the client or its deadline.</summary>
    private RpcException? ToRpcException(Exception exception, ServerCallContext context)
    {
        switch (exception)
        {
            case NeuralSparseException error:
                if (error.Kind == NeuralSparseErrorKind.Backend)
                {
                    SidecarLog.BackendError(logger, "gRPC", context.Method, error.Message);
                }

                return ToRpcException(error);
            case RpcException:
            case OperationCanceledException when context.CancellationToken.IsCancellationRequested:
            case IOException when context.CancellationToken.IsCancellationRequested:
                return null;
            default:
                SidecarLog.UnhandledError(logger, "gRPC", context.Method, exception);
                return new RpcException(new Status(StatusCode.Unknown, "An unexpected error occurred; it has been logged."));
        }
    }
}
