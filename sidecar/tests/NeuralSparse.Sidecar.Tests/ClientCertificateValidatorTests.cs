using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Options;
using NeuralSparse.Sidecar.Configuration;
using NeuralSparse.Sidecar.Hosting;

namespace NeuralSparse.Sidecar.Tests;

/// <summary>AllowedNames against each kind of name a client certificate carries (the process tests cover DNS names over TLS).</summary>
public sealed class ClientCertificateValidatorTests : IDisposable
{
    private readonly string _bundle = Path.Combine(Path.GetTempPath(), "client-ca-" + Guid.NewGuid().ToString("N") + ".pem");
    private readonly RSA _caKey = RSA.Create(2048);
    private readonly X509Certificate2 _ca;

    public ClientCertificateValidatorTests()
    {
        var request = new CertificateRequest("CN=validator test CA", _caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        _ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        File.WriteAllText(_bundle, _ca.ExportCertificatePem());
    }

    [Theory]
    [InlineData("spiffe://cluster.local/ns/search/sa/opensearch", true)] // a URI SAN
    [InlineData("opensearch.search.svc", true)] // a DNS SAN
    [InlineData("client", true)] // the common name
    [InlineData("spiffe://cluster.local/ns/other/sa/opensearch", false)]
    public void Refusal_AcceptsExactlyTheAllowedNames(string allowed, bool accepted)
    {
        using X509Certificate2 client = Issue(names =>
        {
            names.AddUri(new Uri("spiffe://cluster.local/ns/search/sa/opensearch"));
            names.AddDnsName("opensearch.search.svc");
        });

        string? refusal = Validator(allowed).Refusal(client);

        if (accepted)
        {
            Assert.Null(refusal);
        }
        else
        {
            Assert.Equal(
                "The client certificate's names (opensearch.search.svc, spiffe://cluster.local/ns/search/sa/opensearch, client, CN=client) are not in NeuralSparse:Listen:ClientCertificates:AllowedNames.",
                refusal);
        }
    }

    public void Dispose()
    {
        File.Delete(_bundle);
        _ca.Dispose();
        _caKey.Dispose();
    }

    private ClientCertificateValidator Validator(string allowed) => new(Options.Create(new SidecarOptions
    {
        Listen = new ListenOptions { ClientCertificates = new ClientCertificateOptions { TrustedCaPath = _bundle, AllowedNames = [allowed] } },
    }));

    private X509Certificate2 Issue(Action<SubjectAlternativeNameBuilder> addNames)
    {
        using RSA key = RSA.Create(2048);
        var request = new CertificateRequest("CN=client", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        addNames(names);
        request.CertificateExtensions.Add(names.Build());
        return request.Create(_ca, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(1), RandomNumberGenerator.GetBytes(8));
    }
}
