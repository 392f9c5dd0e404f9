using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using NeuralSparse.Sidecar.Configuration;

namespace NeuralSparse.Sidecar.Hosting;

/// <summary>Kestrel's TLS settings for both ports: the server certificate, reloaded when its files change, and mutual TLS.</summary>
internal static class ClientCertificateHosting
{
    public static Action<HttpsConnectionAdapterOptions> Https(ListenOptions listen)
    {
        ReloadingFile<X509Certificate2> server = ClientCertificateFiles.ServerCertificate(listen.CertificatePath!, listen.CertificateKeyPath, listen.CertificatePassword);
        _ = server.Current; // a certificate that does not load fails at start, not at the first handshake
        bool mutual = listen.ClientCertificates.TrustedCaPath is not null;
        return https =>
        {
            https.ServerCertificateSelector = (_, _) => server.Current;
            if (mutual)
            {
                // Ask for a certificate but decide per call (RequestPipelineMiddleware, SidecarGrpcInterceptor): a refusal then gets a status
                // naming its reason instead of a bare handshake failure, and probes reach /health without one.
                https.ClientCertificateMode = ClientCertificateMode.AllowCertificate;
                https.AllowAnyClientCertificate();
            }
        };
    }
}
