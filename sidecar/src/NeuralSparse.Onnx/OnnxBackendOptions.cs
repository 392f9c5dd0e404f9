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

/// <summary>How a graph built from a Hugging Face model folder stores its weights and computes.</summary>
public enum WeightPrecision
{
    /// <summary>Float32 weights and arithmetic (the default; what the models were trained in).</summary>
    Float32,

    /// <summary>
    /// Float16 weights with the transformer computed in float16 and float32 logits: half the memory, and tensor-core
    /// speed on CUDA. Weights change around the third decimal. On CPU it runs, but slower than float32.
    /// </summary>
    Float16,
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

    /// <summary>
    /// Whether spinning threads go on spinning for a while after a run returns (ONNX Runtime's default, true). False
    /// stops them when the run returns (<c>session.force_spinning_stop</c>): less CPU between infrequent requests,
    /// but on a 2-vCPU VM the service's single-query p99 was worse (44 ms against 28, docs/benchmarks.md), as the
    /// next run has to wake them.
    /// </summary>
    public bool SpinBetweenRuns { get; init; } = true;

    /// <summary>
    /// Whether a CPU session's threads get a core each (default true) where they fill the process's allowed cores
    /// exactly, on Linux: ONNX Runtime's pool threads for good, the thread that runs the model for the length of a
    /// run. Threads that spin while waiting for each other stall when the kernel stacks two of them on one core. With
    /// more allowed cores than threads (a shared node) nothing is pinned. See <see cref="CorePinning"/>.
    /// </summary>
    public bool PinThreads { get; init; } = true;

    /// <summary>Where pooling runs. Defaults to <see cref="PoolingPlacement.Graph"/>.</summary>
    public PoolingPlacement Pooling { get; init; } = PoolingPlacement.Graph;

    /// <summary>
    /// Where graphs built from Hugging Face model folders are kept between starts (one subfolder per set of inputs).
    /// Null (default): <c>$XDG_CACHE_HOME/neural-sparse/graphs</c> (or <c>~/.cache/…</c>), else, when that is not
    /// writable (a read-only root filesystem), <c>neural-sparse/graphs</c> under the temporary folder.
    /// </summary>
    public string? GraphCacheDirectory { get; init; }

    /// <summary>Weight precision of graphs built from Hugging Face model folders. Defaults to <see cref="WeightPrecision.Float32"/>.</summary>
    public WeightPrecision WeightPrecision { get; init; } = WeightPrecision.Float32;

    internal int EffectiveIntraOpThreads => IntraOpThreads > 0 ? IntraOpThreads : Environment.ProcessorCount;
}
