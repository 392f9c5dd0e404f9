using System.Globalization;
using System.Text.Json.Nodes;

namespace NeuralSparse.Client.Queries;

/// <summary>A query clause of the OpenSearch query DSL.</summary>
public abstract record Query
{
    /// <summary>The clause as JSON, e.g. <c>{"neural_sparse": {...}}</c>.</summary>
    public abstract JsonObject ToJson();

    internal static JsonValue Number(float value) => JsonValue.Create(value);
}

/// <summary>Parameters of a sparse ANN (SEISMIC) query on a <c>sparse_vector</c> field (3.3+).</summary>
public sealed record SparseAnnParameters
{
    /// <summary>Query tokens used for candidate retrieval (server default 10).</summary>
    public int? TopN { get; init; }

    /// <summary>Results kept per segment (server default 10).</summary>
    public int? K { get; init; }

    /// <summary>Recall/speed trade-off (server default 1.0).</summary>
    public float? HeapFactor { get; init; }

    /// <summary>A filter query applied during the ANN search.</summary>
    public Query? Filter { get; init; }

    internal JsonObject ToJson()
    {
        var json = new JsonObject();
        if (TopN is { } topN)
        {
            json["top_n"] = topN > 0 ? topN : throw new ArgumentException("[neural_sparse] top_n must be a positive integer");
        }

        if (K is { } k)
        {
            json["k"] = k > 0 ? k : throw new ArgumentException("[neural_sparse] k must be a positive integer");
        }

        if (HeapFactor is { } heap)
        {
            json["heap_factor"] = heap > 0 ? heap : throw new ArgumentException("[neural_sparse] heap_factor must be a positive float");
        }

        if (Filter is not null)
        {
            json["filter"] = Filter.ToJson();
        }

        return json;
    }
}

/// <summary>
/// The <c>neural_sparse</c> query: text encoded by a model (<see cref="ModelId"/>) or an analyzer (3.1+), or
/// ready-made <see cref="QueryTokens"/> (2.14+; e.g. encoded by the sidecar, which saves the ml-commons round trip).
/// </summary>
public sealed record NeuralSparseQuery(string Field) : Query
{
    /// <summary>Lucene's FeatureField linear query accepts weights in (0, 64].</summary>
    public const float MaxTokenWeight = 64f;

    /// <summary>Text to encode on the server.</summary>
    public string? QueryText { get; init; }

    /// <summary>The ml-commons model that encodes <see cref="QueryText"/>.</summary>
    public string? ModelId { get; init; }

    /// <summary>The analyzer that encodes <see cref="QueryText"/>: <c>bert-uncased</c>, <c>mbert-uncased</c> (3.1+).</summary>
    public string? Analyzer { get; init; }

    /// <summary>Pre-encoded query tokens and weights.</summary>
    public IReadOnlyDictionary<string, float>? QueryTokens { get; init; }

    /// <summary>Score multiplier.</summary>
    public float? Boost { get; init; }

    /// <summary>Name reported in <c>matched_queries</c>.</summary>
    public string? Name { get; init; }

    /// <summary>Sparse ANN parameters for <c>sparse_vector</c> fields (3.3+).</summary>
    public SparseAnnParameters? MethodParameters { get; init; }

    /// <inheritdoc />
    public override JsonObject ToJson()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(Field);
        if (QueryText is null == (QueryTokens is null))
        {
            throw new ArgumentException("either query_text field or query_tokens field must be provided for [neural_sparse] query (exactly one)");
        }

        if (ModelId is not null && Analyzer is not null)
        {
            throw new ArgumentException("[neural_sparse] query: model_id and analyzer are mutually exclusive");
        }

        if (QueryTokens is not null && (ModelId is not null || Analyzer is not null))
        {
            throw new ArgumentException("[neural_sparse] query: query_tokens are already encoded; drop model_id/analyzer");
        }

        var body = new JsonObject();
        if (QueryText is not null)
        {
            body["query_text"] = QueryText;
        }

        if (ModelId is not null)
        {
            body["model_id"] = ModelId;
        }

        if (Analyzer is not null)
        {
            body["analyzer"] = Analyzer;
        }

        if (QueryTokens is not null)
        {
            var tokens = new JsonObject();
            foreach ((string token, float weight) in QueryTokens)
            {
                if (!(weight > 0 && weight <= MaxTokenWeight) || !float.IsFinite(weight))
                {
                    throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"weight must be in (0, 64.0], got: {weight} (token '{token}')"));
                }

                tokens[token] = Number(weight);
            }

            body["query_tokens"] = tokens;
        }

        if (Boost is { } boost)
        {
            body["boost"] = Number(boost);
        }

        if (Name is not null)
        {
            body["_name"] = Name;
        }

        if (MethodParameters is not null)
        {
            body["method_parameters"] = MethodParameters.ToJson();
        }

        return new JsonObject { ["neural_sparse"] = new JsonObject { [Field] = body } };
    }
}

/// <summary>A <c>bool</c> query; neural_sparse clauses compose inside it.</summary>
public sealed record BoolQuery : Query
{
    /// <summary>Clauses that must match and score.</summary>
    public IReadOnlyList<Query> Must { get; init; } = [];

    /// <summary>Clauses that add to the score.</summary>
    public IReadOnlyList<Query> Should { get; init; } = [];

    /// <summary>Clauses that must match, without scoring.</summary>
    public IReadOnlyList<Query> Filter { get; init; } = [];

    /// <summary>Clauses that must not match.</summary>
    public IReadOnlyList<Query> MustNot { get; init; } = [];

    /// <summary>Score multiplier.</summary>
    public float? Boost { get; init; }

    /// <inheritdoc />
    public override JsonObject ToJson()
    {
        var body = new JsonObject();
        void Clauses(string name, IReadOnlyList<Query> clauses)
        {
            if (clauses.Count > 0)
            {
                body[name] = new JsonArray([.. clauses.Select(c => (JsonNode)c.ToJson())]);
            }
        }

        Clauses("must", Must);
        Clauses("should", Should);
        Clauses("filter", Filter);
        Clauses("must_not", MustNot);
        if (Boost is { } boost)
        {
            body["boost"] = Number(boost);
        }

        return new JsonObject { ["bool"] = body };
    }
}

/// <summary>A <c>rank_feature</c> query with the linear function: score = boost × the document's feature value.</summary>
public sealed record RankFeatureQuery(string Field, string Feature, float Boost) : Query
{
    /// <inheritdoc />
    public override JsonObject ToJson() => new()
    {
        ["rank_feature"] = new JsonObject
        {
            ["field"] = $"{Field}.{Feature}",
            ["linear"] = new JsonObject(),
            ["boost"] = Number(Boost),
        },
    };
}

/// <summary>Any clause the SDK does not type: its JSON as given.</summary>
public sealed record RawQuery(JsonObject Json) : Query
{
    /// <inheritdoc />
    public override JsonObject ToJson() => (JsonObject)Json.DeepClone();
}
