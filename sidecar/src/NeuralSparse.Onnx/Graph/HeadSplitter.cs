using NeuralSparse.Onnx.Proto;

namespace NeuralSparse.Onnx.Graph;

/// <summary>
/// Cuts a masked-LM graph at its head: a body graph that outputs the hidden states fed to the vocabulary projection
/// ([batch, sequence, hidden]), and a head graph that projects a flat chunk of tokens, [tokens, hidden] →
/// [tokens, columns]. The host then pools chunk by chunk (<see cref="HostChunkedHeadBackend"/>).
/// </summary>
internal static class HeadSplitter
{
    public const string HeadInputName = "hidden_tokens";
    public const string HeadOutputName = "token_logits";

    public static (ModelProto Body, ModelProto Head) Split(ModelProto model, MaskedLmHead head)
    {
        ModelProto body = model.Clone();
        foreach (NodeProto node in head.Nodes)
        {
            body.Graph.Node.Remove(node); // protobuf messages compare by value, so the clone's copy is removed
        }

        body.Graph.Output.Clear();
        body.Graph.Output.Add(OnnxGraphBuilder.TensorInfo(head.Hidden, TensorProto.Types.DataType.Float, "batch", "sequence", head.HiddenSize));
        GraphPruner.RemoveUnused(body.Graph);

        var graph = new GraphProto { Name = "masked_lm_head" };
        var builder = new OnnxGraphBuilder(graph, "head_");
        graph.Input.Add(OnnxGraphBuilder.TensorInfo(HeadInputName, TensorProto.Types.DataType.Float, "tokens", head.HiddenSize));
        ConstantMatrix weight = new GraphIndex(model.Graph).Matrix(head.Weight)
            ?? throw new InvalidOperationException($"'{head.Weight}' is not a constant matrix.");
        graph.Initializer.Add(weight.Source.Clone());
        string weightName = weight.Transposed
            ? builder.Node("Transpose", [weight.Source.Name], OnnxGraphBuilder.Ints("perm", 1, 0)) // folded by ORT at load
            : weight.Source.Name;

        string logits = builder.Node("MatMul", [HeadInputName, weightName]);
        if (head.Bias is not null)
        {
            graph.Initializer.Add(model.Graph.Initializer.First(i => i.Name == head.Bias).Clone());
            logits = builder.Node("Add", [logits, head.Bias]);
        }

        builder.NodeTo(HeadOutputName, "Identity", [logits]);
        graph.Output.Add(OnnxGraphBuilder.TensorInfo(HeadOutputName, TensorProto.Types.DataType.Float, "tokens", head.Columns));

        var headModel = new ModelProto { IrVersion = model.IrVersion, ProducerName = "neural-sparse-head-split", Graph = graph };
        headModel.OpsetImport.AddRange(model.OpsetImport.Where(o => o.Domain is "" or "ai.onnx").Select(o => o.Clone()));
        return (body, headModel);
    }
}
