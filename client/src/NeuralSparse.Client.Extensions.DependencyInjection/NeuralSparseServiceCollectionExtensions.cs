using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using NeuralSparse.Client;
using NeuralSparse.Client.Ingest;
using NeuralSparse.Client.Provisioning;
using NeuralSparse.Client.Transport;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the neural sparse SDK.</summary>
public static class NeuralSparseServiceCollectionExtensions
{
    /// <summary>
    /// Adds the transport, <see cref="NeuralSparseSearchClient"/>, <see cref="NeuralSparseProvisioner"/> and, when a
    /// sidecar is configured, <see cref="SidecarEncoderClient"/> and <see cref="PreEncodedBulkIngester"/>. Settings are
    /// validated when first resolved, with a message naming the setting. Calling it twice registers once.
    /// </summary>
    public static IServiceCollection AddNeuralSparseClient(this IServiceCollection services, Action<NeuralSparseClientSettings> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<NeuralSparseClientSettings>()
            .Configure(configure)
            .Validate(s => s.Nodes.Count > 0 && s.Nodes.All(n => Uri.TryCreate(n, UriKind.Absolute, out _)), "NeuralSparse:Nodes needs at least one absolute node URL, e.g. https://localhost:9200.")
            .Validate(s => s.SidecarUrl is null || (Uri.TryCreate(s.SidecarUrl, UriKind.Absolute, out _) && !string.IsNullOrEmpty(s.SidecarModel)), "NeuralSparse:SidecarUrl must be an absolute URL, with NeuralSparse:SidecarModel set.");

        services.TryAddSingleton<IOpenSearchTransport>(sp =>
        {
            NeuralSparseClientSettings s = sp.GetRequiredService<IOptions<NeuralSparseClientSettings>>().Value;
            return new HttpOpenSearchTransport(new OpenSearchClientOptions
            {
                Nodes = [.. s.Nodes.Select(n => new Uri(n))],
                Username = s.Username,
                Password = s.Password,
                ApiKey = s.ApiKey,
                SkipCertificateValidation = s.SkipCertificateValidation,
            });
        });
        services.TryAddSingleton<NeuralSparseSearchClient>();
        services.TryAddSingleton<NeuralSparseProvisioner>(sp => new NeuralSparseProvisioner(sp.GetRequiredService<IOpenSearchTransport>()));
        services.TryAddSingleton(sp =>
        {
            NeuralSparseClientSettings s = sp.GetRequiredService<IOptions<NeuralSparseClientSettings>>().Value;
            var http = new HttpClient { BaseAddress = new Uri(s.SidecarUrl ?? throw new InvalidOperationException("Set NeuralSparse:SidecarUrl to use the sidecar encoder.")) };
            return new SidecarEncoderClient(http, s.SidecarModel!, s.SidecarApiKey);
        });
        services.TryAddSingleton<ISparseDocumentEncoder>(sp => sp.GetRequiredService<SidecarEncoderClient>());
        services.TryAddSingleton<ISparseQueryEncoder>(sp => sp.GetRequiredService<SidecarEncoderClient>());
        services.TryAddSingleton(sp => new PreEncodedBulkIngester(sp.GetRequiredService<IOpenSearchTransport>(), sp.GetRequiredService<ISparseDocumentEncoder>()));
        return services;
    }
}
