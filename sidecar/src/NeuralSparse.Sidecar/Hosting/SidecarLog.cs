namespace NeuralSparse.Sidecar.Hosting;

/// <summary>Log events of the service host (ids 1000–1099). Never logs texts or keys.</summary>
internal static partial class SidecarLog
{
    [LoggerMessage(EventId = 1000, EventName = "ModelsReady", Level = LogLevel.Information,
        Message = "Ready: serving {ModelCount} model(s) [{ModelNames}] after {Seconds:F1} s.")]
    public static partial void ModelsReady(ILogger logger, int modelCount, string modelNames, double seconds);

    [LoggerMessage(EventId = 1001, EventName = "ModelLoadFailed", Level = LogLevel.Critical,
        Message = "Start-up failed: {Reason}")]
    public static partial void ModelLoadFailed(ILogger logger, string reason, Exception exception);

    [LoggerMessage(EventId = 1002, EventName = "DemoModel", Level = LogLevel.Warning,
        Message = "No model is configured (NeuralSparse:Models); serving the GENERATED demo model from {Directory}. Its weights are random: it is NOT a trained model.")]
    public static partial void DemoModel(ILogger logger, string directory);

    [LoggerMessage(EventId = 1003, EventName = "Listening", Level = LogLevel.Information,
        Message = "Listening: HTTP API on {HttpUrl}, gRPC on {GrpcUrl}. Try: curl -s {HttpUrl}/v1/documents -H 'Content-Type: application/json' -d '[\"hello world\"]'")]
    public static partial void Listening(ILogger logger, string httpUrl, string grpcUrl);

    [LoggerMessage(EventId = 1004, EventName = "ShuttingDown", Level = LogLevel.Information,
        Message = "Shutting down: readiness dropped; finishing {InFlight} in-flight text(s).")]
    public static partial void ShuttingDown(ILogger logger, int inFlight);

    [LoggerMessage(EventId = 1005, EventName = "UnhandledError", Level = LogLevel.Error,
        Message = "Request {Method} {Path} failed unexpectedly.")]
    public static partial void UnhandledError(ILogger logger, string method, string path, Exception exception);

    [LoggerMessage(EventId = 1006, EventName = "BackendError", Level = LogLevel.Error,
        Message = "Request {Method} {Path} failed in the inference backend: {Message}")]
    public static partial void BackendError(ILogger logger, string method, string path, string message);
}
