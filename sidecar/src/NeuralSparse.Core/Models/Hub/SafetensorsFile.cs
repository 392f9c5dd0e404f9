using System.Buffers;
using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace NeuralSparse.Core.Models.Hub;

/// <summary>
/// Reads a <c>.safetensors</c> file: an 8-byte little-endian header length, a JSON header mapping each tensor name to
/// its dtype, shape and byte range, then the raw little-endian tensor bytes. The file is memory-mapped and each
/// tensor is converted straight from the mapping into the caller's buffer, so a multi-gigabyte checkpoint is never
/// copied whole. F32, F16, BF16 and F64 convert to float32; other dtypes can be listed but not read.
/// </summary>
internal sealed class SafetensorsFile : ITensorSource, IDisposable
{
    /// <summary>The format's own limit on the JSON header (safetensors refuses larger headers too).</summary>
    private const long MaxHeaderBytes = 100L * 1024 * 1024;

    private const int ConversionChunk = 1 << 16;

    private static readonly Dictionary<string, int> ElementSizes = new(StringComparer.Ordinal)
    {
        ["BOOL"] = 1, ["U8"] = 1, ["I8"] = 1, ["F8_E5M2"] = 1, ["F8_E4M3"] = 1,
        ["I16"] = 2, ["U16"] = 2, ["F16"] = 2, ["BF16"] = 2,
        ["I32"] = 4, ["U32"] = 4, ["F32"] = 4,
        ["I64"] = 8, ["U64"] = 8, ["F64"] = 8,
    };

    private readonly Dictionary<string, (TensorInfo Info, long Begin)> _tensors;
    private readonly MemoryMappedFile? _file;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly long _dataStart;

    private SafetensorsFile(string path, Dictionary<string, (TensorInfo, long)> tensors, long dataStart, long length)
    {
        Path = path;
        _tensors = tensors;
        _dataStart = dataStart;

        // A file of only a header has nothing to map (and an empty mapping is an error on Linux).
        if (length > dataStart)
        {
            _file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, mapName: null, capacity: 0, MemoryMappedFileAccess.Read);
            _view = _file.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        }
    }

    /// <summary>The file's path.</summary>
    public string Path { get; }

    /// <inheritdoc />
    public string Origin => Path;

    /// <summary>Every tensor in the file.</summary>
    public IEnumerable<TensorInfo> Tensors => _tensors.Values.Select(t => t.Info);

    /// <summary>Opens and validates <paramref name="path"/>'s header; tensor bytes are read on demand.</summary>
    /// <exception cref="InvalidDataException">The file is not a well-formed safetensors file; the message says where.</exception>
    public static SafetensorsFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("safetensors tensors are little-endian; this reader runs on little-endian machines only.");
        }

        long length;
        byte[] header;
        using (FileStream stream = File.OpenRead(path))
        {
            length = stream.Length;
            Span<byte> prefix = stackalloc byte[8];
            if (length < 8 || stream.ReadAtLeast(prefix, 8, throwOnEndOfStream: false) < 8)
            {
                throw new InvalidDataException($"'{path}' has {length} bytes, too few for a safetensors file (8-byte header length, JSON header, data).");
            }

            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
            if (headerLength > (ulong)Math.Min(MaxHeaderBytes, length - 8))
            {
                throw new InvalidDataException(
                    $"'{path}' declares a {headerLength}-byte header but holds {length} bytes: it is truncated or not a safetensors file.");
            }

            header = new byte[(int)headerLength];
            stream.ReadExactly(header);
        }

        long dataStart = 8 + header.Length;
        return new SafetensorsFile(path, ParseHeader(path, header, length - dataStart), dataStart, length);
    }

    /// <inheritdoc />
    public bool TryGetInfo(string name, out TensorInfo info)
    {
        bool found = _tensors.TryGetValue(name, out (TensorInfo Info, long) entry);
        info = entry.Info;
        return found;
    }

    /// <inheritdoc />
    public void Read(string name, Span<float> destination)
    {
        if (!_tensors.TryGetValue(name, out (TensorInfo Info, long Begin) entry))
        {
            throw new KeyNotFoundException($"'{Path}' has no tensor '{name}'.");
        }

        if (destination.Length != entry.Info.ElementCount)
        {
            throw new ArgumentException($"Tensor '{name}' has {entry.Info.ElementCount} elements; the destination holds {destination.Length}.", nameof(destination));
        }

        if (destination.IsEmpty)
        {
            return;
        }

        SafeBuffer mapped = _view!.SafeMemoryMappedViewHandle;
        ulong offset = (ulong)(_dataStart + entry.Begin);
        switch (entry.Info.DataType)
        {
            case "F32":
                mapped.ReadSpan(offset, destination);
                break;
            case "F16":
                ReadConverted<Half>(mapped, offset, destination, static (source, target) => TensorPrimitives.ConvertToSingle(source, target));
                break;
            case "BF16":
                // bfloat16 is the upper half of a float32.
                ReadConverted<ushort>(mapped, offset, destination, static (source, target) =>
                {
                    for (int i = 0; i < source.Length; i++)
                    {
                        target[i] = BitConverter.Int32BitsToSingle(source[i] << 16);
                    }
                });
                break;
            case "F64":
                ReadConverted<double>(mapped, offset, destination, static (source, target) =>
                {
                    for (int i = 0; i < source.Length; i++)
                    {
                        target[i] = (float)source[i];
                    }
                });
                break;
            default:
                throw new InvalidDataException(
                    $"'{Path}': tensor '{name}' is {entry.Info.DataType}; only F32, F16, BF16 and F64 weights can be loaded.");
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _view?.Dispose();
        _file?.Dispose();
    }

    private delegate void ChunkConverter<T>(ReadOnlySpan<T> source, Span<float> target);

    private static void ReadConverted<T>(SafeBuffer mapped, ulong offset, Span<float> destination, ChunkConverter<T> convert)
        where T : unmanaged
    {
        int size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        T[] chunk = ArrayPool<T>.Shared.Rent(Math.Min(ConversionChunk, destination.Length));
        try
        {
            for (int start = 0; start < destination.Length; start += chunk.Length)
            {
                int count = Math.Min(chunk.Length, destination.Length - start);
                mapped.ReadSpan(offset + ((ulong)start * (ulong)size), chunk.AsSpan(0, count));
                convert(chunk.AsSpan(0, count), destination.Slice(start, count));
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(chunk);
        }
    }

    private static Dictionary<string, (TensorInfo, long)> ParseHeader(string path, byte[] header, long dataLength)
    {
        var tensors = new Dictionary<string, (TensorInfo, long)>(StringComparer.Ordinal);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(header);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"'{path}' has a header that is not valid JSON ({ex.Message}); the file is damaged or not a safetensors file.", ex);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"'{path}': the safetensors header must be a JSON object.");
            }

            foreach (JsonProperty property in document.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__")
                {
                    continue;
                }

                (TensorInfo info, long begin) = ParseEntry(path, property, dataLength);
                tensors[property.Name] = (info, begin);
            }
        }

        return tensors;
    }

    private static (TensorInfo, long) ParseEntry(string path, JsonProperty property, long dataLength)
    {
        string name = property.Name;
        InvalidDataException Bad(string problem) => new($"'{path}': tensor '{name}' {problem}; the file is damaged or not a safetensors file.");

        JsonElement entry = property.Value;
        if (entry.ValueKind != JsonValueKind.Object
            || !entry.TryGetProperty("dtype", out JsonElement dtype) || dtype.ValueKind != JsonValueKind.String
            || !entry.TryGetProperty("shape", out JsonElement shape) || shape.ValueKind != JsonValueKind.Array
            || !entry.TryGetProperty("data_offsets", out JsonElement offsets) || offsets.ValueKind != JsonValueKind.Array
            || offsets.GetArrayLength() != 2)
        {
            throw Bad("lacks dtype, shape or a two-element data_offsets");
        }

        long[] dims = [.. shape.EnumerateArray().Select(d => d.TryGetInt64(out long v) && v >= 0 ? v : throw Bad("has a shape entry that is not a non-negative integer"))];
        long begin = offsets[0].TryGetInt64(out long b) ? b : -1;
        long end = offsets[1].TryGetInt64(out long e) ? e : -1;
        if (begin < 0 || end < begin || end > dataLength)
        {
            throw Bad($"has data_offsets [{offsets[0]}, {offsets[1]}] outside the {dataLength} data bytes");
        }

        var info = new TensorInfo(name, dtype.GetString()!, dims);
        long bytes;
        try
        {
            bytes = checked(info.ElementCount * (ElementSizes.TryGetValue(info.DataType, out int size) ? size : 0));
        }
        catch (OverflowException)
        {
            throw Bad($"has an impossible shape {info.ShapeText}");
        }

        if (bytes != 0 && (end - begin) != bytes)
        {
            throw Bad($"is {info.DataType} {info.ShapeText} ({bytes} bytes) but spans {end - begin} bytes");
        }

        return (info, begin);
    }
}
