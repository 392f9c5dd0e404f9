using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;

namespace NeuralSparse.Sidecar.Tests;

/// <summary>A gRPC call framed by hand over HttpClient, for the wire cases a real client cannot produce (truncated frames, HTTP/1.1, unknown encodings).</summary>
internal static class GrpcTestClient
{
    public sealed record GrpcResult(HttpStatusCode HttpStatus, int? Status, string? Message, IReadOnlyList<byte[]> Messages)
    {
        public T Single<T>(MessageParser<T> parser) where T : IMessage<T> => parser.ParseFrom(Assert.Single(Messages));
    }

    public static byte[] Frame(IMessage message, byte flag = 0)
    {
        byte[] payload = message.ToByteArray();
        byte[] frame = new byte[5 + payload.Length];
        frame[0] = flag;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)payload.Length);
        payload.CopyTo(frame, 5);
        return frame;
    }

    public static async Task<GrpcResult> CallAsync(
        HttpClient client, string path, byte[] body, Version? version = null, IDictionary<string, string>? headers = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative))
        {
            Version = version ?? HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        foreach ((string name, string value) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using HttpResponseMessage response = await client.SendAsync(request);
        byte[] content = await response.Content.ReadAsByteArrayAsync();
        var messages = new List<byte[]>();
        bool framed = response.Content.Headers.ContentType?.MediaType == "application/grpc";
        for (int offset = 0; framed && offset + 5 <= content.Length;)
        {
            int length = (int)BinaryPrimitives.ReadUInt32BigEndian(content.AsSpan(offset + 1));
            messages.Add(content.AsSpan(offset + 5, length).ToArray());
            offset += 5 + length;
        }

        // A call that fails before any message is "trailers-only": the status comes in the headers.
        string? status = Header(response, "grpc-status");
        string? message = Header(response, "grpc-message") is { } m ? Uri.UnescapeDataString(m) : null;
        return new GrpcResult(response.StatusCode, status is null ? null : int.Parse(status, System.Globalization.CultureInfo.InvariantCulture), message, messages);
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.TrailingHeaders.TryGetValues(name, out var trailer) ? trailer.First()
        : response.Headers.TryGetValues(name, out var header) ? header.First() : null;
}
