using Grpc.HealthCheck;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using NeuralSparse.Sidecar.Hosting;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace NeuralSparse.Sidecar.Grpc;

/// <summary>
/// The readiness behind <c>/health/ready</c> as an ASP.NET Core health check, which Grpc.AspNetCore.HealthChecks serves
/// as <c>grpc.health.v1.Health</c> for the whole server ("") and for <c>neuralsparse.v1.SparseEncoder</c>.
/// </summary>
internal sealed class ModelReadinessCheck(ModelHost models) : IHealthCheck
{
    public const string Name = "models";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(models.IsReady
            ? HealthCheckResult.Healthy("Every model is loaded and warmed up.")
            : HealthCheckResult.Unhealthy("The models are loading, or the service is shutting down."));
}

/// <summary>
/// Pushes each readiness change to the health service at once, so <c>Watch</c> streams see it without waiting for the
/// health-check publisher's next period. (<c>Check</c> evaluates <see cref="ModelReadinessCheck"/> on every call.)
/// </summary>
internal sealed class GrpcHealthPublisher(ModelHost models, HealthServiceImpl health) : BackgroundService
{
    public static readonly string[] Services = [string.Empty, SparseEncoderServiceName];

    public const string SparseEncoderServiceName = "neuralsparse.v1.SparseEncoder";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                Task changed = models.ReadinessChanged;
                ServingStatus status = models.IsReady ? ServingStatus.Serving : ServingStatus.NotServing;
                foreach (string service in Services)
                {
                    health.SetStatus(service, status);
                }

                await changed.WaitAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override Task StopAsync(CancellationToken cancellationToken)
    {
        // Readiness drops when stopping begins (ModelHost); say so to watchers before the library completes their streams.
        foreach (string service in Services)
        {
            health.SetStatus(service, ServingStatus.NotServing);
        }

        return base.StopAsync(cancellationToken);
    }
}
