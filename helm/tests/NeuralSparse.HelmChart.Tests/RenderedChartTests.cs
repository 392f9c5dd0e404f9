using System.Reflection;
using System.Text.Json.Nodes;
using NeuralSparse.Sidecar.Configuration;
using NeuralSparse.Tests;
using NeuralSparse.Tests.Schema;

namespace NeuralSparse.HelmChart.Tests;

/// <summary>The chart through a real helm: <c>helm lint --strict</c> and <c>helm template</c> on each value set, and the rendered manifests checked.</summary>
public sealed class RenderedChartTests
{
    private static readonly string Chart = Path.Combine(SharedData.RepositoryRoot, "helm", "neural-sparse");

    /// <summary>The value sets CI renders: name → --set arguments.</summary>
    public static TheoryData<string> ValueSets() => [.. Sets.Keys];

    private static readonly Dictionary<string, string[]> Sets = new(StringComparer.Ordinal)
    {
        ["defaults (GPU)"] = [],
        ["CPU"] = ["gpu.enabled=false"],
        ["autoscaling"] = ["autoscaling.enabled=true", "autoscaling.maxReplicas=6"],
        ["ServiceMonitor"] = ["serviceMonitor.enabled=true"],
        ["NetworkPolicy"] = ["networkPolicy.enabled=true"],
        ["TLS from a Secret"] = ["tls.enabled=true", "tls.secretName=sidecar-tls"],
        ["mutual TLS"] = ["tls.enabled=true", "tls.secretName=sidecar-tls", "tls.clientCa.enabled=true", "tls.clientCa.secretName=opensearch-ca", "tls.clientCa.allowedNames[0]=opensearch-node"],
        ["existing API-key Secret"] = ["auth.enabled=true", "auth.existingSecret=sidecar-keys"],
    };

    [HelmTheory]
    [MemberData(nameof(ValueSets))]
    public void LintStrict_Passes(string set)
    {
        (int exit, string output) = HelmTool.Run([.. new[] { "lint", "--strict", Chart }, .. SetArgs(set)]);

        Assert.True(exit == 0, output);
    }

    [HelmTheory]
    [MemberData(nameof(ValueSets))]
    public void Template_RendersAPodThatProbesTheRealRoutes_RunsLockedDown_AndConfiguresOnlyRealOptions(string set)
    {
        IReadOnlyList<JsonNode> manifests = Render(set);
        JsonNode deployment = Single(manifests, "Deployment");
        JsonNode pod = deployment["spec"]!["template"]!["spec"]!;
        JsonNode container = pod["containers"]!.AsArray().Single(c => c!["name"]!.GetValue<string>() == "sidecar")!;
        Dictionary<string, int> ports = container["ports"]!.AsArray().ToDictionary(p => p!["name"]!.GetValue<string>(), p => p!["containerPort"]!.GetValue<int>());
        JsonNode config = Single(manifests, "ConfigMap")["data"]!;
        bool tls = set is "TLS from a Secret" or "mutual TLS";

        // Probes: the service's health routes, on the port the service listens on with HTTP, in the scheme it serves.
        Assert.Equal(int.Parse(config["NeuralSparse__Listen__HttpPort"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture), ports["http"]);
        Assert.Equal(int.Parse(config["NeuralSparse__Listen__GrpcPort"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture), ports["grpc"]);
        foreach ((string probe, string path) in new[] { ("startupProbe", "/health/ready"), ("readinessProbe", "/health/ready"), ("livenessProbe", "/health/live") })
        {
            JsonNode get = container[probe]!["httpGet"]!;
            Assert.Equal(path, get["path"]!.GetValue<string>());
            Assert.Equal("http", get["port"]!.GetValue<string>());
            Assert.Equal(tls ? "HTTPS" : "HTTP", get["scheme"]!.GetValue<string>());
        }

        // Security: non-root, read-only root filesystem, no privilege escalation, no capabilities; ONNX Runtime telemetry off.
        Assert.True(pod["securityContext"]!["runAsNonRoot"]!.GetValue<bool>());
        Assert.True(container["securityContext"]!["readOnlyRootFilesystem"]!.GetValue<bool>());
        Assert.False(container["securityContext"]!["allowPrivilegeEscalation"]!.GetValue<bool>());
        Assert.Equal(["ALL"], container["securityContext"]!["capabilities"]!["drop"]!.AsArray().Select(c => c!.GetValue<string>()));
        Dictionary<string, JsonNode> env = container["env"]!.AsArray().ToDictionary(e => e!["name"]!.GetValue<string>(), e => e!);
        Assert.Equal("1", env["ORT_DISABLE_TELEMETRY"]["value"]!.GetValue<string>());
        Assert.Contains(container["volumeMounts"]!.AsArray(), m => m!["mountPath"]!.GetValue<string>() == "/tmp");

        // Threads: .NET counts what the pod requests, not the node's cores, so the service runs one ONNX Runtime
        // thread per requested CPU (rounded up) even with no CPU limit.
        JsonNode cpuRequest = env["DOTNET_PROCESSOR_COUNT"]["valueFrom"]!["resourceFieldRef"]!;
        Assert.Equal("requests.cpu", cpuRequest["resource"]!.GetValue<string>());
        Assert.Equal(container["name"]!.GetValue<string>(), cpuRequest["containerName"]!.GetValue<string>());
        Assert.Equal("1", cpuRequest["divisor"]!.GetValue<string>());

        // GPU: the device limit and the toleration for GPU nodes, and the model asks for CUDA; none of it on CPU.
        bool gpu = set != "CPU";
        JsonNode? limit = container["resources"]!["limits"]?["nvidia.com/gpu"];
        Assert.Equal(gpu, limit is not null);
        if (gpu)
        {
            Assert.Equal(1, limit!.GetValue<int>());
            Assert.Contains(pod["tolerations"]!.AsArray(), t => t!["key"]!.GetValue<string>() == "nvidia.com/gpu" && t["effect"]!.GetValue<string>() == "NoSchedule");
        }

        Assert.Equal(gpu ? "cuda" : "cpu", config["NeuralSparse__Models__0__Device"]!.GetValue<string>());

        // Every configuration key the chart sets, in the ConfigMap or the container's env, is a real service option.
        foreach (string key in config.AsObject().Select(p => p.Key).Concat(env.Keys).Where(k => k.StartsWith("NeuralSparse__", StringComparison.Ordinal)))
        {
            AssertIsAnOption(key);
        }

        if (tls)
        {
            // The kubernetes.io/tls Secret mounted as a folder (no subPath, so renewals reach the pod), read as a PEM pair.
            Assert.Equal("/tls/server/tls.crt", config["NeuralSparse__Listen__CertificatePath"]!.GetValue<string>());
            Assert.Equal("/tls/server/tls.key", config["NeuralSparse__Listen__CertificateKeyPath"]!.GetValue<string>());
            Assert.Contains(pod["volumes"]!.AsArray(), v => v!["secret"]?["secretName"]?.GetValue<string>() == "sidecar-tls");
            Assert.Contains(container["volumeMounts"]!.AsArray(), m => m!["mountPath"]!.GetValue<string>() == "/tls/server" && m["subPath"] is null);
        }

        bool mutual = set == "mutual TLS";
        Assert.Equal(mutual, config["NeuralSparse__Listen__ClientCertificates__TrustedCaPath"] is not null);
        if (mutual)
        {
            Assert.Equal("/tls/client-ca/ca.crt", config["NeuralSparse__Listen__ClientCertificates__TrustedCaPath"]!.GetValue<string>());
            Assert.Contains(pod["volumes"]!.AsArray(), v => v!["secret"]?["secretName"]?.GetValue<string>() == "opensearch-ca");
            Assert.Contains(config.AsObject(), p => p.Key.StartsWith("NeuralSparse__Listen__ClientCertificates__AllowedNames__", StringComparison.Ordinal) && p.Value!.GetValue<string>() == "opensearch-node");
        }

        if (set == "existing API-key Secret")
        {
            Assert.Equal("sidecar-keys", env[NeuralSparse.Sidecar.SidecarApp.ApiKeysVariable]["valueFrom"]!["secretKeyRef"]!["name"]!.GetValue<string>());
            Assert.DoesNotContain(manifests, m => Kind(m) == "Secret"); // the chart does not create one of its own
        }
    }

    [HelmFact]
    public void ServiceMonitor_ScrapesTheServicesMetricsPath_OnTheHttpPort()
    {
        IReadOnlyList<JsonNode> manifests = Render("ServiceMonitor");
        JsonNode endpoint = Single(manifests, "ServiceMonitor")["spec"]!["endpoints"]![0]!;
        JsonNode service = Single(manifests, "Service");

        Assert.Equal(NeuralSparse.Sidecar.Metrics.SidecarTelemetry.ScrapePath, endpoint["path"]!.GetValue<string>());
        Assert.Contains(service["spec"]!["ports"]!.AsArray(), p => p!["name"]!.GetValue<string>() == endpoint["port"]!.GetValue<string>());
        Assert.DoesNotContain(Render("defaults (GPU)"), m => Kind(m) == "ServiceMonitor");
    }

    [HelmFact]
    public void Autoscaling_RendersAnHpaForTheDeployment()
    {
        IReadOnlyList<JsonNode> manifests = Render("autoscaling");
        JsonNode hpa = Single(manifests, "HorizontalPodAutoscaler");

        Assert.Equal(Single(manifests, "Deployment")["metadata"]!["name"]!.GetValue<string>(), hpa["spec"]!["scaleTargetRef"]!["name"]!.GetValue<string>());
        Assert.Equal(6, hpa["spec"]!["maxReplicas"]!.GetValue<int>());
        Assert.Null(Single(manifests, "Deployment")["spec"]!["replicas"]); // the HPA owns the replica count
    }

    [HelmFact]
    public void NetworkPolicy_AdmitsOnlyTheContainersPorts()
    {
        IReadOnlyList<JsonNode> manifests = Render("NetworkPolicy");
        JsonNode policy = Single(manifests, "NetworkPolicy");
        string[] admitted = [.. policy["spec"]!["ingress"]!.AsArray().SelectMany(rule => rule!["ports"]!.AsArray()).Select(p => p!["port"]!.GetValue<string>()).Distinct().Order()];
        string[] declared = [.. Single(manifests, "Deployment")["spec"]!["template"]!["spec"]!["containers"]![0]!["ports"]!.AsArray().Select(p => p!["name"]!.GetValue<string>()).Order()];

        Assert.Equal(["grpc", "http"], admitted);
        Assert.Equal(declared, admitted);
    }

    private static IReadOnlyList<JsonNode> Render(string set)
    {
        (int exit, string output) = HelmTool.Run([.. new[] { "template", "sidecar", Chart }, .. SetArgs(set)]);
        Assert.True(exit == 0, output);
        return YamlJson.LoadAll(output);
    }

    private static IEnumerable<string> SetArgs(string set) => Sets[set].SelectMany(value => new[] { "--set", value });

    private static string? Kind(JsonNode manifest) => manifest["kind"]?.GetValue<string>();

    private static JsonNode Single(IReadOnlyList<JsonNode> manifests, string kind) => Assert.Single(manifests, m => Kind(m) == kind);

    private static void AssertIsAnOption(string key)
    {
        Type type = typeof(SidecarOptions);
        foreach (string part in key.Split("__").Skip(1)) // the first segment is the section, NeuralSparse
        {
            if (int.TryParse(part, out _))
            {
                type = type.GetGenericArguments()[0]; // list element
                continue;
            }

            PropertyInfo property = type.GetProperty(part) ?? throw new Xunit.Sdk.XunitException($"{key}: {type.Name} has no property {part}");
            type = property.PropertyType;
        }
    }
}
