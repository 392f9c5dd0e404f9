namespace NeuralSparse.Sidecar.IntegrationTests;

/// <summary>Warm before ready, in the real process: the warm-up goes through the service's own HTTP and gRPC ports.</summary>
public sealed class WarmUpProcessTests(ModelDirectories models) : IClassFixture<ModelDirectories>
{
    [Fact]
    public async Task Ready_OnlyAfterWarmUpOverBothTransports_AndEveryBatchSizeStep()
    {
        await using SidecarProcess sidecar = await SidecarProcess.StartAsync(models.Args(
            "--NeuralSparse:WarmUp:MaxSeconds=60", "--NeuralSparse:Batching:MaxBatchSize=8", "--Logging:LogLevel:NeuralSparse=Information"));

        string metrics = await sidecar.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative));

        Assert.Contains("Warm-up:", sidecar.Output, StringComparison.Ordinal);
        Assert.Contains("batch sizes up to 8 ×", sidecar.Output, StringComparison.Ordinal);
        Assert.Contains("(HTTP and gRPC)", sidecar.Output, StringComparison.Ordinal);

        // Readiness came after the warm-up's requests over both protocols, on both models' routes.
        string[] counted = [.. metrics.Split('\n').Where(l => l.StartsWith("neural_sparse_requests_total{", StringComparison.Ordinal))];
        Assert.True(counted.Any(l => l.Contains("protocol=\"grpc\"", StringComparison.Ordinal)), string.Join('\n', counted));
        Assert.True(counted.Any(l => l.Contains("protocol=\"http\"", StringComparison.Ordinal) && l.Contains("queries", StringComparison.Ordinal)), string.Join('\n', counted));
    }
}
