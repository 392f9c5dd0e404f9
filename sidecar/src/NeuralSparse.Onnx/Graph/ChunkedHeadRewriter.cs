using Microsoft.Extensions.Logging;
using NeuralSparse.Core.Sparse;
using NeuralSparse.Onnx.Proto;

namespace NeuralSparse.Onnx.Graph;

/// <summary>
/// Pools a masked-LM without ever holding [tokens × vocabulary] logits: the graph's vocabulary projection and the
/// pooling are replaced by an ONNX Loop over chunks of the sequence. Each iteration projects about
/// <c>chunkTokens</c> tokens (rows × positions), masks them, max-pools over its positions and folds the result
/// into a running [batch, columns] max, so memory holds one chunk of logits instead of all of them. The
/// activation then follows as in <see cref="PoolingGraphRewriter"/>. The result is that of the fused graph,
/// <c>act(ReduceMax(logits × mask))</c>: max is associative, and each logit is computed by the same product.
/// </summary>
internal static class ChunkedHeadRewriter
{
    /// <summary>Tokens per chunk when none is configured: a [512 × 30,522] chunk of logits is 62 MB.</summary>
    public const int DefaultChunkTokens = 512;

    /// <summary>
    /// Rewrites <paramref name="model"/> in place to output pooled, activated weights through a chunked head. Returns
    /// false, leaving the graph untouched and logging why, when the head cannot be identified; the caller then
    /// appends fused pooling instead.
    /// </summary>
    public static bool TryAppendChunkedPooling(
        ModelProto model, GraphSignature signature, SparseActivation activation, int vocabularySize, int chunkTokens, ILogger logger, string modelName)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkTokens, 1);
        if (MaskedLmHead.Find(model, signature, out string reason) is not { } head)
        {
            OnnxBackendLog.HeadNotChunked(logger, modelName, reason);
            return false;
        }

        long opset = signature.DefaultOpset;
        GraphProto graph = model.Graph;
        var outer = new OnnxGraphBuilder(graph, "chunk_");

        // Positions per chunk: ceil(chunkTokens / batch), at least one; trips: ceil(sequence / positions).
        string shape = outer.Node("Shape", [head.Hidden]);
        string batch = outer.Node("Gather", [shape, outer.Int64Scalar(0)], OnnxGraphBuilder.Int("axis", 0));
        string sequence = outer.Node("Gather", [shape, outer.Int64Scalar(1)], OnnxGraphBuilder.Int("axis", 0));
        string one = outer.Int64Scalar(1);
        string positions = outer.Node("Div", [outer.Node("Add", [outer.Int64Scalar(chunkTokens), outer.Node("Sub", [batch, one])]), batch]);
        string trips = outer.Node("Div", [outer.Node("Add", [sequence, outer.Node("Sub", [positions, one])]), positions]);
        string mask = PoolingGraphRewriter.MaskPerPosition(outer, opset);

        // The running max starts at 0: the fused max over logits × mask includes a 0 wherever a row has padding, and
        // the activation's relu maps every negative maximum to 0 either way.
        string runningShape = outer.Node("Concat", [outer.Node("Reshape", [batch, outer.Int64Vector(1)]), outer.Int64Vector(head.Columns)],
            OnnxGraphBuilder.Int("axis", 0));
        string initial = outer.Node("ConstantOfShape", [runningShape]);
        string keepGoing = outer.Name("true");
        graph.Initializer.Add(new TensorProto { Name = keepGoing, DataType = (int)TensorProto.Types.DataType.Bool, RawData = Google.Protobuf.ByteString.CopyFrom(1) });

        GraphProto body = Body(head, positions, mask, opset, head.Columns);
        string pooled = outer.Node("Loop", [trips, keepGoing, initial], new AttributeProto { Name = "body", Type = AttributeProto.Types.AttributeType.Graph, G = body });

        foreach (NodeProto node in head.Nodes)
        {
            graph.Node.Remove(node);
        }

        PoolingGraphRewriter.AppendActivation(outer, pooled, signature, activation, vocabularySize);
        GraphPruner.RemoveUnused(graph);
        return true;
    }

    /// <summary>
    /// One iteration: positions [i·p, (i+1)·p) of the hidden states and the mask (Slice clamps the last chunk), the
    /// projection, the masked max over those positions, and the running max.
    /// </summary>
    private static GraphProto Body(MaskedLmHead head, string positions, string mask, long opset, long columns)
    {
        var graph = new GraphProto { Name = "chunked_head" };
        var b = new OnnxGraphBuilder(graph, "chunk_body_");
        string iteration = b.Name("iteration");
        string conditionIn = b.Name("condition_in");
        string runningIn = b.Name("running_in");
        graph.Input.Add(OnnxGraphBuilder.TensorInfo(iteration, TensorProto.Types.DataType.Int64));
        graph.Input.Add(OnnxGraphBuilder.TensorInfo(conditionIn, TensorProto.Types.DataType.Bool));
        graph.Input.Add(OnnxGraphBuilder.TensorInfo(runningIn, TensorProto.Types.DataType.Float, "batch", columns));

        string oneDimension = b.Int64Vector(1);
        string start = b.Node("Mul", [iteration, positions]);
        string starts = b.Node("Reshape", [start, oneDimension]);
        string ends = b.Node("Reshape", [b.Node("Add", [start, positions]), oneDimension]);
        string axes = b.Int64Vector(1);
        string hidden = b.Node("Slice", [head.Hidden, starts, ends, axes]);
        string chunkMask = b.Node("Slice", [mask, starts, ends, axes]);

        string logits = b.Node("MatMul", [hidden, head.Weight]);
        if (head.Bias is not null)
        {
            logits = b.Node("Add", [logits, head.Bias]);
        }

        string chunkMax = PoolingGraphRewriter.ReduceMaxOverSequence(b, b.Node("Mul", [logits, chunkMask]), opset);
        string conditionOut = b.Node("Identity", [conditionIn]);
        string runningOut = b.Node("Max", [runningIn, chunkMax]);
        graph.Output.Add(OnnxGraphBuilder.TensorInfo(conditionOut, TensorProto.Types.DataType.Bool));
        graph.Output.Add(OnnxGraphBuilder.TensorInfo(runningOut, TensorProto.Types.DataType.Float, "batch", columns));
        return graph;
    }
}
