using System.Security.Cryptography.X509Certificates;

namespace NeuralSparse.Sidecar.Hosting;

/// <summary>
/// A certificate file (or PEM certificate + key pair) loaded once and loaded again when a file changes, so a rotated
/// certificate (cert-manager renewing a mounted Secret: the kubelet swaps the files) is used without a restart. The
/// change check is one stat per file per TLS handshake or call; a file caught half-written keeps the previous value.
/// </summary>
internal sealed class ReloadingFile<T>(IReadOnlyList<string> paths, Func<T> load) where T : class
{
    private readonly Lock _gate = new();
    private (DateTime Modified, long Length)[] _stamp = [];
    private T? _value;

    public T Current
    {
        get
        {
            (DateTime, long)[] stamp = [.. paths.Select(p => new FileInfo(p)).Select(f => (f.LastWriteTimeUtc, f.Exists ? f.Length : -1L))];
            lock (_gate)
            {
                if (_value is null || !stamp.SequenceEqual(_stamp))
                {
                    try
                    {
                        _value = load();
                        _stamp = stamp;
                    }
                    catch (Exception ex) when (_value is not null && ex is IOException or System.Security.Cryptography.CryptographicException or ArgumentException)
                    {
                        // Mid-rotation: keep serving the previous certificate; the next call tries again.
                    }
                }

                return _value;
            }
        }
    }
}

/// <summary>The server certificate and the trusted client CA bundle, each reloaded when its files change.</summary>
internal static class ClientCertificateFiles
{
    /// <summary>The server certificate: a PFX, or a PEM certificate (chain) with a PEM key.</summary>
    public static ReloadingFile<X509Certificate2> ServerCertificate(string path, string? keyPath, string? password) =>
        keyPath is null
            ? new([path], () => X509CertificateLoader.LoadPkcs12FromFile(path, password))
            : new([path, keyPath], () => LoadPem(path, keyPath));

    /// <summary>The CA bundle client certificates must chain to.</summary>
    public static ReloadingFile<X509Certificate2Collection> TrustedAuthorities(string path) => new([path], () =>
    {
        X509Certificate2Collection authorities = [];
        authorities.ImportFromPemFile(path);
        return authorities.Count > 0 ? authorities : throw new ArgumentException($"{path} holds no PEM certificate.");
    });

    private static X509Certificate2 LoadPem(string path, string keyPath)
    {
        // An ephemeral PEM key cannot back a TLS server on every platform; a PKCS#12 round trip makes it persistable.
        using X509Certificate2 pem = X509Certificate2.CreateFromPemFile(path, keyPath);
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }
}
