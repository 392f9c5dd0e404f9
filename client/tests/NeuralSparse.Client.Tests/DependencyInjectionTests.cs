using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using NeuralSparse.Client.Ingest;
using NeuralSparse.Client.Provisioning;
using NeuralSparse.Client.Transport;

namespace NeuralSparse.Client.Tests;

public sealed class DependencyInjectionTests
{
    [Fact]
    public void AddNeuralSparseClient_ResolvesEveryService_Once()
    {
        var services = new ServiceCollection();
        services.AddNeuralSparseClient(s =>
        {
            s.Nodes = ["http://node-a:9200", "http://node-b:9200"];
            s.SidecarUrl = "http://sidecar:8080/";
            s.SidecarModel = "doc-v3-distill";
        });
        services.AddNeuralSparseClient(_ => { });
        using ServiceProvider provider = services.BuildServiceProvider();

        Assert.IsType<HttpOpenSearchTransport>(provider.GetRequiredService<IOpenSearchTransport>());
        Assert.NotNull(provider.GetRequiredService<NeuralSparseSearchClient>());
        Assert.NotNull(provider.GetRequiredService<NeuralSparseProvisioner>());
        Assert.NotNull(provider.GetRequiredService<PreEncodedBulkIngester>());
        Assert.Same(provider.GetRequiredService<ISparseDocumentEncoder>(), provider.GetRequiredService<ISparseQueryEncoder>());
        Assert.Single(services, d => d.ServiceType == typeof(NeuralSparseSearchClient));
    }

    [Fact]
    public void MissingNodes_FailsWithTheSettingName()
    {
        var services = new ServiceCollection();
        services.AddNeuralSparseClient(_ => { });
        using ServiceProvider provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => { provider.GetRequiredService<IOpenSearchTransport>(); });
        Assert.Contains("NeuralSparse:Nodes", error.Message, StringComparison.Ordinal);
    }
}
