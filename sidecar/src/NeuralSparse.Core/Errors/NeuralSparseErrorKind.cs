namespace NeuralSparse.Core.Errors;

/// <summary>
/// The one error taxonomy of the product. Each transport maps it exactly once (HTTP ProblemDetails, gRPC status).
/// </summary>
public enum NeuralSparseErrorKind
{
    /// <summary>The request is malformed or out of range (HTTP 400 / INVALID_ARGUMENT).</summary>
    Validation,

    /// <summary>The named model is not served (HTTP 404 / NOT_FOUND).</summary>
    ModelNotFound,

    /// <summary>The model cannot serve the requested operation, e.g. query mode without idf.json (HTTP 422 / FAILED_PRECONDITION).</summary>
    UnsupportedOperation,

    /// <summary>A model directory or configuration is unusable; raised at start-up (HTTP 503 / UNAVAILABLE if ever served).</summary>
    ModelLoad,

    /// <summary>The service is at capacity (HTTP 429 / RESOURCE_EXHAUSTED).</summary>
    Overloaded,

    /// <summary>The inference backend failed (HTTP 500 / INTERNAL).</summary>
    Backend,

    /// <summary>The caller cancelled or the deadline passed (HTTP 499 / CANCELLED or DEADLINE_EXCEEDED).</summary>
    Cancelled,
}
