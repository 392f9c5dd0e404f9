using Microsoft.Extensions.Logging;

namespace NeuralSparse.Onnx;

/// <summary>Log events of the head and weight rewrites (ids 2050–2069).</summary>
internal static partial class OnnxBackendLog
{
    [LoggerMessage(EventId = 2050, EventName = "HeadNotChunked", Level = LogLevel.Information,
        Message = "Model '{ModelName}': the masked-LM head was not found ({Reason}); running the fused head, which holds [tokens × vocabulary] logits during a run.")]
    public static partial void HeadNotChunked(ILogger logger, string modelName, string reason);

    [LoggerMessage(EventId = 2051, EventName = "WeightsQuantized", Level = LogLevel.Information,
        Message = "Model '{ModelName}': {Count} MatMul weight matrices quantized to int8 (per column, dynamic activations).")]
    public static partial void WeightsQuantized(ILogger logger, string modelName, int count);
}
