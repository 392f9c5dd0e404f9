using System.Text.Json.Nodes;

namespace NeuralSparse.Client.Queries;

/// <summary>A query rescorer over the top <see cref="WindowSize"/> hits per shard.</summary>
public sealed record Rescore(int WindowSize, Query RescoreQuery)
{
    /// <summary>Weight of the original score (core default 1.0).</summary>
    public float QueryWeight { get; init; } = 1f;

    /// <summary>Weight of the rescore query's score (core default 1.0).</summary>
    public float RescoreQueryWeight { get; init; } = 1f;

    /// <summary>How scores combine (core default <c>total</c>).</summary>
    public string ScoreMode { get; init; } = "total";

    internal JsonObject ToJson() => new()
    {
        ["window_size"] = WindowSize,
        ["query"] = new JsonObject
        {
            ["rescore_query"] = RescoreQuery.ToJson(),
            ["query_weight"] = Query.Number(QueryWeight),
            ["rescore_query_weight"] = Query.Number(RescoreQueryWeight),
            ["score_mode"] = ScoreMode,
        },
    };
}

/// <summary>Which way a sort key orders hits.</summary>
public enum SortDirection
{
    /// <summary>Smallest first (<c>asc</c>).</summary>
    Ascending,

    /// <summary>Largest first (<c>desc</c>).</summary>
    Descending,
}

/// <summary>One sort key: a field, or <c>_score</c>, and its direction.</summary>
public sealed record SortField(string Field, SortDirection Direction)
{
    /// <summary>Relevance, best first: the order OpenSearch uses when a request has no sort.</summary>
    public static SortField ScoreDescending { get; } = new("_score", SortDirection.Descending);

    internal bool IsScoreDescending => Field == "_score" && Direction == SortDirection.Descending;

    internal JsonObject ToJson() => new()
    {
        [Field] = new JsonObject { ["order"] = Direction == SortDirection.Descending ? "desc" : "asc" },
    };
}

/// <summary>A <c>_search</c> request body, plus the per-request search pipeline (a URL parameter).</summary>
public sealed record SearchRequest(Query Query)
{
    /// <summary>Hits to return (server default 10).</summary>
    public int? Size { get; init; }

    /// <summary>Hits to skip.</summary>
    public int? From { get; init; }

    /// <summary>Sort keys, in order; empty sorts by relevance. OpenSearch refuses a rescore with any sort but <c>_score</c> descending.</summary>
    public IReadOnlyList<SortField> Sort { get; init; } = [];

    /// <summary>Rescorers, applied in order.</summary>
    public IReadOnlyList<Rescore> Rescores { get; init; } = [];

    /// <summary>Source fields to return; null returns the whole source.</summary>
    public IReadOnlyList<string>? SourceIncludes { get; init; }

    /// <summary>A search pipeline for this request only (<c>?search_pipeline=</c>), e.g. a two-phase pipeline.</summary>
    public string? SearchPipeline { get; init; }

    /// <summary>The request body.</summary>
    public JsonObject ToJson()
    {
        var body = new JsonObject();
        if (Size is { } size)
        {
            body["size"] = size;
        }

        if (From is { } from)
        {
            body["from"] = from;
        }

        body["query"] = Query.ToJson();
        if (Sort.Count > 0)
        {
            body["sort"] = new JsonArray([.. Sort.Select(s => (JsonNode)s.ToJson())]);
        }

        if (Rescores.Count > 0)
        {
            body["rescore"] = new JsonArray([.. Rescores.Select(r => (JsonNode)r.ToJson())]);
        }

        if (SourceIncludes is not null)
        {
            body["_source"] = new JsonArray([.. SourceIncludes.Select(f => (JsonNode)JsonValue.Create(f))]);
        }

        return body;
    }

    /// <summary>The request path for <paramref name="index"/>, with the search pipeline when set.</summary>
    public string Path(string index)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(index);
        return $"/{Uri.EscapeDataString(index)}/_search" + (SearchPipeline is null ? string.Empty : $"?search_pipeline={Uri.EscapeDataString(SearchPipeline)}");
    }
}
