using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace NeuralSparse.Onnx.Synthetic;

/// <summary>
/// Writes float tensors as a <c>.safetensors</c> file in F32, F16 or BF16, the way Hugging Face saves checkpoints
/// (header padded to 8 bytes, tensors packed in order). For generated hub folders in tests and benchmarks.
/// </summary>
internal static class SafetensorsWriter
{
    public static void Write(string path, IEnumerable<(string Name, long[] Shape, float[] Values)> tensors, string dataType = "F32")
    {
        int size = dataType switch
        {
            "F32" => 4,
            "F16" or "BF16" => 2,
            _ => throw new ArgumentException($"Cannot write {dataType}; use F32, F16 or BF16.", nameof(dataType)),
        };

        var list = tensors.ToList();
        var header = new Dictionary<string, object> { ["__metadata__"] = new Dictionary<string, string> { ["format"] = "pt" } };
        long offset = 0;
        foreach ((string name, long[] shape, float[] values) in list)
        {
            long bytes = (long)values.Length * size;
            header[name] = new Dictionary<string, object> { ["dtype"] = dataType, ["shape"] = shape, ["data_offsets"] = new[] { offset, offset + bytes } };
            offset += bytes;
        }

        byte[] json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        int padded = (json.Length + 7) / 8 * 8;
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)padded);
        stream.Write(prefix);
        stream.Write(json);
        stream.Write(Enumerable.Repeat((byte)' ', padded - json.Length).ToArray());

        byte[] buffer = new byte[1 << 16];
        foreach ((_, _, float[] values) in list)
        {
            for (int start = 0; start < values.Length; start += buffer.Length / size)
            {
                int count = Math.Min(buffer.Length / size, values.Length - start);
                for (int i = 0; i < count; i++)
                {
                    float value = values[start + i];
                    switch (dataType)
                    {
                        case "F32":
                            BinaryPrimitives.WriteSingleLittleEndian(buffer.AsSpan(i * 4), value);
                            break;
                        case "F16":
                            BinaryPrimitives.WriteHalfLittleEndian(buffer.AsSpan(i * 2), (Half)value);
                            break;
                        default:
                            BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(i * 2), ToBFloat16(value));
                            break;
                    }
                }

                stream.Write(buffer, 0, count * size);
            }
        }
    }

    /// <summary>float32 → bfloat16 with round-to-nearest-even, as PyTorch converts.</summary>
    public static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
        {
            return (ushort)((bits >> 16) | 0x40);
        }

        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }

    /// <summary>Writes every tensor of <paramref name="weights"/>.</summary>
    public static void Write(string path, SyntheticWeights weights, string dataType = "F32") =>
        Write(path, weights.Tensors.Select(t => (t.Name, t.Shape, weights[t.Name])), dataType);
}
