using NeuralSparse.Onnx.Proto;

namespace NeuralSparse.Onnx.Graph;

/// <summary>
/// The vocabulary projection at the end of a masked-LM graph: <c>logits = hidden · W (+ bias)</c>, with W a constant
/// [hidden size, columns] matrix, stored as such or as the transpose of a [columns, hidden size] matrix (the tied word
/// embeddings). Found on the graph form, so it applies to exported, generated and hub-built graphs alike.
/// </summary>
/// <param name="Hidden">The tensor fed to the projection, [batch, sequence, hidden size] (after the head transform).</param>
/// <param name="Weight">The [hidden size, columns] tensor name (an initializer or a Transpose of one).</param>
/// <param name="Bias">The [columns] bias initializer, or null.</param>
/// <param name="HiddenSize">Rows of W.</param>
/// <param name="Columns">Columns of W: the vocabulary, or a few more (GTE exports).</param>
/// <param name="Nodes">The nodes from the projection to the logits output (MatMul, bias Add, Identity), replaced by a rewrite.</param>
internal sealed record MaskedLmHead(string Hidden, string Weight, string? Bias, long HiddenSize, long Columns, IReadOnlyList<NodeProto> Nodes)
{
    /// <summary>
    /// Finds the projection that produces <paramref name="signature"/>'s logits output, or returns null with the
    /// reason (the caller falls back to the fused path).
    /// </summary>
    public static MaskedLmHead? Find(ModelProto model, GraphSignature signature, out string reason)
    {
        var index = new GraphIndex(model.Graph);
        Dictionary<string, NodeProto> producers = index.Producers;
        Dictionary<string, TensorProto> initializers = index.Initializers;
        var nodes = new List<NodeProto>();
        string tensor = signature.OutputName;
        string? bias = null;
        while (true)
        {
            if (!producers.TryGetValue(tensor, out NodeProto? node))
            {
                reason = $"no node produces '{tensor}'";
                return null;
            }

            if (tensor != signature.OutputName && index.Consumers.GetValueOrDefault(tensor) != 1)
            {
                reason = $"'{tensor}' is used by other nodes too";
                return null;
            }

            nodes.Add(node);
            if (node.OpType == "Identity" && node.Domain is "" or "ai.onnx")
            {
                tensor = node.Input[0];
                continue;
            }

            if (node.OpType == "Add" && bias is null && node.Input.Count == 2)
            {
                int constant = node.Input.ToList().FindIndex(i => initializers.TryGetValue(i, out TensorProto? t) && t.Dims.Count == 1);
                if (constant < 0)
                {
                    reason = $"the Add producing '{tensor}' has no constant bias";
                    return null;
                }

                bias = node.Input[constant];
                tensor = node.Input[1 - constant];
                continue;
            }

            if (node.OpType != "MatMul" || node.Domain is not ("" or "ai.onnx"))
            {
                reason = $"'{tensor}' comes from a {node.OpType} node, not from a MatMul with the vocabulary";
                return null;
            }

            if (index.Matrix(node.Input[1]) is not { } w)
            {
                reason = $"the MatMul producing '{tensor}' has no constant [hidden, vocabulary] weight";
                return null;
            }

            if (signature.StaticColumns is { } expected && expected != w.Columns)
            {
                reason = $"the MatMul's weight has {w.Columns} columns but the output declares {expected}";
                return null;
            }

            if (bias is not null && initializers[bias].Dims[0] != w.Columns)
            {
                reason = $"the bias '{bias}' does not have {w.Columns} entries";
                return null;
            }

            reason = string.Empty;
            return new MaskedLmHead(node.Input[0], node.Input[1], bias, w.Rows, w.Columns, nodes);
        }
    }
}
