using System.Buffers;

namespace NeuralSparse.Cli.Hosting;

/// <summary>One line of a JSONL file: its bytes (valid until the next line is read), 1-based number, and the byte offset after it.</summary>
internal readonly record struct JsonLine(ReadOnlyMemory<byte> Bytes, long Number, long End);

/// <summary>
/// Reads a JSONL stream line by line in place from any byte offset: one pooled buffer (grown only for a longer line),
/// so a file of any size streams in constant memory, and a resumed run can start exactly after the last line it kept.
/// </summary>
internal static class JsonLines
{
    public static IEnumerable<JsonLine> Read(Stream stream, long startOffset = 0)
    {
        ArgumentNullException.ThrowIfNull(stream);
        stream.Seek(startOffset, SeekOrigin.Begin);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
        long bufferOffset = startOffset; // file offset of buffer[0]
        long number = 0;
        try
        {
            int start = 0, end = 0;
            while (true)
            {
                int read = stream.Read(buffer, end, buffer.Length - end);
                end += read;
                int newline;
                while ((newline = Array.IndexOf(buffer, (byte)'\n', start, end - start)) >= 0)
                {
                    yield return new JsonLine(buffer.AsMemory(start, TrimCarriageReturn(buffer, start, newline)), ++number, bufferOffset + newline + 1);
                    start = newline + 1;
                }

                if (read == 0)
                {
                    if (end > start)
                    {
                        yield return new JsonLine(buffer.AsMemory(start, end - start), ++number, bufferOffset + end); // no final newline
                    }

                    yield break;
                }

                if (start == 0 && end == buffer.Length)
                {
                    byte[] larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, end).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }
                else
                {
                    buffer.AsSpan(start, end - start).CopyTo(buffer);
                    bufferOffset += start;
                    end -= start;
                    start = 0;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static int TrimCarriageReturn(byte[] buffer, int start, int newline) =>
        newline > start && buffer[newline - 1] == (byte)'\r' ? newline - 1 - start : newline - start;
}
