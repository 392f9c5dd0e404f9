using NeuralSparse.Client.Transport;

namespace NeuralSparse.Client.Ingest;

/// <summary>
/// TLS to the sidecar for <see cref="SidecarEncoderClient"/> and <see cref="SidecarGrpcEncoderClient"/>: the CA that
/// signed its certificate and, where the sidecar requires mutual TLS, the client certificate to present.
/// </summary>
public sealed record SidecarTls
{
    /// <summary>PEM file of the CA that signed the sidecar's certificate; null uses the system store.</summary>
    public string? CertificateAuthorityPath { get; init; }

    /// <summary>Client certificate: PEM with <see cref="ClientCertificateKeyPath"/>, or a PFX/PKCS#12 file without a password.</summary>
    public string? ClientCertificatePath { get; init; }

    /// <summary>PEM private key of <see cref="ClientCertificatePath"/>; null when that file is a PFX.</summary>
    public string? ClientCertificateKeyPath { get; init; }

    /// <summary>
    /// A handler for the sidecar clients: the <see cref="HttpClient"/> of <see cref="SidecarEncoderClient"/>, or the
    /// channel of <see cref="SidecarGrpcEncoderClient"/> (<see cref="SidecarGrpcEncoderClient.CreateChannel"/>); it
    /// speaks HTTP/1.1 and HTTP/2, so it serves the REST port and the gRPC port alike.
    /// </summary>
    /// <exception cref="ArgumentException">A file is missing, or a key is given without a certificate.</exception>
    public SocketsHttpHandler CreateHandler()
    {
        TlsFiles.Validate(nameof(SidecarTls), CertificateAuthorityPath, ClientCertificatePath, ClientCertificateKeyPath);
        return new SocketsHttpHandler
        {
            SslOptions = TlsFiles.ClientOptions(false, CertificateAuthorityPath, ClientCertificatePath, ClientCertificateKeyPath),
            PooledConnectionLifetime = TimeSpan.FromMinutes(5), // picks up a rotated server certificate on new connections
        };
    }
}
