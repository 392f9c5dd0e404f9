namespace NeuralSparse.Client.Transport;

/// <summary>How to reach and talk to an OpenSearch cluster.</summary>
public sealed record OpenSearchClientOptions
{
    /// <summary>Default time limit of one attempt: 30 seconds.</summary>
    public static readonly TimeSpan DefaultAttemptTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Default time limit of a call including retries: 2 minutes.</summary>
    public static readonly TimeSpan DefaultOverallTimeout = TimeSpan.FromMinutes(2);

    /// <summary>Cluster nodes, used round-robin; a node that fails is skipped for a growing back-off. Required.</summary>
    public IReadOnlyList<Uri> Nodes { get; init; } = [];

    /// <summary>Basic authentication user (with <see cref="Password"/>).</summary>
    public string? Username { get; init; }

    /// <summary>Basic authentication password.</summary>
    public string? Password { get; init; }

    /// <summary>API key, sent as <c>Authorization: ApiKey &lt;key&gt;</c> (instead of basic authentication).</summary>
    public string? ApiKey { get; init; }

    /// <summary>Accept any server certificate. For development clusters with self-signed certificates only.</summary>
    public bool SkipCertificateValidation { get; init; }

    /// <summary>PEM file of the certificate authority that signed the cluster's certificates (instead of the system store).</summary>
    public string? CertificateAuthorityPath { get; init; }

    /// <summary>
    /// Client certificate for mutual TLS (the security plugin's certificate authentication, or a proxy that requires
    /// one): a PEM certificate with <see cref="ClientCertificateKeyPath"/>, or a PFX/PKCS#12 file without a password.
    /// </summary>
    public string? ClientCertificatePath { get; init; }

    /// <summary>PEM private key of <see cref="ClientCertificatePath"/>; null when that file is a PFX.</summary>
    public string? ClientCertificateKeyPath { get; init; }

    /// <summary>Retries after the first attempt for 429, 502, 503, 504 and transport errors. Defaults to 3.</summary>
    public int MaxRetries { get; init; } = 3;

    /// <summary>First retry delay, doubled per retry with jitter, unless the server sends Retry-After. Defaults to 200 ms.</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Time limit of one attempt. Defaults to <see cref="DefaultAttemptTimeout"/>.</summary>
    public TimeSpan AttemptTimeout { get; init; } = DefaultAttemptTimeout;

    /// <summary>Time limit of a call including retries. Defaults to <see cref="DefaultOverallTimeout"/>.</summary>
    public TimeSpan OverallTimeout { get; init; } = DefaultOverallTimeout;

    /// <summary>How long a failed node is skipped at first; doubles per consecutive failure up to 5 minutes. Defaults to 1 s.</summary>
    public TimeSpan DeadNodeBackoff { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Throws when the options cannot work, naming the setting.</summary>
    public void Validate()
    {
        if (Nodes.Count == 0)
        {
            throw new ArgumentException("OpenSearchClientOptions.Nodes needs at least one node URL, e.g. https://localhost:9200.");
        }

        if (Nodes.Any(n => !n.IsAbsoluteUri || n.Scheme is not ("http" or "https")))
        {
            throw new ArgumentException("OpenSearchClientOptions.Nodes must be absolute http(s) URLs.");
        }

        if (ApiKey is not null && (Username is not null || Password is not null))
        {
            throw new ArgumentException("Set either ApiKey or Username/Password, not both.");
        }

        if (Username is null != (Password is null))
        {
            throw new ArgumentException("Basic authentication needs both Username and Password.");
        }

        if (SkipCertificateValidation && CertificateAuthorityPath is not null)
        {
            throw new ArgumentException("Set either SkipCertificateValidation or CertificateAuthorityPath, not both.");
        }

        TlsFiles.Validate("OpenSearchClientOptions", CertificateAuthorityPath, ClientCertificatePath, ClientCertificateKeyPath);
        ArgumentOutOfRangeException.ThrowIfNegative(MaxRetries);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(AttemptTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(OverallTimeout, AttemptTimeout);
    }
}
