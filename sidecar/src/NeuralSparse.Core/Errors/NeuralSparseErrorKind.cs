namespace NeuralSparse.Core.Errors;

/// <summary>
/// The one error taxonomy of the product. Each transport maps it exactly once: HTTP to ProblemDetails with a status
/// code, gRPC to a status code. The comments give both mappings.
/// </summary>
public enum NeuralSparseErrorKind
{
    /// <summary>The request is malformed or out of range (HTTP 400 / INVALID_ARGUMENT).</summary>
    Validation,

    /// <summary>The named model is not served (HTTP 404 / NOT_FOUND).</summary>
    ModelNotFound,

    /// <summary>The model cannot serve the operation, e.g. a doc-only model without idf.json asked for queries (HTTP 422 / FAILED_PRECONDITION).</summary>
    UnsupportedOperation,

    /// <summary>No or a wrong API key (HTTP 401 / UNAUTHENTICATED).</summary>
    Unauthenticated,

    /// <summary>The request body is over the size limit (HTTP 413 / RESOURCE_EXHAUSTED).</summary>
    PayloadTooLarge,

    /// <summary>The request body is not JSON, or a gRPC message is compressed (HTTP 415 / UNIMPLEMENTED).</summary>
    UnsupportedMediaType,

    /// <summary>The service is at capacity; retry after a short wait (HTTP 429 with Retry-After / RESOURCE_EXHAUSTED).</summary>
    Overloaded,

    /// <summary>The models are not loaded yet, or the service is shutting down (HTTP 503 / UNAVAILABLE).</summary>
    Unavailable,

    /// <summary>The request's time limit passed before it was answered (HTTP 503 with Retry-After / DEADLINE_EXCEEDED).</summary>
    DeadlineExceeded,

    /// <summary>A model directory or configuration is unusable; raised at start-up (HTTP 500 / INTERNAL if ever served).</summary>
    ModelLoad,

    /// <summary>The inference backend failed (HTTP 500 / INTERNAL).</summary>
    Backend,
}
