using System.Text.Json.Nodes;
using NeuralSparse.Tests.Schema;

namespace NeuralSparse.HelmChart.Tests;

/// <summary>The test-side JSON Schema checking (SchemaSupport, over JsonSchema.Net) that the chart and API-spec tests rely on.</summary>
public sealed class SchemaCheckTests
{
    [Fact]
    public void MisspelledKeyword_FailsLoudly_InsteadOfPassingEverything()
    {
        var schema = SchemaCheck.Load(JsonNode.Parse("""
            { "$schema": "https://json-schema.org/draft/2020-12/schema", "properties": { "port": { "tpye": "integer" } } }
            """)!);

        NotSupportedException error = Assert.Throws<NotSupportedException>(() => SchemaCheck.Validate(schema, JsonNode.Parse("""{ "port": "x" }""")));
        Assert.Contains("'tpye'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Errors_NameThePathAndTheReason()
    {
        var schema = SchemaCheck.Load(JsonNode.Parse("""
            { "type": "object", "additionalProperties": false,
              "properties": { "ports": { "type": "array", "items": { "type": "integer", "maximum": 65535 } },
                              "mode": { "oneOf": [ { "const": "a" }, { "const": "b" } ] } } }
            """)!);

        Assert.Equal(
            ["$.ports[1]: 70000 is above the maximum 65535", "$.mode: matches none of oneOf's 2 schemas", "$: unknown property 'extra'"],
            SchemaCheck.Validate(schema, JsonNode.Parse("""{ "ports": [80, 70000], "mode": "c", "extra": true }""")));
    }
}
