using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;
using NeuralSparse.Grpc.V1;

namespace NeuralSparse.Client.Ingest;

/// <summary>
/// The sidecar's gRPC API (<c>neuralsparse.v1.SparseEncoder/Encode</c>) as an encoder, over HttpClient's HTTP/2 with
/// the gRPC wire framing; <paramref name="http"/>'s base address is the gRPC port, e.g. <c>http://sidecar:8081</c>.
/// A small stand-in for a Grpc.Net.Client channel, which this project cannot restore. RESOURCE_EXHAUSTED and
/// UNAVAILABLE are retried with back-off; other statuses raise <see cref="HttpRequestException"/> with the message.
/// </summary>
public sealed class SidecarGrpcEncoderClient(HttpClient http, string model, string? apiKey = null, int maxRetries = 5)
    : ISparseDocumentEncoder, ISparseQueryEncoder
{
    private const string EncodePath = "/neuralsparse.v1.SparseEncoder/Encode";

    /// <inheritdoc />
    public Task<IReadOnlyList<IReadOnlyDictionary<string, float>>> EncodeDocumentsAsync(IReadOnlyList<string> texts, CancellationToken cancellationToken) =>
        EncodeAsync(texts, EncodeKind.Document, cancellationToken);

    /// <inheritdoc />
    public async Task<IReadOnlyDictionary<string, float>> EncodeQueryAsync(string query, CancellationToken cancellationToken) =>
        (await EncodeAsync([query], EncodeKind.Query, cancellationToken))[0];

    private async Task<IReadOnlyList<IReadOnlyDictionary<string, float>>> EncodeAsync(IReadOnlyList<string> texts, EncodeKind kind, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(texts);
        byte[] payload = new EncodeRequest { Model = model, Kind = kind, IncludeTokens = true, Texts = { texts } }.ToByteArray();
        byte[] frame = new byte[5 + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)payload.Length);
        payload.CopyTo(frame, 5);

        for (int attempt = 0; ; attempt++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(EncodePath, UriKind.Relative))
            {
                Version = HttpVersion.Version20,
                VersionPolicy = HttpVersionPolicy.RequestVersionExact,
                Content = new ByteArrayContent(frame),
            };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
            request.Headers.TryAddWithoutValidation("te", "trailers");
            if (apiKey is not null)
            {
                request.Headers.TryAddWithoutValidation("authorization", "Bearer " + apiKey);
            }

            using HttpResponseMessage response = await http.SendAsync(request, cancellationToken);
            byte[] body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
            int status = response.TrailingHeaders.TryGetValues("grpc-status", out var values) && int.TryParse(values.First(), out int s) ? s : -1;
            if (status == 0 && body.Length >= 5)
            {
                int length = (int)BinaryPrimitives.ReadUInt32BigEndian(body.AsSpan(1));
                EncodeResponse reply = EncodeResponse.Parser.ParseFrom(body.AsSpan(5, length));
                return [.. reply.Vectors.Select(v => (IReadOnlyDictionary<string, float>)v.Tokens.Zip(v.Weights).ToDictionary(p => p.First, p => p.Second, StringComparer.Ordinal))];
            }

            // 8 RESOURCE_EXHAUSTED (queue full) and 14 UNAVAILABLE (loading, shutting down) are worth a retry.
            if (status is 8 or 14 && attempt < maxRetries)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100 * (1 << Math.Min(attempt, 6))), cancellationToken);
                continue;
            }

            string message = response.TrailingHeaders.TryGetValues("grpc-message", out var m) ? Uri.UnescapeDataString(m.First()) : $"HTTP {(int)response.StatusCode}";
            throw new HttpRequestException($"The sidecar's gRPC Encode failed with status {status}: {message}");
        }
    }
}
