using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NeuralSparse.Client.Ingest;

/// <summary>Encodes documents into sparse vectors (the sidecar, or anything else that can).</summary>
public interface ISparseDocumentEncoder
{
    /// <summary>One <c>{token: weight}</c> map per text, in order.</summary>
    Task<IReadOnlyList<IReadOnlyDictionary<string, float>>> EncodeDocumentsAsync(IReadOnlyList<string> texts, CancellationToken cancellationToken);
}

/// <summary>Encodes queries into token weights for <c>neural_sparse.query_tokens</c>.</summary>
public interface ISparseQueryEncoder
{
    /// <summary>The query's <c>{token: weight}</c> map, weights in (0, 64].</summary>
    Task<IReadOnlyDictionary<string, float>> EncodeQueryAsync(string query, CancellationToken cancellationToken);
}

/// <summary>
/// The sidecar's HTTP API as an encoder: <c>POST /v1/models/{model}/documents</c> and <c>/queries</c> (idf weights for
/// doc-only models, the model for bi-encoders; either way no ml-commons round trip at query time). Overload (429) and unavailability
/// (503) are retried after the server's Retry-After; other errors surface as <see cref="HttpRequestException"/>.
/// </summary>
public sealed class SidecarEncoderClient(HttpClient http, string model, string? apiKey = null, bool tokenIds = false, int maxRetries = 5)
    : ISparseDocumentEncoder, ISparseQueryEncoder
{
    /// <inheritdoc />
    public Task<IReadOnlyList<IReadOnlyDictionary<string, float>>> EncodeDocumentsAsync(IReadOnlyList<string> texts, CancellationToken cancellationToken) =>
        EncodeAsync("documents", texts, cancellationToken);

    /// <inheritdoc />
    public async Task<IReadOnlyDictionary<string, float>> EncodeQueryAsync(string query, CancellationToken cancellationToken) =>
        (await EncodeAsync("queries", [query], cancellationToken))[0];

    private async Task<IReadOnlyList<IReadOnlyDictionary<string, float>>> EncodeAsync(string route, IReadOnlyList<string> texts, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(texts);
        string body = new JsonObject
        {
            ["texts"] = new JsonArray([.. texts.Select(t => (JsonNode)JsonValue.Create(t))]),
            ["sparse_embedding_format"] = tokenIds ? "TOKEN_ID" : "WORD",
        }.ToJsonString();

        for (int attempt = 0; ; attempt++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"v1/models/{Uri.EscapeDataString(model)}/{route}", UriKind.Relative))
            {
                Content = new StringContent(body, Encoding.UTF8, "application/json"),
            };
            if (apiKey is not null)
            {
                request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", apiKey);
            }

            using HttpResponseMessage response = await http.SendAsync(request, cancellationToken);
            string content = await response.Content.ReadAsStringAsync(cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                return Parse(content, texts.Count);
            }

            if (response.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable && attempt < maxRetries)
            {
                TimeSpan wait = response.Headers.RetryAfter?.Delta ?? TimeSpan.FromMilliseconds(100 * (1 << Math.Min(attempt, 6)));
                await Task.Delay(wait, cancellationToken);
                continue;
            }

            throw new HttpRequestException($"The sidecar answered {(int)response.StatusCode}: {content}", null, response.StatusCode);
        }
    }

    private static IReadOnlyList<IReadOnlyDictionary<string, float>> Parse(string content, int expected)
    {
        JsonElement root = JsonDocument.Parse(content).RootElement;
        JsonElement maps = root.ValueKind == JsonValueKind.Array ? root : root.GetProperty("response");
        var vectors = new List<IReadOnlyDictionary<string, float>>(maps.GetArrayLength());
        foreach (JsonElement map in maps.EnumerateArray())
        {
            vectors.Add(map.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetSingle(), StringComparer.Ordinal));
        }

        return vectors.Count == expected
            ? vectors
            : throw new InvalidDataException($"The sidecar returned {vectors.Count} vectors for {expected} texts.");
    }
}
