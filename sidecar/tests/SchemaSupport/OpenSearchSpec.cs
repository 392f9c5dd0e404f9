using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using NeuralSparse.Tests;

namespace NeuralSparse.Tests.Schema;

/// <summary>
/// The official OpenSearch REST API spec (multi-file OpenAPI 3.1 YAML under ../shared/opensearch-api-spec/spec), checked
/// with JsonSchema.Net: each file is a document in a schema registry under <see cref="BaseUri"/> plus its path, loaded
/// when a $ref first reaches it, so the spec's relative refs across files (<c>../schemas/_common.yaml#/...</c>) resolve
/// as they are written.
/// </summary>
internal sealed class OpenSearchSpec
{
    /// <summary>Names the documents only; nothing is fetched from it.</summary>
    private static readonly Uri BaseUri = new("https://opensearch-api-spec.invalid/spec/");

    private static readonly Lazy<OpenSearchSpec?> Shared = new(() =>
    {
        string spec = Path.GetFullPath(Path.Combine(SharedData.RepositoryRoot, "..", "shared", "opensearch-api-spec", "spec"));
        return Directory.Exists(Path.Combine(spec, "namespaces")) ? new OpenSearchSpec(spec) : null;
    });

    private readonly string _root;
    private readonly Dictionary<Uri, JsonNode> _documents = [];
    private readonly Dictionary<string, JsonSchema> _schemas = new(StringComparer.Ordinal);
    private readonly BuildOptions _build;

    private OpenSearchSpec(string root)
    {
        _root = root;
        var registry = new SchemaRegistry { Fetch = (uri, _) => new JsonElementBaseDocument(JsonSerializer.SerializeToElement(Document(uri)), WithoutFragment(uri)) };
        // OpenAPI 3.1's schema dialect is JSON Schema 2020-12 plus annotations (SchemaCheck rejects any other keyword).
        _build = new BuildOptions { SchemaRegistry = registry, Dialect = Dialect.Draft202012 };
    }

    /// <summary>The spec beside the repository (loaded once per test run), or null where ../shared is absent.</summary>
    public static OpenSearchSpec? Find() => Shared.Value;

    /// <summary>Validates a request body against <c>components.requestBodies[name]</c> in a namespace file, e.g. ("ml.yaml", "ml.create_connector").</summary>
    public IReadOnlyList<string> Validate(string namespaceFile, string requestBody, JsonNode? instance) =>
        Check(namespaceFile, "requestBodies", requestBody, instance);

    /// <summary>Validates a response body against <c>components.responses[name]</c>, e.g. ("_core.yaml", "search@200").</summary>
    public IReadOnlyList<string> ValidateResponse(string namespaceFile, string response, JsonNode? instance) =>
        Check(namespaceFile, "responses", response, instance);

    private IReadOnlyList<string> Check(string namespaceFile, string section, string name, JsonNode? instance)
    {
        // JsonSchema.Net builds a registry's documents on demand; one build or evaluation at a time across parallel tests.
        lock (_schemas)
        {
            string key = $"{namespaceFile}#{section}/{name}";
            if (!_schemas.TryGetValue(key, out JsonSchema? schema))
            {
                schema = JsonSchema.Build(JsonSerializer.SerializeToElement(new JsonObject { ["$ref"] = SchemaOf(namespaceFile, section, name).ToString() }), _build);
                _schemas[key] = schema;
            }

            return SchemaCheck.Validate(schema, instance);
        }
    }

    /// <summary>Where the JSON schema of a request body or response is, following an OpenAPI reference object if it is one.</summary>
    private Uri SchemaOf(string namespaceFile, string section, string name)
    {
        var document = new Uri(BaseUri, "namespaces/" + namespaceFile);
        JsonNode entry = Document(document)["components"]?[section]?[name]
            ?? throw new InvalidOperationException($"{namespaceFile} has no {section} entry '{name}'.");
        var location = new Uri(document, "#/components/" + section + "/" + Escape(name));
        if (entry["$ref"]?.GetValue<string>() is { } reference)
        {
            location = new Uri(document, reference);
        }

        return new Uri(location + "/content/application~1json/schema");
    }

    private JsonNode Document(Uri uri)
    {
        Uri document = WithoutFragment(uri);
        lock (_documents)
        {
            if (!_documents.TryGetValue(document, out JsonNode? node))
            {
                string file = Path.Combine(_root, BaseUri.MakeRelativeUri(document).OriginalString);
                node = YamlJson.Load(file) ?? throw new InvalidDataException($"{file} is empty.");
                NullableToType(node);
                _documents[document] = node;
            }

            return node;
        }
    }

    /// <summary>
    /// OpenAPI 3.0's <c>nullable: true</c>, which a few 3.1 files of the spec still carry, as the 3.1 form: "null" among
    /// the types. Only beside a type (the only form the spec uses); any other form fails loudly.
    /// </summary>
    private static void NullableToType(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                if (obj["nullable"] is JsonValue nullable && nullable.GetValueKind() is JsonValueKind.True or JsonValueKind.False)
                {
                    if (nullable.GetValue<bool>())
                    {
                        obj["type"] = obj["type"] switch
                        {
                            JsonValue type => new JsonArray(type.GetValue<string>(), "null"),
                            JsonArray types => new JsonArray([.. types.Select(t => t?.DeepClone()), "null"]),
                            _ => throw new NotSupportedException($"nullable without a type: {obj.ToJsonString()}"),
                        };
                    }

                    obj.Remove("nullable");
                }

                foreach (JsonNode? child in obj.Select(p => p.Value).ToArray())
                {
                    NullableToType(child);
                }

                break;
            case JsonArray array:
                foreach (JsonNode? child in array)
                {
                    NullableToType(child);
                }

                break;
        }
    }

    private static Uri WithoutFragment(Uri uri) => new(uri.GetLeftPart(UriPartial.Query));

    private static string Escape(string name) => name.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);
}
