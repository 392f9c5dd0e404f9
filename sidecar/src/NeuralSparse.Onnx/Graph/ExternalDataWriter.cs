namespace NeuralSparse.Onnx.Graph;

/// <summary>
/// Appends initializer bytes to an ONNX external-data file. Each tensor starts on a page boundary, which lets ONNX
/// Runtime map it from the file instead of copying it.
/// </summary>
internal sealed class ExternalDataWriter : IDisposable
{
    private const int Alignment = 4096;

    private readonly FileStream _stream;

    /// <summary>Creates <paramref name="path"/>; it must not exist.</summary>
    public ExternalDataWriter(string path)
    {
        _stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 20);
        FileName = Path.GetFileName(path);
    }

    /// <summary>The file's name, as graph initializers refer to it (relative to the graph's folder).</summary>
    public string FileName { get; }

    /// <summary>Bytes written so far.</summary>
    public long Length => _stream.Length;

    /// <summary>Writes <paramref name="bytes"/> at the next aligned offset and returns that offset.</summary>
    public long Append(ReadOnlySpan<byte> bytes)
    {
        long offset = (_stream.Position + Alignment - 1) / Alignment * Alignment;
        Span<byte> padding = stackalloc byte[Alignment];
        padding.Clear();
        _stream.Write(padding[..(int)(offset - _stream.Position)]);
        _stream.Write(bytes);
        return offset;
    }

    /// <summary>Flushes the file to disk.</summary>
    public void Flush() => _stream.Flush(flushToDisk: true);

    /// <inheritdoc />
    public void Dispose() => _stream.Dispose();
}
