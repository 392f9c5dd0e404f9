using System.Text.Json.Nodes;
using NeuralSparse.Tests.Schema;

namespace NeuralSparse.Sidecar.IntegrationTests;

/// <summary>Every blueprint body against the official OpenSearch API spec's schema for the call it is sent with.</summary>
public sealed class BlueprintSpecTests
{
    private static readonly Lazy<OpenSearchSpec?> Spec = new(OpenSearchSpec.Find);
    private static readonly string BlueprintRoot = Path.Combine(SidecarProcess.RepositoryRoot, "connector-blueprints");

    /// <summary>Which API call each blueprint file is the body of, by the end of its name (most specific first).</summary>
    private static readonly (string Suffix, string Namespace, string RequestBody)[] Calls =
    [
        ("search-query-model.json", "_core.yaml", "search"),
        ("cluster-settings.json", "cluster.yaml", "cluster.put_settings"),
        ("connector.json", "ml.yaml", "ml.create_connector"),
        ("connector-client-config.json", "ml.yaml", "ml.create_connector"),
        ("model.json", "ml.yaml", "ml.register_model"),
        ("ingest-pipeline.json", "ingest.yaml", "ingest.put_pipeline"),
        ("create-index.json", "indices.yaml", "indices.create"),
        ("index-settings.json", "indices.yaml", "indices.put_settings"),
        ("index-document.json", "_core.yaml", "index"),
        ("search-pipeline.json", "search_pipeline.yaml", "search_pipeline.put"),
        ("search.json", "_core.yaml", "search"),
        ("search-analyzer.json", "_core.yaml", "search"),
    ];

    /// <summary>
    /// Where the spec (commit fbe9ede) lags neural-search: the body may fail only inside this subtree. When the spec
    /// catches up, the test fails and the entry must go.
    /// </summary>
    private static readonly Dictionary<string, (string Path, string Reason)> KnownSpecGaps = new(StringComparer.Ordinal)
    {
        ["sparse-ann/05-create-index.json"] = ("$.mappings.properties.passage_embedding", "no sparse_vector mapping type (neural-search 3.3+)"),
        ["two-phase/01-search-pipeline.json"] = ("$.request_processors[0]", "no neural_sparse_two_phase_processor request processor (neural-search 2.15+)"),
    };

    public static TheoryData<string> Bodies()
    {
        var data = new TheoryData<string>();
        foreach (string file in Directory.EnumerateFiles(BlueprintRoot, "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetRelativePath(BlueprintRoot, file));
        }

        return data;
    }

    [SpecTheory]
    [MemberData(nameof(Bodies))]
    public void Body_SatisfiesTheApiSpecSchemaOfItsCall(string bodyFile)
    {
        string call = BlueprintVersionTests.TagPattern().Replace(bodyFile, ".json"); // 01-cluster-settings.2.11-2.14.json is a cluster-settings body
        (string _, string ns, string requestBody) = Calls.FirstOrDefault(c => call.EndsWith(c.Suffix, StringComparison.Ordinal));
        Assert.True(ns is not null, $"{bodyFile}: no API call is known for this file name; add it to Calls.");

        JsonNode? body = JsonNode.Parse(File.ReadAllText(Path.Combine(BlueprintRoot, bodyFile)));
        IReadOnlyList<string> errors = Spec.Value!.Validate(ns!, requestBody, body);

        if (KnownSpecGaps.TryGetValue(bodyFile.Replace('\\', '/'), out var gap))
        {
            Assert.True(errors.Count > 0, $"{bodyFile}: the spec now accepts it ({gap.Reason} was a gap); remove it from KnownSpecGaps.");
            Assert.All(errors, e => Assert.StartsWith(gap.Path, e, StringComparison.Ordinal));
            return;
        }

        Assert.True(errors.Count == 0, $"{bodyFile} vs {ns} {requestBody}:\n" + string.Join('\n', errors));
    }

    [SpecFact]
    public void SpecValidation_RejectsWrongBodies()
    {
        // The validator has teeth: a processors object instead of a list, and a connector without its required fields.
        Assert.NotEmpty(Spec.Value!.Validate("ingest.yaml", "ingest.put_pipeline", JsonNode.Parse("""{ "processors": { "sparse_encoding": {} } }""")));
        Assert.NotEmpty(Spec.Value!.Validate("ml.yaml", "ml.create_connector", JsonNode.Parse("""{ "name": 5 }""")));
        Assert.NotEmpty(Spec.Value!.Validate("_core.yaml", "search", JsonNode.Parse("""{ "size": "ten" }""")));
    }

    [SpecFact]
    public void SpecValidation_TellsWhereAndWhy()
    {
        Assert.Equal(
            ["$.processors[0].sparse_encoding.model_id: expected \"string\", got \"integer\""],
            Spec.Value!.Validate("ingest.yaml", "ingest.put_pipeline", JsonNode.Parse("""{ "processors": [ { "sparse_encoding": { "model_id": 3, "field_map": {} } } ] }""")));
        Assert.Equal(
            ["$: missing required properties [\"actions\",\"credential\",\"description\",\"parameters\",\"protocol\",\"version\"]", "$.name: expected \"string\", got \"integer\""],
            Spec.Value!.Validate("ml.yaml", "ml.create_connector", JsonNode.Parse("""{ "name": 5 }""")));
        // A union that no branch satisfies is one line where the instance went wrong, not every branch's complaint.
        Assert.Equal(
            ["$.request_processors[0]: matches none of oneOf's 5 schemas"],
            Spec.Value!.Validate("search_pipeline.yaml", "search_pipeline.put", JsonNode.Parse("""{ "request_processors": [ { "no_such_processor": {} } ] }""")));
    }
}

/// <summary>Skipped, with the reason, where ../shared/opensearch-api-spec is absent.</summary>
internal sealed class SpecFactAttribute : FactAttribute
{
    public SpecFactAttribute()
    {
        if (OpenSearchSpec.Find() is null)
        {
            Skip = "Needs ../shared/opensearch-api-spec beside the repository; it is absent in this checkout.";
        }
    }
}

/// <summary>Skipped, with the reason, where ../shared/opensearch-api-spec is absent.</summary>
internal sealed class SpecTheoryAttribute : TheoryAttribute
{
    public SpecTheoryAttribute()
    {
        if (OpenSearchSpec.Find() is null)
        {
            Skip = "Needs ../shared/opensearch-api-spec beside the repository; it is absent in this checkout.";
        }
    }
}
