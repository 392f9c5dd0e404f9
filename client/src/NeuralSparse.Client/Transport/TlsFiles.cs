using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace NeuralSparse.Client.Transport;

/// <summary>TLS client settings from files, shared by the OpenSearch transport and the sidecar clients.</summary>
internal static class TlsFiles
{
    public static void Validate(string owner, string? authorityPath, string? certificatePath, string? keyPath)
    {
        foreach ((string name, string? path) in new[] { ("CertificateAuthorityPath", authorityPath), ("ClientCertificatePath", certificatePath), ("ClientCertificateKeyPath", keyPath) })
        {
            if (path is not null && !File.Exists(path))
            {
                throw new ArgumentException($"{owner}.{name}: '{path}' does not exist.");
            }
        }

        if (keyPath is not null && certificatePath is null)
        {
            throw new ArgumentException($"{owner}.ClientCertificateKeyPath needs ClientCertificatePath.");
        }
    }

    public static SslClientAuthenticationOptions ClientOptions(bool skipValidation, string? authorityPath, string? certificatePath, string? keyPath)
    {
        var tls = new SslClientAuthenticationOptions();
        if (skipValidation)
        {
            tls.RemoteCertificateValidationCallback = (_, _, _, _) => true;
        }
        else if (authorityPath is not null)
        {
            X509Certificate2Collection authorities = [];
            authorities.ImportFromPemFile(authorityPath);
            tls.CertificateChainPolicy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            tls.CertificateChainPolicy.CustomTrustStore.AddRange(authorities);
        }

        if (certificatePath is not null)
        {
            X509Certificate2 certificate = keyPath is null ? X509CertificateLoader.LoadPkcs12FromFile(certificatePath, null) : LoadPem(certificatePath, keyPath);
            tls.ClientCertificates = [certificate];
        }

        return tls;
    }

    private static X509Certificate2 LoadPem(string certificatePath, string keyPath)
    {
        // A PEM key is ephemeral; a PKCS#12 round trip makes it usable for TLS on every platform.
        using X509Certificate2 pem = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }
}
