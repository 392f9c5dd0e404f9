using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Json.Schema;
using NeuralSparse.Sidecar;
using NeuralSparse.Sidecar.Configuration;
using NeuralSparse.Tests;
using NeuralSparse.Tests.Schema;

namespace NeuralSparse.HelmChart.Tests;

/// <summary>
/// What can be verified about the chart without helm: values against values.schema.json, every template reference
/// against values.yaml and _helpers.tpl, the configuration the chart renders against the service's real options and
/// their validator, and the security settings.
/// </summary>
public sealed partial class ChartTests
{
    private static readonly string Chart = Path.Combine(SharedData.RepositoryRoot, "helm", "neural-sparse");

    private static JsonNode Values => YamlJson.Load(Path.Combine(Chart, "values.yaml"))!;

    private static readonly Lazy<JsonSchema> Schema = new(() => SchemaCheck.Load(JsonNode.Parse(File.ReadAllText(Path.Combine(Chart, "values.schema.json")))!));

    [Fact]
    public void ChartYaml_DeclaresAnApplicationChart()
    {
        JsonNode chart = YamlJson.Load(Path.Combine(Chart, "Chart.yaml"))!;

        Assert.Equal("v2", chart["apiVersion"]!.GetValue<string>());
        Assert.Equal("neural-sparse", chart["name"]!.GetValue<string>());
        Assert.Matches(@"^\d+\.\d+\.\d+$", chart["version"]!.GetValue<string>());
    }

    [Fact]
    public void ValuesYaml_SatisfiesValuesSchema() => Assert.Empty(SchemaCheck.Validate(Schema.Value, Values));

    [Theory]
    [InlineData("config.batching.maxBatchSize", 0, "below the minimum")]
    [InlineData("service.httpPort", 70000, "above the maximum")]
    [InlineData("image.pullPolicy", "Sometimes", "is not one of")]
    [InlineData("model.download.sha256", "not-a-digest", "does not match")]
    [InlineData("gpu.enabled", "yes", "expected \"boolean\"")]
    public void ValuesSchema_RejectsBadValues(string path, object bad, string error)
    {
        JsonNode values = Values;
        string[] parts = path.Split('.');
        JsonNode parent = parts[..^1].Aggregate(values, (node, part) => node[part]!);
        parent[parts[^1]] = System.Text.Json.JsonSerializer.SerializeToNode(bad);

        Assert.Contains(SchemaCheck.Validate(Schema.Value, values), e => e.Contains(error, StringComparison.Ordinal));
    }

    [Fact]
    public void ValuesSchema_RejectsUnknownKeys()
    {
        JsonNode values = Values;
        values["config"]!["batching"]!["maxBatchSise"] = 8;

        Assert.Contains(SchemaCheck.Validate(Schema.Value, values), e => e.Contains("unknown property 'maxBatchSise'", StringComparison.Ordinal));
    }

    [Fact]
    public void Templates_ReferenceOnlyValuesThatExist()
    {
        JsonNode values = Values;
        string[] missing =
        [
            .. Templates().SelectMany(template => ValuesReference().Matches(File.ReadAllText(template))
                .Where(match => !Exists(values, match.Groups[1].Value.Split('.')))
                .Select(match => $"{Path.GetFileName(template)}: .Values.{match.Groups[1].Value}")),
        ];

        Assert.Empty(missing);
    }

    private static bool Exists(JsonNode root, string[] path)
    {
        JsonNode? node = root;
        foreach (string part in path)
        {
            if (node is not JsonObject obj || !obj.ContainsKey(part))
            {
                return false;
            }

            node = obj[part];
        }

        return true;
    }

    [Fact]
    public void Templates_IncludeOnlyDefinedHelpers()
    {
        string helpers = File.ReadAllText(Path.Combine(Chart, "templates", "_helpers.tpl"));
        HashSet<string> defined = [.. DefineName().Matches(helpers).Select(m => m.Groups[1].Value)];

        foreach (string template in Templates())
        {
            foreach (Match match in IncludeName().Matches(File.ReadAllText(template)))
            {
                Assert.True(defined.Contains(match.Groups[1].Value), $"{Path.GetFileName(template)} includes undefined '{match.Groups[1].Value}'");
            }
        }
    }

    [Fact]
    public void ConfigMap_SetsOnlyRealServiceOptions()
    {
        string configMap = File.ReadAllText(Path.Combine(Chart, "templates", "configmap.yaml"));
        MatchCollection keys = EnvironmentKey().Matches(configMap);
        Assert.NotEmpty(keys);

        foreach (Match key in keys)
        {
            Type type = typeof(SidecarOptions);
            foreach (string part in key.Groups[1].Value.Split("__").Skip(1)) // the first segment is the section, NeuralSparse
            {
                if (int.TryParse(part, out _))
                {
                    type = type.GetGenericArguments()[0]; // list element
                    continue;
                }

                PropertyInfo property = type.GetProperty(part) ?? throw new Xunit.Sdk.XunitException($"{key.Value}: {type.Name} has no property {part}");
                type = property.PropertyType;
            }
        }
    }

    [Fact]
    public void DefaultConfig_PassesTheServiceValidator()
    {
        JsonNode config = Values["config"]!;
        var options = new SidecarOptions
        {
            Batching = new BatchingOptions
            {
                MaxBatchSize = config["batching"]!["maxBatchSize"]!.GetValue<int>(),
                MaxBatchTokens = config["batching"]!["maxBatchTokens"]!.GetValue<int>(),
                MaxWaitMilliseconds = config["batching"]!["maxWaitMilliseconds"]!.GetValue<double>(),
                QueueCapacity = config["batching"]!["queueCapacity"]!.GetValue<int>(),
            },
            Limits = new LimitsOptions
            {
                MaxTextsPerRequest = config["limits"]!["maxTextsPerRequest"]!.GetValue<int>(),
                MaxCharactersPerText = config["limits"]!["maxCharactersPerText"]!.GetValue<int>(),
                MaxRequestBytes = config["limits"]!["maxRequestBytes"]!.GetValue<long>(),
                RequestTimeoutSeconds = config["limits"]!["requestTimeoutSeconds"]!.GetValue<double>(),
                ShutdownTimeoutSeconds = config["limits"]!["shutdownTimeoutSeconds"]!.GetValue<double>(),
            },
            Listen = new ListenOptions
            {
                Address = "0.0.0.0",
                HttpPort = Values["service"]!["httpPort"]!.GetValue<int>(),
                GrpcPort = Values["service"]!["grpcPort"]!.GetValue<int>(),
            },
        };

        Assert.Empty(new SidecarOptionsValidator().Validate(null, options).Failures ?? []);
    }

    [Fact]
    public void Defaults_RunNonRootReadOnly_WithGpuLimitsAndProbesOnTheHealthRoutes()
    {
        JsonNode values = Values;
        Assert.True(values["podSecurityContext"]!["runAsNonRoot"]!.GetValue<bool>());
        Assert.True(values["securityContext"]!["readOnlyRootFilesystem"]!.GetValue<bool>());
        Assert.False(values["securityContext"]!["allowPrivilegeEscalation"]!.GetValue<bool>());
        Assert.Equal("nvidia.com/gpu", values["gpu"]!["resourceName"]!.GetValue<string>());

        string deployment = File.ReadAllText(Path.Combine(Chart, "templates", "deployment.yaml"));
        Assert.Contains("path: /health/ready", deployment, StringComparison.Ordinal);
        Assert.Contains("path: /health/live", deployment, StringComparison.Ordinal);
        Assert.Contains("checksum/config", deployment, StringComparison.Ordinal);
        Assert.Contains(SidecarApp.ApiKeysVariable, deployment, StringComparison.Ordinal);
    }

    /// <summary>
    /// TLS and mutual TLS come from Secrets mounted as directories (a subPath mount never sees a renewed certificate),
    /// the configuration names the mounted files, and the probes switch to HTTPS (health routes ask for no client
    /// certificate). A static check: helm is not available here to render the chart.
    /// </summary>
    [Fact]
    public void Tls_MountsSecretsAsDirectories_PointsTheServiceAtThem_AndProbesUseHttps()
    {
        string deployment = File.ReadAllText(Path.Combine(Chart, "templates", "deployment.yaml"));
        string configMap = File.ReadAllText(Path.Combine(Chart, "templates", "configmap.yaml"));

        Assert.DoesNotMatch(@"mountPath: /tls/[^\n]*\n\s*subPath", deployment);
        Assert.Contains("mountPath: /tls/server", deployment, StringComparison.Ordinal);
        Assert.Contains("mountPath: /tls/client-ca", deployment, StringComparison.Ordinal);
        Assert.Equal(3, Regex.Matches(deployment, Regex.Escape("scheme: {{ ternary \"HTTPS\" \"HTTP\" .Values.tls.enabled }}")).Count);
        Assert.Contains("NeuralSparse__Listen__CertificatePath: \"/tls/server/tls.crt\"", configMap, StringComparison.Ordinal);
        Assert.Contains("NeuralSparse__Listen__CertificateKeyPath: \"/tls/server/tls.key\"", configMap, StringComparison.Ordinal);
        Assert.Contains("NeuralSparse__Listen__ClientCertificates__TrustedCaPath", configMap, StringComparison.Ordinal);
        Assert.Contains("NeuralSparse__Listen__ClientCertificates__AllowedNames__{{ $i }}", configMap, StringComparison.Ordinal);
        Assert.False(Values["tls"]!["enabled"]!.GetValue<bool>());
    }

    private static IEnumerable<string> Templates() =>
        Directory.EnumerateFiles(Path.Combine(Chart, "templates"), "*", SearchOption.AllDirectories).Where(f => !f.EndsWith(".tpl", StringComparison.Ordinal));

    [GeneratedRegex(@"\.Values\.([A-Za-z0-9_.]+)")]
    private static partial Regex ValuesReference();

    [GeneratedRegex(@"define ""([^""]+)""")]
    private static partial Regex DefineName();

    [GeneratedRegex(@"include ""([^""]+)""")]
    private static partial Regex IncludeName();

    [GeneratedRegex(@"^\s+(NeuralSparse__[A-Za-z0-9_]+):", RegexOptions.Multiline)]
    private static partial Regex EnvironmentKey();
}
