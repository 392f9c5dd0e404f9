using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace NeuralSparse.Tests.Schema;

/// <summary>
/// The JSON Schema keywords that values.schema.json and the OpenSearch API spec (OpenAPI 3.1) use, with $ref across
/// documents. A test-only stand-in for JsonSchema.Net, which this project's package source cannot restore (its
/// dependency JsonPointer.Net is missing). Annotations are ignored; any other unknown keyword fails loudly, so a
/// schema is never passed silently. unevaluatedProperties is approximated: a property is "evaluated" when some
/// applied subschema (allOf/anyOf/oneOf branch that matched, or $ref) declares it.
/// </summary>
internal sealed class SchemaValidator(Func<string, string, (JsonNode Node, string Document)> resolve)
{
    private static readonly HashSet<string> Annotations =
    [
        "$schema", "$id", "$comment", "$defs", "definitions", "description", "title", "default", "deprecated", "externalDocs",
        "examples", "example", "format", "readOnly", "writeOnly", "discriminator", "nullable", "x-version-added",
    ];

    private static readonly HashSet<string> Keywords =
    [
        "$ref", "type", "enum", "const", "properties", "required", "additionalProperties", "unevaluatedProperties",
        "patternProperties", "propertyNames", "minProperties", "maxProperties", "items", "minItems", "maxItems", "uniqueItems",
        "allOf", "anyOf", "oneOf", "not", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
        "pattern", "multipleOf",
    ];

    /// <summary>A validator for one self-contained document (refs like <c>#/definitions/x</c>).</summary>
    public static SchemaValidator ForDocument(JsonNode root) => new((_, reference) =>
        (Pointer(root, reference.TrimStart('#')), string.Empty));

    public static JsonNode Pointer(JsonNode root, string pointer) =>
        pointer.Split('/', StringSplitOptions.RemoveEmptyEntries)
            .Select(part => part.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal))
            .Aggregate(root, (node, part) => node[part] ?? throw new InvalidOperationException($"Unresolved JSON pointer {pointer} at '{part}'."));

    public IReadOnlyList<string> Validate(JsonNode schema, string document, JsonNode? instance)
    {
        var errors = new List<string>();
        Check(schema, document, instance, "$", errors, evaluated: null);
        return errors;
    }

    private void Check(JsonNode schemaNode, string document, JsonNode? value, string path, List<string> errors, HashSet<string>? evaluated)
    {
        if (schemaNode is JsonValue boolean)
        {
            if (!boolean.GetValue<bool>())
            {
                errors.Add($"{path}: no value is allowed here");
            }

            return;
        }

        JsonObject schema = schemaNode.AsObject();
        foreach (string keyword in schema.Select(p => p.Key))
        {
            if (!Keywords.Contains(keyword) && !Annotations.Contains(keyword) && !keyword.StartsWith("x-", StringComparison.Ordinal))
            {
                throw new NotSupportedException($"Schema keyword '{keyword}' at {path} ({document}) is not supported.");
            }
        }

        var local = new HashSet<string>(StringComparer.Ordinal);
        if (schema["$ref"]?.GetValue<string>() is { } reference)
        {
            (JsonNode target, string targetDocument) = resolve(document, reference);
            Check(target, targetDocument, value, path, errors, local);
        }

        if (schema["type"] is { } type && !TypeMatches(type, value))
        {
            errors.Add($"{path}: expected {type.ToJsonString()}, got {Describe(value)}");
            return;
        }

        if (schema["enum"] is JsonArray options && !options.Any(o => JsonNode.DeepEquals(o, value)))
        {
            errors.Add($"{path}: {Describe(value)} is not one of {options.ToJsonString()}");
        }

        if (schema.ContainsKey("const") && !JsonNode.DeepEquals(schema["const"], value))
        {
            errors.Add($"{path}: {Describe(value)} is not {schema["const"]?.ToJsonString() ?? "null"}");
        }

        foreach (JsonNode? branch in schema["allOf"]?.AsArray() ?? [])
        {
            Check(branch!, document, value, path, errors, local);
        }

        if (schema["anyOf"] is JsonArray anyOf && !anyOf.Select(b => Matches(b!, document, value, path, local)).ToArray().Any(ok => ok))
        {
            errors.Add($"{path}: matches none of anyOf");
        }

        if (schema["oneOf"] is JsonArray oneOf)
        {
            int matched = oneOf.Count(b => Matches(b!, document, value, path, local));
            if (matched != 1)
            {
                errors.Add($"{path}: matches {matched} of oneOf's {oneOf.Count} schemas, not exactly one");
            }
        }

        if (schema["not"] is { } not && Matches(not, document, value, path, null))
        {
            errors.Add($"{path}: matches a schema it must not");
        }

        switch (value)
        {
            case JsonObject obj:
                CheckObject(schema, document, obj, path, errors, local);
                break;
            case JsonArray array:
                CheckArray(schema, document, array, path, errors);
                break;
            case JsonValue scalar:
                CheckScalar(schema, scalar, path, errors);
                break;
        }

        evaluated?.UnionWith(local);
    }

    private bool Matches(JsonNode schema, string document, JsonNode? value, string path, HashSet<string>? evaluated)
    {
        var branchErrors = new List<string>();
        var branchEvaluated = new HashSet<string>(StringComparer.Ordinal);
        Check(schema, document, value, path, branchErrors, branchEvaluated);
        if (branchErrors.Count == 0)
        {
            evaluated?.UnionWith(branchEvaluated);
        }

        return branchErrors.Count == 0;
    }

    private void CheckObject(JsonObject schema, string document, JsonObject obj, string path, List<string> errors, HashSet<string> evaluated)
    {
        foreach (JsonNode? name in schema["required"]?.AsArray() ?? [])
        {
            if (!obj.ContainsKey(name!.GetValue<string>()))
            {
                errors.Add($"{path}: missing required property '{name}'");
            }
        }

        if (schema["minProperties"] is { } minProperties && obj.Count < minProperties.GetValue<int>())
        {
            errors.Add($"{path}: fewer than {minProperties} properties");
        }

        if (schema["maxProperties"] is { } maxProperties && obj.Count > maxProperties.GetValue<int>())
        {
            errors.Add($"{path}: more than {maxProperties} properties");
        }

        JsonObject? properties = schema["properties"]?.AsObject();
        JsonObject? patterns = schema["patternProperties"]?.AsObject();
        foreach ((string name, JsonNode? child) in obj)
        {
            if (schema["propertyNames"] is { } names)
            {
                Check(names, document, JsonValue.Create(name), $"{path}.<name {name}>", errors, null);
            }

            bool declared = false;
            if (properties?[name] is { } propertySchema)
            {
                Check(propertySchema, document, child, $"{path}.{name}", errors, null);
                declared = true;
            }

            foreach ((string pattern, JsonNode? patternSchema) in patterns ?? [])
            {
                if (Regex.IsMatch(name, pattern, RegexOptions.None, TimeSpan.FromSeconds(1)))
                {
                    Check(patternSchema!, document, child, $"{path}.{name}", errors, null);
                    declared = true;
                }
            }

            if (declared)
            {
                evaluated.Add(name);
                continue;
            }

            switch (schema["additionalProperties"])
            {
                case JsonValue allowed when !allowed.GetValue<bool>():
                    errors.Add($"{path}: unknown property '{name}'");
                    break;
                case JsonObject additional:
                    Check(additional, document, child, $"{path}.{name}", errors, null);
                    evaluated.Add(name);
                    break;
                case JsonValue:
                    evaluated.Add(name);
                    break;
            }
        }

        if (schema["unevaluatedProperties"] is JsonValue unevaluated && !unevaluated.GetValue<bool>())
        {
            foreach (string name in obj.Select(p => p.Key).Where(n => !evaluated.Contains(n)))
            {
                errors.Add($"{path}: unknown property '{name}'");
            }
        }
    }

    private void CheckArray(JsonObject schema, string document, JsonArray array, string path, List<string> errors)
    {
        if (schema["minItems"] is { } minItems && array.Count < minItems.GetValue<int>())
        {
            errors.Add($"{path}: fewer than {minItems} items");
        }

        if (schema["maxItems"] is { } maxItems && array.Count > maxItems.GetValue<int>())
        {
            errors.Add($"{path}: more than {maxItems} items");
        }

        if (schema["items"] is { } items)
        {
            for (int i = 0; i < array.Count; i++)
            {
                Check(items, document, array[i], $"{path}[{i}]", errors, null);
            }
        }
    }

    private static void CheckScalar(JsonObject schema, JsonValue scalar, string path, List<string> errors)
    {
        if (scalar.GetValueKind() == JsonValueKind.Number)
        {
            double number = Number(scalar);
            if (schema["minimum"] is JsonValue min && number < Number(min))
            {
                errors.Add($"{path}: {number} is below the minimum {min}");
            }

            if (schema["maximum"] is JsonValue max && number > Number(max))
            {
                errors.Add($"{path}: {number} is above the maximum {max}");
            }

            if (schema["exclusiveMinimum"] is JsonValue exclusiveMin && exclusiveMin.GetValueKind() == JsonValueKind.Number && number <= Number(exclusiveMin))
            {
                errors.Add($"{path}: {number} must be greater than {exclusiveMin}");
            }

            if (schema["exclusiveMaximum"] is JsonValue exclusiveMax && exclusiveMax.GetValueKind() == JsonValueKind.Number && number >= Number(exclusiveMax))
            {
                errors.Add($"{path}: {number} must be less than {exclusiveMax}");
            }
        }

        if (scalar.GetValueKind() == JsonValueKind.String)
        {
            string text = scalar.GetValue<string>();
            if (schema["minLength"] is { } minLength && text.Length < minLength.GetValue<int>())
            {
                errors.Add($"{path}: '{text}' is shorter than {minLength}");
            }

            if (schema["maxLength"] is { } maxLength && text.Length > maxLength.GetValue<int>())
            {
                errors.Add($"{path}: '{text}' is longer than {maxLength}");
            }

            if (schema["pattern"]?.GetValue<string>() is { } pattern && !Regex.IsMatch(text, pattern, RegexOptions.None, TimeSpan.FromSeconds(1)))
            {
                errors.Add($"{path}: '{text}' does not match {pattern}");
            }
        }
    }

    private static bool TypeMatches(JsonNode type, JsonNode? value) => type is JsonArray types
        ? types.Any(t => TypeMatches(t!, value))
        : type.GetValue<string>() switch
        {
            "object" => value is JsonObject,
            "array" => value is JsonArray,
            "string" => value is JsonValue v && v.GetValueKind() == JsonValueKind.String,
            "boolean" => value is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False,
            "number" => value is JsonValue v && v.GetValueKind() == JsonValueKind.Number,
            "integer" => value is JsonValue v && v.GetValueKind() == JsonValueKind.Number && double.IsInteger(Number(v)),
            "null" => value is null || (value is JsonValue n && n.GetValueKind() == JsonValueKind.Null),
            var other => throw new NotSupportedException($"Schema type '{other}'"),
        };

    /// <summary>Any numeric node (parsed or built in memory from int, float, ...) read through its JSON text.</summary>
    private static double Number(JsonValue value) => double.Parse(value.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture);

    private static string Describe(JsonNode? value) =>
        value is null ? "null" : value.ToJsonString().Length > 40 ? value.GetValueKind().ToString() : value.ToJsonString();
}
