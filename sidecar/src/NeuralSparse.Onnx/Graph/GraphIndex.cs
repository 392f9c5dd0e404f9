using System.Runtime.InteropServices;
using NeuralSparse.Onnx.Proto;

namespace NeuralSparse.Onnx.Graph;

/// <summary>A constant [rows, columns] matrix of a graph: an initializer, or the transpose of one.</summary>
internal sealed record ConstantMatrix(TensorProto Source, bool Transposed, long Rows, long Columns)
{
    /// <summary>The float values, row-major [Rows, Columns]; null when stored in a form this code does not read (external data).</summary>
    public float[]? Values()
    {
        if (Source.DataType != (int)TensorProto.Types.DataType.Float)
        {
            return null;
        }

        long count = Rows * Columns;
        float[]? values = Source.RawData.Length == count * sizeof(float)
            ? MemoryMarshal.Cast<byte, float>(Source.RawData.Span).ToArray()
            : Source.FloatData.Count == count ? [.. Source.FloatData] : null;
        if (values is null || !Transposed)
        {
            return values;
        }

        float[] transposed = new float[count];
        for (long r = 0; r < Rows; r++)
        {
            for (long c = 0; c < Columns; c++)
            {
                transposed[(r * Columns) + c] = values[(c * Rows) + r];
            }
        }

        return transposed;
    }
}

/// <summary>Who produces each tensor of a graph and which tensors are initializers.</summary>
internal sealed class GraphIndex
{
    public GraphIndex(GraphProto graph)
    {
        foreach (NodeProto node in graph.Node)
        {
            foreach (string output in node.Output)
            {
                Producers[output] = node;
            }

            foreach (string input in node.Input)
            {
                Consumers[input] = Consumers.GetValueOrDefault(input) + 1;
            }
        }

        foreach (TensorProto initializer in graph.Initializer)
        {
            Initializers[initializer.Name] = initializer;
        }
    }

    public Dictionary<string, NodeProto> Producers { get; } = new(StringComparer.Ordinal);

    /// <summary>How many node inputs read each tensor (in this graph, not in subgraphs).</summary>
    public Dictionary<string, int> Consumers { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, TensorProto> Initializers { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// <paramref name="name"/> as a constant 2-D matrix: an initializer, or <c>Transpose</c> (perm [1, 0]) of one, the
    /// form of tied decoders (transposed word embeddings).
    /// </summary>
    public ConstantMatrix? Matrix(string name)
    {
        if (Initializers.TryGetValue(name, out TensorProto? direct))
        {
            return direct.Dims.Count == 2 ? new ConstantMatrix(direct, false, direct.Dims[0], direct.Dims[1]) : null;
        }

        if (Producers.TryGetValue(name, out NodeProto? transpose) && transpose.OpType == "Transpose"
            && Initializers.TryGetValue(transpose.Input[0], out TensorProto? source) && source.Dims.Count == 2
            && transpose.Attribute.FirstOrDefault(a => a.Name == "perm") is null or { Ints: [1, 0] })
        {
            return new ConstantMatrix(source, true, source.Dims[1], source.Dims[0]);
        }

        return null;
    }
}
