using NeuralSparse.Core.Sparse;
using NeuralSparse.Onnx.Proto;

namespace NeuralSparse.Onnx.Graph;

/// <summary>What a model graph returns.</summary>
internal enum GraphOutputKind
{
    /// <summary>Raw MLM logits, [batch, sequence, columns].</summary>
    Logits,

    /// <summary>Already pooled and activated weights, [batch, columns] (e.g. from tools/export_hub_model.py).</summary>
    Pooled,
}

/// <summary>The facts about a graph's interface that the backend needs.</summary>
internal sealed record GraphSignature(
    IReadOnlyList<string> InputNames,
    bool TakesTokenTypeIds,
    string OutputName,
    GraphOutputKind OutputKind,
    long? StaticColumns,
    long DefaultOpset);

/// <summary>
/// Moves pooling into the graph: appends masked ReduceMax over the sequence and the activation after the logits
/// output, so ONNX Runtime returns [batch, vocab] instead of [batch, sequence, vocab] (about 500 MB at 8 × 512 ×
/// 30522 floats). The appended nodes are those of OpenSearch's TorchScript forward:
/// <c>act(ReduceMax(logits × mask, axis 1))</c>, with act = Log(Relu(x) + 1), applied twice for the v3 models.
/// </summary>
internal static class PoolingGraphRewriter
{
    public const string PooledOutputName = "sparse_weights";

    /// <summary>Reads inputs and the output to use; throws <see cref="InvalidDataException"/> when the graph does not fit.</summary>
    public static GraphSignature Inspect(ModelProto model)
    {
        GraphProto graph = model.Graph ?? throw new InvalidDataException("The ONNX file has no graph.");
        var initializers = graph.Initializer.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        string[] inputs = [.. graph.Input.Select(i => i.Name).Where(n => !initializers.Contains(n))];
        foreach (string required in new[] { "input_ids", "attention_mask" })
        {
            if (!inputs.Contains(required))
            {
                throw new InvalidDataException(
                    $"The graph has no '{required}' input (it has: {string.Join(", ", inputs)}). Export a masked-LM with inputs input_ids, attention_mask and, for BERT, token_type_ids.");
            }
        }

        string[] unexpected = [.. inputs.Except(["input_ids", "attention_mask", "token_type_ids"])];
        if (unexpected.Length > 0)
        {
            throw new InvalidDataException($"The graph has inputs this service cannot feed: {string.Join(", ", unexpected)}.");
        }

        if (graph.Output.Count == 0)
        {
            throw new InvalidDataException("The graph has no outputs.");
        }

        ValueInfoProto output = graph.Output.FirstOrDefault(o => o.Name is "logits" or PooledOutputName) ?? graph.Output[0];
        int rank = output.Type?.TensorType?.Shape?.Dim.Count ?? 0;
        GraphOutputKind kind = rank switch
        {
            3 => GraphOutputKind.Logits,
            2 => GraphOutputKind.Pooled,
            _ => throw new InvalidDataException(
                $"Output '{output.Name}' has rank {rank}; expected logits [batch, sequence, vocab] or pooled weights [batch, vocab]."),
        };

        TensorShapeProto.Types.Dimension last = output.Type!.TensorType.Shape.Dim[rank - 1];
        long? columns = last.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? last.DimValue : null;

        return new GraphSignature(inputs, inputs.Contains("token_type_ids"), output.Name, kind, columns, DefaultOpset(model));
    }

    /// <summary>
    /// Rewrites <paramref name="model"/> in place so that its only output is <see cref="PooledOutputName"/>,
    /// [batch, <paramref name="vocabularySize"/>], pooled and activated. Extra logit columns (GTE exports) are sliced off.
    /// </summary>
    public static void AppendPooling(ModelProto model, GraphSignature signature, SparseActivation activation, int vocabularySize)
    {
        if (signature.OutputKind != GraphOutputKind.Logits)
        {
            throw new InvalidOperationException("Only a logits output can be pooled.");
        }

        long opset = signature.DefaultOpset;
        var builder = new OnnxGraphBuilder(model.Graph, "pool_");
        string masked = builder.Node("Mul", [signature.OutputName, MaskPerPosition(builder, opset)]);
        AppendActivation(builder, ReduceMaxOverSequence(builder, masked, opset), signature, activation, vocabularySize);
    }

    /// <summary>The attention mask as float [batch, sequence, 1], to multiply logits with.</summary>
    internal static string MaskPerPosition(OnnxGraphBuilder builder, long opset)
    {
        string maskFloat = builder.Node("Cast", ["attention_mask"], OnnxGraphBuilder.Int("to", (long)TensorProto.Types.DataType.Float));

        // Opset 13 moved Unsqueeze's axes, and opset 18 ReduceMax's axes, from attributes to inputs.
        return opset >= 13
            ? builder.Node("Unsqueeze", [maskFloat, builder.Int64Vector(-1)])
            : builder.Node("Unsqueeze", [maskFloat], OnnxGraphBuilder.Ints("axes", -1));
    }

    /// <summary>Max over axis 1 (the sequence) of [batch, sequence, columns], giving [batch, columns].</summary>
    internal static string ReduceMaxOverSequence(OnnxGraphBuilder builder, string values, long opset) => opset >= 18
        ? builder.Node("ReduceMax", [values, builder.Int64Vector(1)], OnnxGraphBuilder.Int("keepdims", 0))
        : builder.Node("ReduceMax", [values], OnnxGraphBuilder.Ints("axes", 1), OnnxGraphBuilder.Int("keepdims", 0));

    /// <summary>
    /// Slices pooled [batch, columns] to the vocabulary, applies the activation and makes the result the graph's only
    /// output, <see cref="PooledOutputName"/>.
    /// </summary>
    internal static void AppendActivation(OnnxGraphBuilder builder, string pooled, GraphSignature signature, SparseActivation activation, int vocabularySize)
    {
        if (signature.StaticColumns is null || signature.StaticColumns > vocabularySize)
        {
            // Slicing [batch, columns] after pooling is cheap; on a dynamic width it is a no-op guard.
            pooled = builder.Node("Slice", [pooled, builder.Int64Vector(0), builder.Int64Vector(vocabularySize), builder.Int64Vector(1)]);
        }

        string one = builder.Scalar(1f);
        string relu = builder.Node("Relu", [pooled]);
        if (activation == SparseActivation.Log1pLog1pRelu)
        {
            string once = builder.Node("Log", [builder.Node("Add", [relu, one])]);
            builder.NodeTo(PooledOutputName, "Log", [builder.Node("Add", [once, one])]);
        }
        else
        {
            builder.NodeTo(PooledOutputName, "Log", [builder.Node("Add", [relu, one])]);
        }

        builder.Graph.Output.Clear();
        builder.Graph.Output.Add(OnnxGraphBuilder.TensorInfo(PooledOutputName, TensorProto.Types.DataType.Float, "batch", (long)vocabularySize));
    }

    private static long DefaultOpset(ModelProto model) =>
        model.OpsetImport.Where(o => o.Domain is "" or "ai.onnx").Select(o => o.Version).DefaultIfEmpty(0).Max() is var v && v > 0
            ? v
            : throw new InvalidDataException("The model imports no default-domain opset.");
}
