using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace NeuralSparse.Sidecar.IntegrationTests;

/// <summary>
/// Every blueprint body against the OpenSearch releases it claims to work on. A folder's range is the "OpenSearch"
/// column of connector-blueprints/README.md; a body meant for part of it carries the range in its name
/// (<c>01-cluster-settings.2.11-2.14.json</c>), and its untagged sibling covers the rest. Each rule below is a fact read
/// from the Java source at a release tag; a body that would be refused (or silently misbehave) on a release its range
/// includes fails here.
/// </summary>
public sealed partial class BlueprintVersionTests
{
    private static readonly string BlueprintRoot = Path.Combine(SidecarProcess.RepositoryRoot, "connector-blueprints");

    /// <summary>The minor releases the blueprints can target: 2.11 (first remote sparse models) to 3.9 (ml-commons main).</summary>
    private static readonly Version[] Releases =
        [.. Enumerable.Range(11, 9).Select(m => new Version(2, m)), .. Enumerable.Range(0, 10).Select(m => new Version(3, m))];

    private static readonly (string Name, Func<JsonNode, Version, string?> Check)[] Rules =
    [
        ("private_ip_enabled exists from 2.15 (ml-commons MLCommonsSettings, 2.15.0.0); before, the PUT fails as an unknown setting",
            (body, v) => v < new Version(2, 15) && body["persistent"]?["plugins.ml_commons.connector.private_ip_enabled"] is not null
                ? "sets plugins.ml_commons.connector.private_ip_enabled" : null),
        ("model_config is parsed as a text-embedding config before 3.1 (ml-commons MLRegisterModelInput.parse, 3.0.0.0: \"embedding dimension is null\")",
            (body, v) => v < new Version(3, 1) && body["function_name"] is not null && body["model_config"] is not null
                ? "registers a remote model with model_config" : null),
        ("neural-search 3.5.x refuses every call to a symmetric remote model with a model_config (NeuralSearchMLInputBuilder.createTextEmbeddingInput, 3.5.0.0)",
            (body, v) => v.Major == 3 && v.Minor == 5 && body["model_config"] is JsonObject config
                && config["additional_config"]?["is_asymmetric"]?.GetValue<bool>() != true
                ? "registers a symmetric remote model with model_config" : null),
        ("batch_size on an inference processor from 2.16 (neural-search InferenceProcessor extends AbstractBatchingProcessor, 2.16.0.0); before, the processor refuses the unknown key",
            (body, v) => v < new Version(2, 16) && Processors(body, "sparse_encoding").Any(p => p["batch_size"] is not null)
                ? "sets batch_size on sparse_encoding" : null),
        ("prune_type on sparse_encoding from 2.19 (neural-search SparseEncodingProcessorFactory, 2.19.0.0)",
            (body, v) => v < new Version(2, 19) && Processors(body, "sparse_encoding").Any(p => p["prune_type"] is not null)
                ? "sets prune_type on sparse_encoding" : null),
        ("the two-phase factory reads prune_type from 2.19 (NeuralSparseTwoPhaseProcessor.Factory, 2.19.0.0); 2.15-2.18 run every type as max_ratio",
            (body, v) => v < new Version(2, 19) && Processors(body, "neural_sparse_two_phase_processor")
                    .Any(p => p["two_phase_parameter"]?["prune_type"]?.GetValue<string>() is { } type && type != "max_ratio")
                ? "uses a two-phase prune_type other than max_ratio" : null),
    ];

    public static TheoryData<string> Bodies()
    {
        var data = new TheoryData<string>();
        foreach (string file in Directory.EnumerateFiles(BlueprintRoot, "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetRelativePath(BlueprintRoot, file).Replace('\\', '/'));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Bodies))]
    public void Body_WorksOnEveryReleaseItsRangeClaims(string bodyFile)
    {
        IReadOnlySet<Version> releases = ReleasesOf(bodyFile);
        Assert.True(releases.Count > 0, $"{bodyFile} applies to no release: its folder's range and its name's range do not overlap.");
        JsonNode body = JsonNode.Parse(File.ReadAllText(Path.Combine(BlueprintRoot, bodyFile)))!;
        var failures = (from v in releases.Order()
                        from rule in Rules
                        let problem = rule.Check(body, v)
                        where problem is not null
                        select $"on {v}: {problem} — {rule.Name}").ToList();
        Assert.True(failures.Count == 0, $"{bodyFile} (claims {string.Join(", ", releases.Order())}):\n" + string.Join('\n', failures.Distinct()));
    }

    [Fact]
    public void Rules_HaveTeeth()
    {
        Assert.NotNull(Rules[0].Check(JsonNode.Parse("""{"persistent":{"plugins.ml_commons.connector.private_ip_enabled":true}}""")!, new Version(2, 14)));
        Assert.Null(Rules[0].Check(JsonNode.Parse("""{"persistent":{"plugins.ml_commons.connector.private_ip_enabled":true}}""")!, new Version(2, 15)));
        Assert.NotNull(Rules[2].Check(JsonNode.Parse("""{"function_name":"remote","model_config":{"model_type":"SPARSE_ENCODING"}}""")!, new Version(3, 5)));
        Assert.Null(Rules[2].Check(JsonNode.Parse("""{"function_name":"remote","model_config":{"additional_config":{"is_asymmetric":true}}}""")!, new Version(3, 5)));
        Assert.Equal([new Version(3, 1), new Version(3, 2), new Version(3, 4), new Version(3, 6)], ParseRange("3.1–3.2, 3.4, 3.6–3.6").Order());
    }

    /// <summary>The releases one body applies to: its folder's range, narrowed by its own name's range or by its tagged siblings'.</summary>
    internal static IReadOnlySet<Version> ReleasesOf(string bodyFile)
    {
        string folder = bodyFile.Split('/')[0];
        HashSet<Version> range = [.. FolderRanges().TryGetValue(folder, out IReadOnlySet<Version>? r) ? r : throw new InvalidOperationException(
            $"connector-blueprints/README.md lists no OpenSearch range for {folder}/.")];
        string name = Path.GetFileName(bodyFile);
        if (TagPattern().Match(name) is { Success: true } tag)
        {
            range.IntersectWith(ParseRange(tag.Groups["range"].Value.Replace('-', '–')));
            return range;
        }

        string step = name.Split('-')[0];
        foreach (string sibling in Directory.EnumerateFiles(Path.Combine(BlueprintRoot, folder), step + "-*.json"))
        {
            if (TagPattern().Match(Path.GetFileName(sibling)) is { Success: true } siblingTag
                && TagPattern().Replace(Path.GetFileName(sibling), ".json") == name)
            {
                range.ExceptWith(ParseRange(siblingTag.Groups["range"].Value.Replace('-', '–')));
            }
        }

        return range;
    }

    /// <summary>The blueprint table of connector-blueprints/README.md: folder → the releases its "OpenSearch" column names.</summary>
    private static Dictionary<string, IReadOnlySet<Version>> FolderRanges()
    {
        var ranges = new Dictionary<string, IReadOnlySet<Version>>(StringComparer.Ordinal);
        foreach (string line in File.ReadLines(Path.Combine(BlueprintRoot, "README.md")))
        {
            if (TableRowPattern().Match(line) is { Success: true } row)
            {
                ranges[row.Groups["folder"].Value] = ParseRange(row.Groups["range"].Value);
            }
        }

        return ranges;
    }

    /// <summary>"2.11+", "3.1–3.4, 3.6+", "2.15–2.18": the listed releases (the part before any parenthesis).</summary>
    internal static IReadOnlySet<Version> ParseRange(string text)
    {
        var releases = new HashSet<Version>();
        foreach (string part in text.Split('(')[0].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            Match m = RangePattern().Match(part);
            Assert.True(m.Success, $"'{part}' is not a range like 2.11+, 3.1–3.4 or 3.6");
            Version from = Version.Parse(m.Groups["from"].Value);
            Version to = m.Groups["plus"].Success ? Releases[^1] : m.Groups["to"].Success ? Version.Parse(m.Groups["to"].Value) : from;
            releases.UnionWith(Releases.Where(v => v >= from && v <= to));
        }

        return releases;
    }

    private static IEnumerable<JsonNode> Processors(JsonNode body, string type) =>
        (body["processors"] as JsonArray ?? body["request_processors"] as JsonArray ?? [])
            .Select(p => p?[type]).OfType<JsonNode>();

    [GeneratedRegex(@"^\| \[(?<folder>[a-z-]+)/\]\([a-z-]+/\) \|[^|]*\| (?<range>[^|]+?) \|$")]
    private static partial Regex TableRowPattern();

    [GeneratedRegex(@"^(?<from>\d+\.\d+)(?:(?<plus>\+)|–(?<to>\d+\.\d+))?$")]
    private static partial Regex RangePattern();

    /// <summary>A body for part of its folder's range: <c>NN-name.2.11-2.14.json</c> or <c>NN-name.3.6+.json</c>.</summary>
    [GeneratedRegex(@"\.(?<range>\d+\.\d+(?:-\d+\.\d+|\+)?)\.json$")]
    internal static partial Regex TagPattern();
}
