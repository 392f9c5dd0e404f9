using Microsoft.Extensions.Logging;

namespace NeuralSparse.Onnx;

/// <summary>Log events of the ONNX backend (ids 2000–2099).</summary>
internal static partial class OnnxBackendLog
{
    [LoggerMessage(EventId = 2000, EventName = "ModelLoaded", Level = LogLevel.Information,
        Message = "Loaded model '{ModelName}' from {ModelPath}: {Description}.")]
    public static partial void ModelLoaded(ILogger logger, string modelName, string modelPath, string description);

    [LoggerMessage(EventId = 2001, EventName = "DeviceUnavailable", Level = LogLevel.Warning,
        Message = "Execution device {Device} was requested for model '{ModelName}' but is unavailable ({Reason}); running on CPU instead. Run the Gpu flavor (-p:OnnxRuntimeFlavor=Gpu) on a machine with an NVIDIA GPU and the CUDA 13 runtime, or set RequireDevice to fail instead.")]
    public static partial void DeviceUnavailable(ILogger logger, ExecutionDevice device, string modelName, string reason);

    [LoggerMessage(EventId = 2002, EventName = "ExtraLogitColumns", Level = LogLevel.Information,
        Message = "Model '{ModelName}' emits {Columns} logit columns for a {VocabularySize}-token vocabulary; the extra columns are sliced off.")]
    public static partial void ExtraLogitColumns(ILogger logger, string modelName, long columns, int vocabularySize);

    [LoggerMessage(EventId = 2003, EventName = "SyntheticModel", Level = LogLevel.Warning,
        Message = "Model '{ModelName}' is a generated model with random weights, NOT a trained model: its sparse vectors carry no meaning.")]
    public static partial void SyntheticModel(ILogger logger, string modelName);

    [LoggerMessage(EventId = 2004, EventName = "HubGraphBuilt", Level = LogLevel.Information,
        Message = "Built the ONNX graph of model '{ModelName}' ({Shape}) from its Hugging Face weights into {Entry} in {Seconds:F1} s; later starts reuse it.")]
    public static partial void HubGraphBuilt(ILogger logger, string modelName, string shape, string entry, double seconds);

    [LoggerMessage(EventId = 2005, EventName = "HubGraphReused", Level = LogLevel.Information,
        Message = "Model '{ModelName}': reusing the graph built earlier from the same weights ({Entry}).")]
    public static partial void HubGraphReused(ILogger logger, string modelName, string entry);

    [LoggerMessage(EventId = 2006, EventName = "GraphCacheFallback", Level = LogLevel.Information,
        Message = "The graph cache folder {Preferred} is not writable ({Reason}); using {Fallback}. Set NeuralSparse:GraphCacheDirectory to choose one.")]
    public static partial void GraphCacheFallback(ILogger logger, string preferred, string fallback, string reason);
}
