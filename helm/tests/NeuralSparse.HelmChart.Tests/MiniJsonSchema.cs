using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace NeuralSparse.HelmChart.Tests;

/// <summary>
/// The part of JSON Schema draft-07 that values.schema.json uses: type, properties, required, additionalProperties,
/// items, enum, minimum/maximum/exclusiveMinimum, minLength, pattern and local $ref. A stand-in for JsonSchema.Net,
/// which this project's package source cannot restore. Unknown keywords fail loudly rather than pass silently.
/// </summary>
internal static class MiniJsonSchema
{
    private static readonly HashSet<string> Supported =
    [
        "$schema", "type", "properties", "required", "additionalProperties", "items", "enum", "minimum", "maximum",
        "exclusiveMinimum", "minLength", "pattern", "$ref", "definitions", "description",
    ];

    public static IReadOnlyList<string> Validate(JsonNode schema, JsonNode? instance)
    {
        var errors = new List<string>();
        Check(schema, schema, instance, "$", errors);
        return errors;
    }

    private static void Check(JsonNode root, JsonNode schemaNode, JsonNode? value, string path, List<string> errors)
    {
        JsonObject schema = schemaNode.AsObject();
        foreach (string keyword in schema.Select(p => p.Key))
        {
            if (!Supported.Contains(keyword))
            {
                throw new NotSupportedException($"Schema keyword '{keyword}' at {path} is not supported by MiniJsonSchema.");
            }
        }

        if (schema["$ref"]?.GetValue<string>() is { } reference)
        {
            JsonNode target = reference.TrimStart('#', '/').Split('/').Aggregate(root, (node, part) => node[part] ?? throw new InvalidOperationException($"Unresolved $ref {reference}"));
            Check(root, target, value, path, errors);
            return;
        }

        if (schema["type"]?.GetValue<string>() is { } type && !HasType(value, type))
        {
            errors.Add($"{path}: expected {type}, got {Describe(value)}");
            return;
        }

        if (schema["enum"] is JsonArray options && !options.Any(o => JsonNode.DeepEquals(o, value)))
        {
            errors.Add($"{path}: {Describe(value)} is not one of {options.ToJsonString()}");
        }

        if (value is JsonValue scalar)
        {
            CheckScalar(schema, scalar, path, errors);
        }

        if (value is JsonObject obj)
        {
            foreach (JsonNode? name in schema["required"]?.AsArray() ?? [])
            {
                if (!obj.ContainsKey(name!.GetValue<string>()))
                {
                    errors.Add($"{path}: missing required property '{name}'");
                }
            }

            JsonObject? properties = schema["properties"]?.AsObject();
            foreach ((string name, JsonNode? child) in obj)
            {
                if (properties?[name] is { } propertySchema)
                {
                    Check(root, propertySchema, child, $"{path}.{name}", errors);
                }
                else if (schema["additionalProperties"] is JsonValue allowed && !allowed.GetValue<bool>())
                {
                    errors.Add($"{path}: unknown property '{name}'");
                }
                else if (schema["additionalProperties"] is JsonObject additional)
                {
                    Check(root, additional, child, $"{path}.{name}", errors);
                }
            }
        }

        if (value is JsonArray array && schema["items"] is { } items)
        {
            for (int i = 0; i < array.Count; i++)
            {
                Check(root, items, array[i], $"{path}[{i}]", errors);
            }
        }
    }

    private static void CheckScalar(JsonObject schema, JsonValue scalar, string path, List<string> errors)
    {
        if (scalar.TryGetValue(out double number) && scalar.GetValueKind() == System.Text.Json.JsonValueKind.Number)
        {
            if (schema["minimum"] is { } min && number < min.GetValue<double>())
            {
                errors.Add($"{path}: {number} is below the minimum {min}");
            }

            if (schema["maximum"] is { } max && number > max.GetValue<double>())
            {
                errors.Add($"{path}: {number} is above the maximum {max}");
            }

            if (schema["exclusiveMinimum"] is { } exclusive && number <= exclusive.GetValue<double>())
            {
                errors.Add($"{path}: {number} must be greater than {exclusive}");
            }
        }

        if (scalar.GetValueKind() == System.Text.Json.JsonValueKind.String)
        {
            string text = scalar.GetValue<string>();
            if (schema["minLength"] is { } minLength && text.Length < minLength.GetValue<int>())
            {
                errors.Add($"{path}: '{text}' is shorter than {minLength}");
            }

            if (schema["pattern"]?.GetValue<string>() is { } pattern && !Regex.IsMatch(text, pattern, RegexOptions.None, TimeSpan.FromSeconds(1)))
            {
                errors.Add($"{path}: '{text}' does not match {pattern}");
            }
        }
    }

    private static bool HasType(JsonNode? value, string type) => type switch
    {
        "object" => value is JsonObject,
        "array" => value is JsonArray,
        "string" => value is JsonValue v && v.GetValueKind() == System.Text.Json.JsonValueKind.String,
        "boolean" => value is JsonValue v && v.GetValueKind() is System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False,
        "number" => value is JsonValue v && v.GetValueKind() == System.Text.Json.JsonValueKind.Number,
        "integer" => value is JsonValue v && v.GetValueKind() == System.Text.Json.JsonValueKind.Number && double.IsInteger(v.GetValue<double>()),
        "null" => value is null,
        _ => throw new NotSupportedException($"Schema type '{type}'"),
    };

    private static string Describe(JsonNode? value) =>
        value is null ? "null" : value.ToJsonString().Length > 40 ? value.GetValueKind().ToString() : value.ToJsonString();
}
