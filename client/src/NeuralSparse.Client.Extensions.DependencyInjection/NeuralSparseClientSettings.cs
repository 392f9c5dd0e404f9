namespace NeuralSparse.Client;

/// <summary>Bindable settings of the SDK (e.g. the <c>NeuralSparse</c> configuration section).</summary>
public sealed class NeuralSparseClientSettings
{
    /// <summary>OpenSearch node URLs. Required.</summary>
    public List<string> Nodes { get; set; } = [];

    /// <summary>Basic authentication user.</summary>
    public string? Username { get; set; }

    /// <summary>Basic authentication password.</summary>
    public string? Password { get; set; }

    /// <summary>OpenSearch API key (instead of basic authentication).</summary>
    public string? ApiKey { get; set; }

    /// <summary>Accept self-signed certificates (development only).</summary>
    public bool SkipCertificateValidation { get; set; }

    /// <summary>The sidecar's base URL, for pre-encoded ingest and query encoding. Optional.</summary>
    public string? SidecarUrl { get; set; }

    /// <summary>The sidecar model name.</summary>
    public string? SidecarModel { get; set; }

    /// <summary>The sidecar API key.</summary>
    public string? SidecarApiKey { get; set; }
}
