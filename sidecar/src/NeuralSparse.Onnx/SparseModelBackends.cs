using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NeuralSparse.Core.Inference;
using NeuralSparse.Core.Models;

namespace NeuralSparse.Onnx;

/// <summary>Creates the backend that <see cref="OnnxBackendOptions"/> asks for.</summary>
public static class SparseModelBackends
{
    /// <summary>
    /// The two-session host-chunked backend for <see cref="HeadEvaluation.HostChunks"/> (falling back, with a log line,
    /// to the fused head where the graph's head cannot be found); otherwise <see cref="OnnxSparseModelBackend"/>,
    /// which chunks the head inside the graph by default.
    /// </summary>
    /// <exception cref="Core.Errors.NeuralSparseException">Kind ModelLoad, naming the file and the fix.</exception>
    public static ISparseModelBackend Create(SparseModelDefinition model, OnnxBackendOptions? options = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new OnnxBackendOptions();
        logger ??= NullLogger.Instance;
        if (options.Head == HeadEvaluation.HostChunks && options.Pooling == PoolingPlacement.Graph)
        {
            return (ISparseModelBackend?)HostChunkedHeadBackend.TryCreate(model, options, logger)
                ?? OnnxSparseModelBackend.Create(model, options with { Head = HeadEvaluation.Fused }, logger);
        }

        return OnnxSparseModelBackend.Create(model, options, logger);
    }
}
