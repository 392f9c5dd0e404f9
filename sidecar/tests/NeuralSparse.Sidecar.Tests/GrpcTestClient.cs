using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;

namespace NeuralSparse.Sidecar.Tests;

/// <summary>A gRPC call made with HttpClient over HTTP/2 and the wire framing, to test the server's protocol handling.</summary>
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

        string? status = response.TrailingHeaders.TryGetValues("grpc-status", out var s) ? s.First() : null;
        string? message = response.TrailingHeaders.TryGetValues("grpc-message", out var m) ? Uri.UnescapeDataString(m.First()) : null;
        return new GrpcResult(response.StatusCode, status is null ? null : int.Parse(status, System.Globalization.CultureInfo.InvariantCulture), message, messages);
    }
}
