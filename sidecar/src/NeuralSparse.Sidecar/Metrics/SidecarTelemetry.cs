using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace NeuralSparse.Sidecar.Metrics;

/// <summary>
/// OpenTelemetry for the service: the sidecar's meter, ASP.NET Core's and the runtime's, scraped by Prometheus at
/// <c>/metrics</c>; and, when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set, metrics and traces (ASP.NET Core requests and
/// one span per model run) pushed over OTLP, configured by the standard <c>OTEL_*</c> variables.
/// </summary>
internal static class SidecarTelemetry
{
    public const string OtlpEndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";

    public const string ScrapePath = "/metrics";

    public static void Add(IServiceCollection services, IConfiguration configuration)
    {
        bool otlp = !string.IsNullOrWhiteSpace(configuration[OtlpEndpointVariable]);
        OpenTelemetryBuilder telemetry = services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("neural-sparse-sidecar", serviceVersion: typeof(SidecarTelemetry).Assembly.GetName().Version?.ToString()))
            .WithMetrics(metrics => metrics
                .AddMeter(SidecarMetrics.Name)
                .AddAspNetCoreInstrumentation()
                .AddRuntimeInstrumentation()
                .AddPrometheusExporter());
        if (otlp)
        {
            telemetry
                .WithTracing(tracing => tracing.AddSource(SidecarMetrics.Name).AddAspNetCoreInstrumentation())
                .UseOtlpExporter();
        }
    }

    public static void MapScrapeEndpoint(WebApplication app) => app.MapPrometheusScrapingEndpoint(ScrapePath);
}
