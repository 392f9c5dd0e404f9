using Grpc.Core;
using NeuralSparse.Core.Errors;

namespace NeuralSparse.Sidecar.Hosting;

/// <summary>The two tables that map the error taxonomy onto the transports; nothing else maps errors.</summary>
internal static class ErrorMapping
{
    /// <summary>
    /// Seconds a client should wait before retrying an overloaded or timed-out request: HTTP <c>Retry-After</c>, gRPC
    /// <c>grpc-retry-pushback-ms</c>.
    /// </summary>
    public const int RetryAfterSeconds = 1;

    public static int HttpStatus(NeuralSparseErrorKind kind) => kind switch
    {
        NeuralSparseErrorKind.Validation => StatusCodes.Status400BadRequest,
        NeuralSparseErrorKind.ModelNotFound => StatusCodes.Status404NotFound,
        NeuralSparseErrorKind.UnsupportedOperation => StatusCodes.Status422UnprocessableEntity,
        NeuralSparseErrorKind.Unauthenticated => StatusCodes.Status401Unauthorized,
        NeuralSparseErrorKind.PayloadTooLarge => StatusCodes.Status413PayloadTooLarge,
        NeuralSparseErrorKind.UnsupportedMediaType => StatusCodes.Status415UnsupportedMediaType,
        NeuralSparseErrorKind.Overloaded => StatusCodes.Status429TooManyRequests,
        NeuralSparseErrorKind.Unavailable => StatusCodes.Status503ServiceUnavailable,
        NeuralSparseErrorKind.DeadlineExceeded => StatusCodes.Status503ServiceUnavailable,
        NeuralSparseErrorKind.ModelLoad => StatusCodes.Status500InternalServerError,
        NeuralSparseErrorKind.Backend => StatusCodes.Status500InternalServerError,
        _ => StatusCodes.Status500InternalServerError,
    };

    public static StatusCode GrpcStatus(NeuralSparseErrorKind kind) => kind switch
    {
        NeuralSparseErrorKind.Validation => StatusCode.InvalidArgument,
        NeuralSparseErrorKind.ModelNotFound => StatusCode.NotFound,
        NeuralSparseErrorKind.UnsupportedOperation => StatusCode.FailedPrecondition,
        NeuralSparseErrorKind.Unauthenticated => StatusCode.Unauthenticated,
        NeuralSparseErrorKind.PayloadTooLarge => StatusCode.ResourceExhausted,
        NeuralSparseErrorKind.UnsupportedMediaType => StatusCode.Unimplemented,
        NeuralSparseErrorKind.Overloaded => StatusCode.ResourceExhausted,
        NeuralSparseErrorKind.Unavailable => StatusCode.Unavailable,
        NeuralSparseErrorKind.DeadlineExceeded => StatusCode.DeadlineExceeded,
        NeuralSparseErrorKind.ModelLoad => StatusCode.Internal,
        NeuralSparseErrorKind.Backend => StatusCode.Internal,
        _ => StatusCode.Internal,
    };

    /// <summary>Whether the client should be told to retry after <see cref="RetryAfterSeconds"/>.</summary>
    public static bool IsRetryable(NeuralSparseErrorKind kind) =>
        kind is NeuralSparseErrorKind.Overloaded or NeuralSparseErrorKind.DeadlineExceeded or NeuralSparseErrorKind.Unavailable;

    /// <summary>Stable snake_case name for the ProblemDetails <c>errorType</c> and the metrics label.</summary>
    public static string Name(NeuralSparseErrorKind kind) => kind switch
    {
        NeuralSparseErrorKind.Validation => "validation",
        NeuralSparseErrorKind.ModelNotFound => "model_not_found",
        NeuralSparseErrorKind.UnsupportedOperation => "unsupported_operation",
        NeuralSparseErrorKind.Unauthenticated => "unauthenticated",
        NeuralSparseErrorKind.PayloadTooLarge => "payload_too_large",
        NeuralSparseErrorKind.UnsupportedMediaType => "unsupported_media_type",
        NeuralSparseErrorKind.Overloaded => "overloaded",
        NeuralSparseErrorKind.Unavailable => "unavailable",
        NeuralSparseErrorKind.DeadlineExceeded => "deadline_exceeded",
        NeuralSparseErrorKind.ModelLoad => "model_load",
        NeuralSparseErrorKind.Backend => "backend",
        _ => "internal",
    };
}
