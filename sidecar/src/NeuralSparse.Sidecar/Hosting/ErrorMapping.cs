using NeuralSparse.Core.Errors;
using NeuralSparse.Grpc;

namespace NeuralSparse.Sidecar.Hosting;

/// <summary>The two tables that map the error taxonomy onto the transports; nothing else maps errors.</summary>
internal static class ErrorMapping
{
    /// <summary>Seconds a client should wait before retrying an overloaded or timed-out request.</summary>
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

    public static GrpcStatusCode GrpcStatus(NeuralSparseErrorKind kind) => kind switch
    {
        NeuralSparseErrorKind.Validation => GrpcStatusCode.InvalidArgument,
        NeuralSparseErrorKind.ModelNotFound => GrpcStatusCode.NotFound,
        NeuralSparseErrorKind.UnsupportedOperation => GrpcStatusCode.FailedPrecondition,
        NeuralSparseErrorKind.Unauthenticated => GrpcStatusCode.Unauthenticated,
        NeuralSparseErrorKind.PayloadTooLarge => GrpcStatusCode.ResourceExhausted,
        NeuralSparseErrorKind.UnsupportedMediaType => GrpcStatusCode.Unimplemented,
        NeuralSparseErrorKind.Overloaded => GrpcStatusCode.ResourceExhausted,
        NeuralSparseErrorKind.Unavailable => GrpcStatusCode.Unavailable,
        NeuralSparseErrorKind.DeadlineExceeded => GrpcStatusCode.DeadlineExceeded,
        NeuralSparseErrorKind.ModelLoad => GrpcStatusCode.Internal,
        NeuralSparseErrorKind.Backend => GrpcStatusCode.Internal,
        _ => GrpcStatusCode.Internal,
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
