using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using NeuralSparse.Client.Queries;
using NeuralSparse.Client.Transport;

namespace NeuralSparse.Client;

/// <summary>One hit: id, score, the source mapped to <typeparamref name="T"/>, and the matched query names.</summary>
public sealed record SearchHit<T>(string Id, double? Score, T? Source, IReadOnlyList<string> MatchedQueries);

/// <summary>The hits of a search and the total count.</summary>
public sealed record SearchResult<T>(long Total, IReadOnlyList<SearchHit<T>> Hits);

/// <summary>Runs neural sparse searches against a cluster through an <see cref="IOpenSearchTransport"/>.</summary>
public sealed class NeuralSparseSearchClient(IOpenSearchTransport transport)
{
    private readonly IOpenSearchTransport _transport = transport ?? throw new ArgumentNullException(nameof(transport));

    /// <summary>Searches <paramref name="index"/>; <paramref name="sourceType"/> maps each hit's source (use a source-generated context).</summary>
    public async Task<SearchResult<T>> SearchAsync<T>(string index, SearchRequest request, JsonTypeInfo<T> sourceType, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(sourceType);
        JsonNode response = await SendAsync(new OpenSearchRequest(HttpMethod.Post, request.Path(index), request.ToJson()), cancellationToken);
        JsonNode hits = response["hits"] ?? throw new JsonException("The search response has no hits.");
        long total = hits["total"] is JsonObject totalObject ? totalObject["value"]!.GetValue<long>() : hits["total"]?.GetValue<long>() ?? 0;
        var results = new List<SearchHit<T>>();
        foreach (JsonNode? hit in hits["hits"]?.AsArray() ?? [])
        {
            results.Add(new SearchHit<T>(
                hit!["_id"]!.GetValue<string>(),
                hit["_score"]?.GetValue<double>(),
                hit["_source"] is { } source ? source.Deserialize(sourceType) : default,
                [.. (hit["matched_queries"]?.AsArray() ?? []).Select(n => n!.GetValue<string>())]));
        }

        return new SearchResult<T>(total, results);
    }

    /// <summary>Sends a call and returns its JSON body; a non-2xx status becomes an <see cref="OpenSearchException"/>.</summary>
    public async Task<JsonNode> SendAsync(OpenSearchRequest request, CancellationToken cancellationToken = default)
    {
        OpenSearchResponse response = await _transport.SendAsync(request, cancellationToken);
        return response.IsSuccess
            ? response.Json ?? new JsonObject()
            : throw OpenSearchException.FromResponse(request, response);
    }
}
