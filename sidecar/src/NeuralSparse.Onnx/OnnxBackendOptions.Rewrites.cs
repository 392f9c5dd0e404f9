using NeuralSparse.Onnx.Graph;

namespace NeuralSparse.Onnx;

/// <summary>How the masked-LM head (vocabulary projection, then max-pooling) is evaluated.</summary>
public enum HeadEvaluation
{
    /// <summary>
    /// In the graph, over chunks of tokens with a running max (an ONNX Loop): one session, any execution provider,
    /// never more than one chunk of logits in memory. The default.
    /// </summary>
    GraphChunks,

    /// <summary>
    /// A body session, then a head session over chunks of the real (unpadded) tokens, max-pooled on the host with
    /// TensorPrimitives. Skips padding; on a GPU it would copy every chunk of logits to the host.
    /// </summary>
    HostChunks,

    /// <summary>
    /// The whole head at once: ONNX Runtime holds [tokens × vocabulary] logits (and a masked copy) during a run, about
    /// 5× their size in peak memory. The behaviour before chunking; for comparison.
    /// </summary>
    Fused,
}

/// <summary>How weights are stored and multiplied.</summary>
public enum WeightQuantization
{
    /// <summary>float32, as exported. The default.</summary>
    None,

    /// <summary>
    /// Opt-in, CPU: every MatMul with a constant weight matrix becomes ONNX Runtime's DynamicQuantizeMatMul, int8
    /// weights with one scale per output column and activations quantized per run. Faster on CPUs with int8 dot
    /// products; weights differ slightly from float32 (see docs/benchmarks.md for the measured fidelity).
    /// </summary>
    Int8,
}

public sealed partial record OnnxBackendOptions
{
    /// <summary>How the head is evaluated. Defaults to <see cref="HeadEvaluation.GraphChunks"/>.</summary>
    public HeadEvaluation Head { get; init; } = HeadEvaluation.GraphChunks;

    /// <summary>Tokens (rows × positions) per head chunk. Defaults to 512.</summary>
    public int HeadChunkTokens { get; init; } = ChunkedHeadRewriter.DefaultChunkTokens;

    /// <summary>Weight quantization. Defaults to <see cref="WeightQuantization.None"/> (float32).</summary>
    public WeightQuantization Quantization { get; init; } = WeightQuantization.None;
}
