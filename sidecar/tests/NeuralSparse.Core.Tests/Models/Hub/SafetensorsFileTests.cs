using System.Buffers.Binary;
using System.Text;
using NeuralSparse.Core.Models.Hub;

namespace NeuralSparse.Core.Tests.Models.Hub;

public sealed class SafetensorsFileTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), "safetensors-tests-" + Guid.NewGuid().ToString("N") + ".safetensors");

    [Fact]
    public void Read_F32F16Bf16F64_ConvertToTheSameFloats()
    {
        // Values exact in every format (bfloat16 keeps 8 significant bits).
        float[] values = [0f, 1f, -2.5f, 0.15625f, 49152f, -0.0078125f];
        byte[] f32 = [.. values.SelectMany(v => BitConverter.GetBytes(v))];
        byte[] f16 = [.. values.SelectMany(v => BitConverter.GetBytes((Half)v))];
        byte[] bf16 = [.. values.SelectMany(v => BitConverter.GetBytes((ushort)(BitConverter.SingleToUInt32Bits(v) >> 16)))];
        byte[] f64 = [.. values.SelectMany(v => BitConverter.GetBytes((double)v))];
        Write(("a", "F32", [2, 3], f32), ("b", "F16", [6], f16), ("c", "BF16", [3, 2], bf16), ("d", "F64", [6], f64));

        using SafetensorsFile file = SafetensorsFile.Open(_path);

        foreach (string name in new[] { "a", "b", "c", "d" })
        {
            float[] read = new float[6];
            file.Read(name, read);
            Assert.Equal(values, read);
        }

        Assert.True(file.TryGetInfo("c", out TensorInfo info));
        Assert.Equal([3L, 2L], info.Shape);
        Assert.Equal("BF16", info.DataType);
    }

    [Fact]
    public void Read_LargerThanOneConversionChunk_ConvertsEveryElement()
    {
        float[] values = [.. Enumerable.Range(0, 200_000).Select(i => (float)(Half)(i % 1000 * 0.25f))];
        Write(("big", "F16", [200_000], [.. values.SelectMany(v => BitConverter.GetBytes((Half)v))]));

        using SafetensorsFile file = SafetensorsFile.Open(_path);
        float[] read = new float[values.Length];
        file.Read("big", read);

        Assert.Equal(values, read);
    }

    [Fact]
    public void Open_IgnoresMetadataAndListsOtherDtypesWithoutReadingThem()
    {
        Write(("ids", "I64", [2], new byte[16]));

        using SafetensorsFile file = SafetensorsFile.Open(_path);

        Assert.Single(file.Tensors);
        var error = Assert.Throws<InvalidDataException>(() => file.Read("ids", new float[2]));
        Assert.Contains("'ids' is I64", error.Message, StringComparison.Ordinal);
        Assert.Contains(_path, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_TruncatedFile_SaysSoNamingTheFile()
    {
        Write(("a", "F32", [4], new byte[16]));
        byte[] bytes = File.ReadAllBytes(_path);
        File.WriteAllBytes(_path, bytes[..20]);

        var error = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(_path));

        Assert.Contains(_path, error.Message, StringComparison.Ordinal);
        Assert.Contains("truncated", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_DataOffsetsBeyondTheFile_AreRejected()
    {
        Write(("a", "F32", [4], new byte[16]));
        File.WriteAllBytes(_path, File.ReadAllBytes(_path)[..^4]);

        var error = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(_path));

        Assert.Contains("tensor 'a'", error.Message, StringComparison.Ordinal);
        Assert.Contains("outside", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_SizeNotMatchingShape_IsRejected()
    {
        Write(("a", "F32", [5], new byte[16]));

        var error = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(_path));

        Assert.Contains("F32 [5] (20 bytes) but spans 16 bytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_NotSafetensors_IsRejected()
    {
        File.WriteAllText(_path, "PK\u0003\u0004 this is a zip file, or a pickle, not safetensors");

        Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(_path));
    }

    public void Dispose() => File.Delete(_path);

    private void Write(params (string Name, string DataType, long[] Shape, byte[] Data)[] tensors)
    {
        var header = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
        long offset = 0;
        foreach ((string name, string dtype, long[] shape, byte[] data) in tensors)
        {
            header.Append(System.Globalization.CultureInfo.InvariantCulture,
                $",\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{string.Join(",", shape)}],\"data_offsets\":[{offset},{offset + data.Length}]}}");
            offset += data.Length;
        }

        byte[] json = Encoding.UTF8.GetBytes(header.Append('}').ToString());
        using FileStream stream = File.Create(_path);
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)json.Length);
        stream.Write(prefix);
        stream.Write(json);
        foreach ((_, _, _, byte[] data) in tensors)
        {
            stream.Write(data);
        }
    }
}
