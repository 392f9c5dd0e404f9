using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Google.Protobuf;

namespace NeuralSparse.Grpc;

/// <summary>An error to end a gRPC call with; carries the status sent in the trailers.</summary>
internal sealed class GrpcCallException(GrpcStatusCode status, string message) : Exception(message)
{
    public GrpcStatusCode Status { get; } = status;
}

/// <summary>
/// gRPC's wire framing over HTTP/2 bodies: each message is a 1-byte compressed flag, a 4-byte big-endian length and
/// the protobuf bytes. Part of the small stand-in for Grpc.AspNetCore (see Grpc/README.md).
/// </summary>
internal static class GrpcFraming
{
    private const int HeaderSize = 5;

    /// <summary>Reads the next message, or returns null when the client has finished sending.</summary>
    public static async ValueTask<T?> ReadMessageAsync<T>(PipeReader reader, MessageParser<T> parser, int maxMessageBytes, CancellationToken cancellationToken)
        where T : class, IMessage<T>
    {
        while (true)
        {
            ReadResult result = await reader.ReadAsync(cancellationToken);
            ReadOnlySequence<byte> buffer = result.Buffer;
            if (buffer.Length >= HeaderSize)
            {
                uint length = ReadHeader(buffer);
                if (length > maxMessageBytes)
                {
                    throw new GrpcCallException(GrpcStatusCode.ResourceExhausted,
                        $"Received message of {length} bytes exceeds the limit of {maxMessageBytes} bytes (NeuralSparse:Limits:MaxRequestBytes).");
                }

                if (buffer.Length >= HeaderSize + length)
                {
                    ReadOnlySequence<byte> payload = buffer.Slice(HeaderSize, length);
                    T message;
                    try
                    {
                        message = parser.ParseFrom(payload);
                    }
                    catch (InvalidProtocolBufferException ex)
                    {
                        throw new GrpcCallException(GrpcStatusCode.InvalidArgument, "The request message is not valid protobuf: " + ex.Message);
                    }
                    finally
                    {
                        reader.AdvanceTo(buffer.GetPosition(HeaderSize + length));
                    }

                    return message;
                }
            }

            if (result.IsCompleted)
            {
                reader.AdvanceTo(buffer.End);
                return buffer.Length == 0
                    ? null
                    : throw new GrpcCallException(GrpcStatusCode.Internal, "The request ended in the middle of a message.");
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Checks the frame flag and returns the message length.</summary>
    private static uint ReadHeader(ReadOnlySequence<byte> buffer)
    {
        Span<byte> header = stackalloc byte[HeaderSize];
        buffer.Slice(0, HeaderSize).CopyTo(header);
        return header[0] switch
        {
            0 => BinaryPrimitives.ReadUInt32BigEndian(header[1..]),
            1 => throw new GrpcCallException(GrpcStatusCode.Unimplemented, "Compressed messages are not supported; send them uncompressed (grpc-encoding: identity)."),
            _ => throw new GrpcCallException(GrpcStatusCode.Internal, $"Invalid message frame flag {header[0]}."),
        };
    }

    /// <summary>Writes one uncompressed message and flushes it to the client.</summary>
    public static async ValueTask WriteMessageAsync(PipeWriter writer, IMessage message, CancellationToken cancellationToken)
    {
        int size = message.CalculateSize();
        Span<byte> header = writer.GetSpan(HeaderSize);
        header[0] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(header[1..], (uint)size);
        writer.Advance(HeaderSize);
        message.WriteTo(writer);
        await writer.FlushAsync(cancellationToken);
    }

    /// <summary>
    /// Parses <c>grpc-timeout</c> (an integer of at most 8 digits and a unit: H, M, S, m, u, n); null when absent or malformed.
    /// </summary>
    public static TimeSpan? ParseTimeout(string? value)
    {
        if (string.IsNullOrEmpty(value) || value.Length < 2 || value.Length > 9 || !long.TryParse(value.AsSpan(0, value.Length - 1),
                System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long amount))
        {
            return null;
        }

        return value[^1] switch
        {
            'H' => TimeSpan.FromHours(amount),
            'M' => TimeSpan.FromMinutes(amount),
            'S' => TimeSpan.FromSeconds(amount),
            'm' => TimeSpan.FromMilliseconds(amount),
            'u' => TimeSpan.FromMicroseconds(amount),
            'n' => TimeSpan.FromTicks(amount / 100),
            _ => null,
        };
    }

    /// <summary>Percent-encodes a status message as the gRPC spec requires (UTF-8; bytes outside 0x20–0x7E and '%').</summary>
    public static string EncodeStatusMessage(string message)
    {
        var encoded = new System.Text.StringBuilder(message.Length);
        foreach (byte b in System.Text.Encoding.UTF8.GetBytes(message))
        {
            if (b is >= 0x20 and <= 0x7E and not (byte)'%')
            {
                encoded.Append((char)b);
            }
            else
            {
                encoded.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return encoded.ToString();
    }
}
