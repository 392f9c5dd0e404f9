using System.Runtime.InteropServices;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using NeuralSparse.Onnx.Proto;

namespace NeuralSparse.Onnx.Graph;

/// <summary>
/// Opt-in int8 weights: every MatMul whose weight is a constant [K, N] float matrix (an initializer, or the
/// transpose of one, as tied decoders are) becomes ONNX Runtime's <c>com.microsoft.DynamicQuantizeMatMul</c>, with
/// the weight stored as int8 with one symmetric scale per output column and the activations quantized per run.
/// MatMuls between activations (attention) stay float32. Also reaches into Loop bodies (the chunked head).
/// </summary>
internal static class Int8WeightQuantizer
{
    public const string MicrosoftDomain = "com.microsoft";

    /// <summary>
    /// Without int8 dot-product instructions (VNNI), x86 CPUs multiply uint8 × int8 pairs into saturating int16
    /// sums; ONNX Runtime's tooling then recommends 7-bit weights ("reduce range"). With VNNI, or on Arm, 8 bits.
    /// </summary>
    public static int WeightRange =>
        !System.Runtime.Intrinsics.X86.X86Base.IsSupported || System.Runtime.Intrinsics.X86.AvxVnni.IsSupported ? 127 : 63;

    /// <summary>Applies <paramref name="quantization"/>; returns a suffix for the backend description.</summary>
    public static string Apply(ModelProto model, WeightQuantization quantization, ILogger logger, string modelName)
    {
        if (quantization != WeightQuantization.Int8)
        {
            return string.Empty;
        }

        int count = Quantize(model, WeightRange);
        OnnxBackendLog.WeightsQuantized(logger, modelName, count);
        return ", int8 weights";
    }

    /// <summary>Rewrites <paramref name="model"/> in place; returns how many weight matrices were quantized.</summary>
    public static int Quantize(ModelProto model, int range)
    {
        GraphProto main = model.Graph;
        var index = new GraphIndex(main);

        // One int8 copy per weight, shared by every MatMul that reads it.
        var quantized = new Dictionary<string, (string Weight, string Scale)>(StringComparer.Ordinal);
        var builder = new OnnxGraphBuilder(main, "int8_");
        foreach (NodeProto node in AllNodes(main).Where(n => n.OpType == "MatMul" && n.Domain is "" or "ai.onnx").ToList())
        {
            string weightName = node.Input[1];
            if (!quantized.TryGetValue(weightName, out (string Weight, string Scale) q))
            {
                if (index.Matrix(weightName) is not { } matrix || matrix.Values() is not { } weights)
                {
                    continue;
                }

                (sbyte[] values, float[] scales) = QuantizeColumns(weights, matrix.Rows, matrix.Columns, range);
                q = (builder.Name("weight"), builder.Name("scale"));
                main.Initializer.Add(new TensorProto
                {
                    Name = q.Weight,
                    DataType = (int)TensorProto.Types.DataType.Int8,
                    Dims = { matrix.Rows, matrix.Columns },
                    RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan())),
                });
                builder.Initializer(q.Scale, scales, matrix.Columns);
                quantized[weightName] = q;
            }

            node.OpType = "DynamicQuantizeMatMul";
            node.Domain = MicrosoftDomain;
            node.Input[1] = q.Weight;
            node.Input.Add(q.Scale);
        }

        if (quantized.Count > 0)
        {
            if (!model.OpsetImport.Any(o => o.Domain == MicrosoftDomain))
            {
                model.OpsetImport.Add(new OperatorSetIdProto { Domain = MicrosoftDomain, Version = 1 });
            }

            GraphPruner.RemoveUnused(main);
        }

        return quantized.Count;
    }

    /// <summary>Symmetric per-column quantization: scale = max |w| ÷ range over the column, q = round(w ÷ scale).</summary>
    public static (sbyte[] Values, float[] Scales) QuantizeColumns(float[] weights, long rows, long columns, int range)
    {
        float[] scales = new float[columns];
        for (long r = 0; r < rows; r++)
        {
            for (long c = 0; c < columns; c++)
            {
                scales[c] = Math.Max(scales[c], Math.Abs(weights[(r * columns) + c]));
            }
        }

        for (long c = 0; c < columns; c++)
        {
            scales[c] = scales[c] > 0 ? scales[c] / range : 1f;
        }

        sbyte[] values = new sbyte[weights.Length];
        for (long r = 0; r < rows; r++)
        {
            for (long c = 0; c < columns; c++)
            {
                float scaled = MathF.Round(weights[(r * columns) + c] / scales[c], MidpointRounding.ToEven);
                values[(r * columns) + c] = (sbyte)Math.Clamp(scaled, -range, range);
            }
        }

        return (values, scales);
    }

    private static IEnumerable<NodeProto> AllNodes(GraphProto graph) =>
        graph.Node.SelectMany(n => n.Attribute.Where(a => a.G is not null).SelectMany(a => AllNodes(a.G)).Prepend(n));
}
