using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Pointer;
using Json.Schema;

namespace NeuralSparse.Tests.Schema;

/// <summary>
/// JSON Schema evaluation through JsonSchema.Net, its results told as <c>$.path: message</c> lines: the instance path in
/// the form the tests and their known-gap lists use (<c>$.request_processors[0]</c>), one line per failing keyword.
/// anyOf/oneOf that no branch satisfies is one line at its own path (with the closest branch's first error where one
/// branch is closest), not every branch's errors, so a failure stays inside the subtree where the instance went wrong.
/// </summary>
internal static class SchemaCheck
{
    /// <summary>
    /// What an OpenAPI 3.1 schema may carry besides JSON Schema 2020-12 (the OAS dialect's vocabulary and x- extensions).
    /// Any other unknown keyword fails loudly, so a misspelled keyword never passes a schema silently.
    /// </summary>
    private static readonly HashSet<string> OpenApiKeywords = ["discriminator", "xml", "externalDocs", "example"];

    private static readonly EvaluationOptions Options = new()
    {
        OutputFormat = OutputFormat.Hierarchical,
        AddAnnotationForUnknownKeywords = true,
        PreserveDroppedAnnotations = true,
    };

    // Messages that name the limit and the value (the library's defaults leave most tokens out).
    static SchemaCheck()
    {
        ErrorMessages.Type = "expected [[expected]], got [[received]]";
        ErrorMessages.Enum = "[[received]] is not one of [[values]]";
        ErrorMessages.Const = "the value is not [[value]]";
        ErrorMessages.Required = "missing required properties [[missing]]";
        ErrorMessages.Minimum = "[[received]] is below the minimum [[limit]]";
        ErrorMessages.Maximum = "[[received]] is above the maximum [[limit]]";
        ErrorMessages.ExclusiveMinimum = "[[received]] must be greater than [[limit]]";
        ErrorMessages.ExclusiveMaximum = "[[received]] must be less than [[limit]]";
        ErrorMessages.MultipleOf = "[[received]] is not a multiple of [[divisor]]";
        ErrorMessages.MinLength = "a string of length [[received]] is shorter than [[limit]]";
        ErrorMessages.MaxLength = "a string of length [[received]] is longer than [[limit]]";
        ErrorMessages.Pattern = "the string does not match [[pattern]]";
        ErrorMessages.MinItems = "[[received]] items, fewer than [[limit]]";
        ErrorMessages.MaxItems = "[[received]] items, more than [[limit]]";
        ErrorMessages.MinProperties = "[[received]] properties, fewer than [[limit]]";
        ErrorMessages.MaxProperties = "[[received]] properties, more than [[limit]]";
        ErrorMessages.UniqueItems = "duplicate items [[duplicates]]";
        ErrorMessages.FalseSchema = "no value is allowed here";
    }

    /// <summary>A self-contained schema document (refs like <c>#/definitions/x</c>), e.g. a chart's values.schema.json.</summary>
    public static JsonSchema Load(JsonNode schema) =>
        JsonSchema.Build(JsonSerializer.SerializeToElement(schema), new BuildOptions { SchemaRegistry = new SchemaRegistry() });

    public static IReadOnlyList<string> Validate(JsonSchema schema, JsonNode? instance)
    {
        EvaluationResults results = schema.Evaluate(JsonSerializer.SerializeToElement(instance), Options);
        RejectUnknownKeywords(results);
        var errors = new List<string>();
        Collect(results, instance, errors);
        return errors;
    }

    private static void Collect(EvaluationResults node, JsonNode? instance, List<string> errors)
    {
        if (node.IsValid)
        {
            return;
        }

        string path = InstancePath(instance, node.InstanceLocation);
        foreach ((string keyword, string message) in node.Errors ?? [])
        {
            if (keyword is not ("anyOf" or "oneOf")) // told below, with how many branches matched
            {
                errors.Add($"{path}: {message}");
            }
        }

        int depth = node.EvaluationPath.SegmentCount;
        foreach (IGrouping<string, EvaluationResults> applied in (node.Details ?? []).GroupBy(child => Segments(child.EvaluationPath)[depth]))
        {
            switch (applied.Key)
            {
                case "anyOf" or "oneOf":
                    int matched = applied.Count(branch => branch.IsValid);
                    if (matched == 0)
                    {
                        errors.Add($"{path}: matches none of {applied.Key}'s {applied.Count()} schemas{Closest(applied, instance)}");
                    }
                    else if (applied.Key == "oneOf" && matched > 1)
                    {
                        errors.Add($"{path}: matches {matched} of oneOf's {applied.Count()} schemas, not exactly one");
                    }

                    break;
                case "not" or "if" or "contains":
                    break; // a failing subschema here is no error; the keyword's own failure is in node.Errors
                case "additionalProperties" or "unevaluatedProperties":
                    foreach (EvaluationResults property in applied.Where(p => !p.IsValid))
                    {
                        if (property.Errors?.ContainsValue(ErrorMessages.FalseSchema) == true)
                        {
                            errors.Add($"{path}: unknown property '{Segments(property.InstanceLocation)[^1]}'");
                        }
                        else
                        {
                            Collect(property, instance, errors);
                        }
                    }

                    break;
                default:
                    foreach (EvaluationResults child in applied)
                    {
                        Collect(child, instance, errors);
                    }

                    break;
            }
        }
    }

    /// <summary>
    /// A hint at what the instance was meant to be: the first error of the branch whose errors reach deepest into the
    /// instance (then the fewest), where one branch is best; none where several tie (say, each wants another tag).
    /// </summary>
    private static string Closest(IEnumerable<EvaluationResults> branches, JsonNode? instance)
    {
        var scored = new List<(int Depth, int Count, string First)>();
        foreach (EvaluationResults branch in branches)
        {
            var branchErrors = new List<string>();
            Collect(branch, instance, branchErrors);
            if (branchErrors.Count > 0)
            {
                scored.Add((branchErrors.Max(e => e.IndexOf(": ", StringComparison.Ordinal)), branchErrors.Count, branchErrors[0]));
            }
        }

        var ranked = scored.OrderByDescending(s => s.Depth).ThenBy(s => s.Count).ToList();
        return ranked.Count == 0 || (ranked.Count > 1 && (ranked[0].Depth, ranked[0].Count) == (ranked[1].Depth, ranked[1].Count))
            ? string.Empty
            : $" (closest: {ranked[0].First})";
    }

    private static void RejectUnknownKeywords(EvaluationResults node)
    {
        if (node.Annotations?.TryGetValue("$unknownKeywords", out JsonElement unknown) == true)
        {
            foreach (string keyword in unknown.EnumerateArray().Select(k => k.GetString()!))
            {
                if (!OpenApiKeywords.Contains(keyword) && !keyword.StartsWith("x-", StringComparison.Ordinal))
                {
                    throw new NotSupportedException($"Schema keyword '{keyword}' at {node.SchemaLocation} is not JSON Schema 2020-12 nor OpenAPI.");
                }
            }
        }

        foreach (EvaluationResults child in node.Details ?? [])
        {
            RejectUnknownKeywords(child);
        }
    }

    /// <summary><c>/a/0/b</c> as <c>$.a[0].b</c>: a segment is an index where the instance there is an array.</summary>
    private static string InstancePath(JsonNode? instance, JsonPointer location)
    {
        var path = new StringBuilder("$");
        JsonNode? node = instance;
        foreach (string segment in Segments(location))
        {
            if (node is JsonArray array && int.TryParse(segment, NumberStyles.None, CultureInfo.InvariantCulture, out int index))
            {
                path.Append('[').Append(index).Append(']');
                node = index < array.Count ? array[index] : null;
            }
            else
            {
                path.Append('.').Append(segment);
                node = node is JsonObject obj ? obj[segment] : null;
            }
        }

        return path.ToString();
    }

    private static string[] Segments(JsonPointer pointer) =>
    [
        .. pointer.ToString().Split('/').Skip(1)
            .Select(s => s.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal)),
    ];
}
