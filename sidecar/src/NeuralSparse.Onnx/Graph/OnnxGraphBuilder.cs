using System.Globalization;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Google.Protobuf;
using NeuralSparse.Onnx.Proto;

namespace NeuralSparse.Onnx.Graph;

/// <summary>
/// Appends nodes and initializers to an ONNX graph with unique names. Small on purpose: just what the pooling
/// rewrite and the masked-LM graphs need. With an <see cref="ExternalDataWriter"/>, large initializers go to its
/// file instead of into the protobuf (ONNX external data), so a graph of any size serializes in kilobytes.
/// </summary>
internal sealed class OnnxGraphBuilder(GraphProto graph, string namePrefix, ExternalDataWriter? externalData = null)
{
    /// <summary>Initializers smaller than this stay inline even with external data (scalars, shapes).</summary>
    private const int ExternalDataThreshold = 1024;

    private int _counter;

    public GraphProto Graph { get; } = graph;

    /// <summary>A fresh tensor name.</summary>
    public string Name(string hint) => $"{namePrefix}{hint}_{_counter++}";

    /// <summary>Adds a float initializer stored as raw little-endian bytes.</summary>
    public string Initializer(string name, ReadOnlySpan<float> values, params long[] dims) =>
        RawInitializer(name, values, TensorProto.Types.DataType.Float, dims);

    /// <summary>Adds an initializer stored as float16 (converted from <paramref name="values"/>).</summary>
    public string Float16Initializer(string name, ReadOnlySpan<float> values, params long[] dims)
    {
        Half[] halves = new Half[values.Length];
        TensorPrimitives.ConvertToHalf(values, halves);
        return RawInitializer(name, (ReadOnlySpan<Half>)halves, TensorProto.Types.DataType.Float16, dims);
    }

    /// <summary>Adds an int64 initializer.</summary>
    public string Int64Initializer(string name, ReadOnlySpan<long> values, params long[] dims) =>
        RawInitializer(name, values, TensorProto.Types.DataType.Int64, dims);

    private string RawInitializer<T>(string name, ReadOnlySpan<T> values, TensorProto.Types.DataType type, long[] dims)
        where T : unmanaged
    {
        ReadOnlySpan<byte> bytes = MemoryMarshal.AsBytes(values);
        var tensor = new TensorProto { Name = name, DataType = (int)type, Dims = { dims } };
        if (externalData is not null && bytes.Length >= ExternalDataThreshold)
        {
            long offset = externalData.Append(bytes);
            tensor.DataLocation = TensorProto.Types.DataLocation.External;
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = externalData.FileName });
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(CultureInfo.InvariantCulture) });
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = bytes.Length.ToString(CultureInfo.InvariantCulture) });
        }
        else
        {
            tensor.RawData = ByteString.CopyFrom(bytes);
        }

        Graph.Initializer.Add(tensor);
        return name;
    }

    /// <summary>A float scalar constant.</summary>
    public string Scalar(float value) => Initializer(Name("const"), [value]);

    /// <summary>A float16 scalar constant.</summary>
    public string Float16Scalar(float value) => Float16Initializer(Name("const"), [value]);

    /// <summary>An int64 scalar constant.</summary>
    public string Int64Scalar(long value) => Int64Initializer(Name("const"), [value]);

    /// <summary>A 1-D int64 constant.</summary>
    public string Int64Vector(params long[] values) => Int64Initializer(Name("const"), values, values.Length);

    /// <summary>Adds a node with one output and returns the output's name.</summary>
    public string Node(string opType, string[] inputs, params AttributeProto[] attributes) =>
        NodeTo(Name(opType.ToLowerInvariant()), opType, inputs, attributes);

    /// <summary>Adds a node whose single output has the given name.</summary>
    public string NodeTo(string output, string opType, string[] inputs, params AttributeProto[] attributes)
    {
        NodeProto node = new() { OpType = opType, Name = Name(opType + "_node") };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        Graph.Node.Add(node);
        return output;
    }

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Float(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto Ints(string name, params long[] values) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Ints, Ints = { values } };

    /// <summary>A graph input or output declaration with symbolic or fixed dimensions.</summary>
    public static ValueInfoProto TensorInfo(string name, TensorProto.Types.DataType type, params object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (object dim in dims)
        {
            shape.Dim.Add(dim is string symbol
                ? new TensorShapeProto.Types.Dimension { DimParam = symbol }
                : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(dim, System.Globalization.CultureInfo.InvariantCulture) });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }
}
