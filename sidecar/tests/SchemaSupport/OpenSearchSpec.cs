using System.Text.Json.Nodes;
using NeuralSparse.Tests;

namespace NeuralSparse.Tests.Schema;

/// <summary>
/// The official OpenSearch REST API spec (multi-file OpenAPI 3.1 YAML under ../shared/opensearch-api-spec/spec),
/// loaded on demand, with $ref resolved across files, and the request-body schemas of its operations.
/// </summary>
internal sealed class OpenSearchSpec
{
    private readonly string _root;
    private readonly Dictionary<string, JsonNode> _documents = new(StringComparer.Ordinal);

    private OpenSearchSpec(string root)
    {
        _root = root;
        Validator = new SchemaValidator(Resolve);
    }

    public SchemaValidator Validator { get; }

    /// <summary>The spec beside the repository, or null where ../shared is absent.</summary>
    public static OpenSearchSpec? Find()
    {
        string spec = Path.GetFullPath(Path.Combine(SharedData.RepositoryRoot, "..", "shared", "opensearch-api-spec", "spec"));
        return Directory.Exists(Path.Combine(spec, "namespaces")) ? new OpenSearchSpec(spec) : null;
    }

    /// <summary>The JSON schema of <c>components.requestBodies[name]</c> in a namespace file, e.g. ("ml.yaml", "ml.create_connector").</summary>
    public (JsonNode Schema, string Document) RequestBody(string namespaceFile, string name)
    {
        string document = "namespaces/" + namespaceFile;
        JsonNode body = Document(document)["components"]?["requestBodies"]?[name]
            ?? throw new InvalidOperationException($"{document} has no request body '{name}'.");
        if (body["$ref"]?.GetValue<string>() is { } reference)
        {
            (body, document) = Resolve(document, reference);
        }

        return (body["content"]!["application/json"]!["schema"]!, document);
    }

    /// <summary>Validates a response body against <c>components.responses[name]</c>, e.g. ("_core.yaml", "search@200").</summary>
    public IReadOnlyList<string> ValidateResponse(string namespaceFile, string response, JsonNode? instance)
    {
        string document = "namespaces/" + namespaceFile;
        JsonNode node = Document(document)["components"]?["responses"]?[response]
            ?? throw new InvalidOperationException($"{document} has no response '{response}'.");
        if (node["$ref"]?.GetValue<string>() is { } reference)
        {
            (node, document) = Resolve(document, reference);
        }

        return Validator.Validate(node["content"]!["application/json"]!["schema"]!, document, instance);
    }

    public IReadOnlyList<string> Validate(string namespaceFile, string requestBody, JsonNode? instance)
    {
        (JsonNode schema, string document) = RequestBody(namespaceFile, requestBody);
        return Validator.Validate(schema, document, instance);
    }

    private (JsonNode Node, string Document) Resolve(string baseDocument, string reference)
    {
        int hash = reference.IndexOf('#', StringComparison.Ordinal);
        string file = hash < 0 ? reference : reference[..hash];
        string pointer = hash < 0 ? string.Empty : reference[(hash + 1)..];
        string document = file.Length == 0
            ? baseDocument
            : Path.GetRelativePath(_root, Path.GetFullPath(Path.Combine(_root, Path.GetDirectoryName(baseDocument) ?? string.Empty, file))).Replace('\\', '/');
        return (SchemaValidator.Pointer(Document(document), pointer), document);
    }

    private JsonNode Document(string relativePath)
    {
        lock (_documents)
        {
            if (!_documents.TryGetValue(relativePath, out JsonNode? node))
            {
                node = YamlJson.Load(Path.Combine(_root, relativePath)) ?? throw new InvalidDataException($"{relativePath} is empty.");
                _documents[relativePath] = node;
            }

            return node;
        }
    }
}
