using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using NeuralSparse.Sidecar.Hosting;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace NeuralSparse.Sidecar.Grpc;

/// <summary>The readiness behind <c>/health/ready</c> as an ASP.NET Core health check, which the gRPC health service reports.</summary>
internal sealed class ModelReadinessCheck(ModelHost models) : IHealthCheck
{
    public const string Name = "models";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(models.IsReady
            ? HealthCheckResult.Healthy("Every model is loaded and warmed up.")
            : HealthCheckResult.Unhealthy("The models are loading, or the service is shutting down."));
}

/// <summary>
/// The standard <c>grpc.health.v1.Health</c> service (Grpc.HealthCheck's messages and descriptor) for the whole server
/// ("") and <c>neuralsparse.v1.SparseEncoder</c>: <c>Check</c> evaluates <see cref="ModelReadinessCheck"/>; <c>Watch</c>
/// sends the status and every change of the models' readiness, and ends with NOT_SERVING when shutdown begins so the
/// server can stop. Unknown services: NOT_FOUND from <c>Check</c>, SERVICE_UNKNOWN from <c>Watch</c>. Bound by
/// <see cref="GrpcHealthBinding"/> (rather than Grpc.AspNetCore.HealthChecks) so that a request that is not valid
/// protobuf is INVALID_ARGUMENT, as on the encoder service.
/// </summary>
internal sealed class SidecarHealthService(HealthCheckService checks, ModelHost models, IHostApplicationLifetime lifetime) : GrpcHealthServiceBase
{
    public const string SparseEncoderServiceName = "neuralsparse.v1.SparseEncoder";

    public override async Task<HealthCheckResponse> Check(HealthCheckRequest request, ServerCallContext context)
    {
        if (!IsKnown(request.Service))
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"Unknown service '{request.Service}'."));
        }

        HealthReport report = await checks.CheckHealthAsync(r => r.Name == ModelReadinessCheck.Name, context.CancellationToken);
        return new HealthCheckResponse { Status = report.Status == HealthStatus.Healthy ? ServingStatus.Serving : ServingStatus.NotServing };
    }

    public override async Task Watch(HealthCheckRequest request, IServerStreamWriter<HealthCheckResponse> responseStream, ServerCallContext context)
    {
        using var watching = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
        try
        {
            if (!IsKnown(request.Service))
            {
                await responseStream.WriteAsync(new HealthCheckResponse { Status = ServingStatus.ServiceUnknown }, context.CancellationToken);
                await Task.Delay(Timeout.Infinite, watching.Token);
            }

            ServingStatus? last = null;
            while (true)
            {
                Task changed = models.ReadinessChanged;
                ServingStatus current = models.IsReady ? ServingStatus.Serving : ServingStatus.NotServing;
                if (current != last)
                {
                    // Only the caller cancels a write: shutdown makes models not ready and stops the watch at the
                    // same moment, and a write cancelled by the stop resets the call instead of sending NOT_SERVING.
                    await responseStream.WriteAsync(new HealthCheckResponse { Status = current }, context.CancellationToken);
                    last = current;
                }

                await changed.WaitAsync(watching.Token);
            }
        }
        catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested && !context.CancellationToken.IsCancellationRequested)
        {
            // Shutdown: say so and complete the call, so the server does not wait for watchers.
            await responseStream.WriteAsync(new HealthCheckResponse { Status = ServingStatus.NotServing }, context.CancellationToken);
        }
    }

    private static bool IsKnown(string service) => service is "" or SparseEncoderServiceName;
}
