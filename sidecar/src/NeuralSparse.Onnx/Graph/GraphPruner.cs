using NeuralSparse.Onnx.Proto;

namespace NeuralSparse.Onnx.Graph;

/// <summary>Drops the nodes and initializers that no graph output depends on, after a rewrite replaced some.</summary>
internal static class GraphPruner
{
    public static void RemoveUnused(GraphProto graph)
    {
        var needed = graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        var kept = new List<NodeProto>();

        // ONNX keeps nodes in topological order, so one backward pass finds everything the outputs need.
        for (int i = graph.Node.Count - 1; i >= 0; i--)
        {
            NodeProto node = graph.Node[i];
            if (node.Output.Any(needed.Contains))
            {
                kept.Add(node);
                needed.UnionWith(Inputs(node));
            }
        }

        kept.Reverse();
        graph.Node.Clear();
        graph.Node.AddRange(kept);

        TensorProto[] unused = [.. graph.Initializer.Where(i => !needed.Contains(i.Name))];
        foreach (TensorProto initializer in unused)
        {
            graph.Initializer.Remove(initializer);
        }

        // Old exports also list initializers as graph inputs; the real inputs (input_ids, ...) always stay.
        var removed = unused.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        foreach (ValueInfoProto input in graph.Input.Where(i => removed.Contains(i.Name)).ToList())
        {
            graph.Input.Remove(input);
        }
    }

    /// <summary>A node's inputs, including the outer-scope names its subgraphs (Loop, If, Scan bodies) read.</summary>
    private static IEnumerable<string> Inputs(NodeProto node) =>
        node.Input.Concat(node.Attribute.Where(a => a.G is not null).SelectMany(a => a.G.Node.SelectMany(Inputs)));
}
