namespace NeuralSparse.Onnx;

/// <summary>Where inference runs.</summary>
public enum ExecutionDevice
{
    /// <summary>ONNX Runtime's CPU provider.</summary>
    Cpu,

    /// <summary>The CUDA provider; needs the Gpu flavor (-p:OnnxRuntimeFlavor=Gpu: Microsoft.ML.OnnxRuntime.Gpu.Linux), an NVIDIA GPU and the CUDA 13 runtime.</summary>
    Cuda,
}

/// <summary>Where max-pooling and the activation run.</summary>
public enum PoolingPlacement
{
    /// <summary>In the graph when the model outputs logits (the default): ORT returns [batch, vocab].</summary>
    Graph,

    /// <summary>On the host over [batch, sequence, vocab] logits; for parity checks and graphs that cannot be rewritten.</summary>
    Host,
}

/// <summary>ONNX Runtime settings of a model backend.</summary>
public sealed partial record OnnxBackendOptions
{
    /// <summary>Requested device. Defaults to <see cref="ExecutionDevice.Cpu"/>.</summary>
    public ExecutionDevice Device { get; init; } = ExecutionDevice.Cpu;

    /// <summary>CUDA device ordinal. Defaults to 0.</summary>
    public int CudaDeviceId { get; init; }

    /// <summary>
    /// When the requested device is unavailable: false (default) logs a warning and falls back to CPU; true fails
    /// the load, for deployments that must not silently run slower.
    /// </summary>
    public bool RequireDevice { get; init; }

    /// <summary>
    /// Threads for one operator (intra-op). 0 (default) means one per processor; ONNX Runtime's own default can
    /// leave a small machine single-threaded.
    /// </summary>
    public int IntraOpThreads { get; init; }

    /// <summary>
    /// Whether ONNX Runtime's intra-op threads spin while waiting for work (its default, true). Spinning lowers latency
    /// when the runtime owns the cores; turn it off when the process shares them (a busy server on few cores).
    /// </summary>
    public bool AllowSpinning { get; init; } = true;

    /// <summary>Where pooling runs. Defaults to <see cref="PoolingPlacement.Graph"/>.</summary>
    public PoolingPlacement Pooling { get; init; } = PoolingPlacement.Graph;

    internal int EffectiveIntraOpThreads => IntraOpThreads > 0 ? IntraOpThreads : Environment.ProcessorCount;
}
