using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using NeuralSparse.Client.Ingest;
using NeuralSparse.Client.Transport;
using NeuralSparse.Grpc.V1;

namespace NeuralSparse.Sidecar.IntegrationTests;

/// <summary>
/// Mutual TLS over loopback with real handshakes: a generated CA, the sidecar requiring client certificates from it on
/// both ports (with a name allow-list and an API key), and the SDK's sidecar clients presenting one. Refusals carry a
/// status naming the reason (401 ProblemDetails, gRPC UNAUTHENTICATED); probes reach /health without a certificate; a
/// rotated CA bundle and server certificate are used without a restart.
/// </summary>
public sealed class MutualTlsTests : IClassFixture<ModelDirectories>, IAsyncLifetime
{
    private const string ApiKey = "mtls-test-key-0123456789";
    private readonly ModelDirectories _models;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "mtls-" + Guid.NewGuid().ToString("N"));
    private TestCa _ca = null!;
    private TestCa _otherCa = null!;
    private SidecarProcess _sidecar = null!;

    public MutualTlsTests(ModelDirectories models) => _models = models;

    private string CaBundle => Path.Combine(_dir, "ca.crt");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        _ca = new TestCa("CN=neural-sparse test CA");
        _otherCa = new TestCa("CN=some other CA");
        await File.WriteAllTextAsync(CaBundle, _ca.Certificate.ExportCertificatePem());
        _ca.IssueServer("127.0.0.1").WritePem(Path.Combine(_dir, "tls.crt"), Path.Combine(_dir, "tls.key"));
        _sidecar = await SidecarProcess.StartAsync(_models.Args(
            $"--NeuralSparse:Listen:CertificatePath={Path.Combine(_dir, "tls.crt")}",
            $"--NeuralSparse:Listen:CertificateKeyPath={Path.Combine(_dir, "tls.key")}",
            $"--NeuralSparse:Listen:ClientCertificates:TrustedCaPath={CaBundle}",
            "--NeuralSparse:Listen:ClientCertificates:AllowedNames:0=opensearch.search.svc",
            $"--NeuralSparse:Auth:ApiKeys:0={ApiKey}"), waitUntilReady: false);
        using HttpClient probe = Client(null);
        for (int attempt = 0; attempt < 900; attempt++)
        {
            try
            {
                // A Kubernetes probe: HTTPS, no client certificate, no API key.
                if ((await probe.GetAsync(new Uri($"https://127.0.0.1:{_sidecar.HttpPort}/health/ready"))).StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException) when (!_sidecar.HasExited)
            {
            }
            catch (HttpRequestException ex)
            {
                throw new InvalidOperationException("The sidecar exited:\n" + _sidecar.Output, ex);
            }

            await Task.Delay(100);
        }

        throw new TimeoutException("The sidecar did not become ready over HTTPS:\n" + _sidecar.Output);
    }

    public async Task DisposeAsync()
    {
        await _sidecar.DisposeAsync();
        _ca.Dispose();
        _otherCa.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task GoodCertificate_IsAccepted_OverHttpAndGrpc_ThroughTheSdkClients()
    {
        string cert = Path.Combine(_dir, "good.crt");
        string key = Path.Combine(_dir, "good.key");
        _ca.IssueClient("opensearch.search.svc").WritePem(cert, key);
        var tls = new SidecarTls { CertificateAuthorityPath = CaBundle, ClientCertificatePath = cert, ClientCertificateKeyPath = key };

        using var http = new HttpClient(tls.CreateHandler()) { BaseAddress = new Uri($"https://127.0.0.1:{_sidecar.HttpPort}") };
        using var grpc = SidecarGrpcEncoderClient.CreateChannel(new Uri($"https://127.0.0.1:{_sidecar.GrpcPort}"), tls.CreateHandler());
        IReadOnlyList<IReadOnlyDictionary<string, float>> overHttp = await new SidecarEncoderClient(http, "bi", ApiKey).EncodeDocumentsAsync(["hello world"], CancellationToken.None);
        IReadOnlyList<IReadOnlyDictionary<string, float>> overGrpc = await new SidecarGrpcEncoderClient(grpc, "bi", ApiKey).EncodeDocumentsAsync(["hello world"], CancellationToken.None);

        Assert.NotEmpty(overHttp[0]);
        Assert.Equal(overHttp[0].OrderBy(p => p.Key), overGrpc[0].OrderBy(p => p.Key));
    }

    /// <summary>The SDK's OpenSearch transport presents a client certificate too (here against the sidecar, which checks it).</summary>
    [Fact]
    public async Task OpenSearchTransport_PresentsItsClientCertificate()
    {
        string cert = Path.Combine(_dir, "sdk.crt");
        string key = Path.Combine(_dir, "sdk.key");
        _ca.IssueClient("opensearch.search.svc").WritePem(cert, key);
        Uri node = new($"https://127.0.0.1:{_sidecar.HttpPort}");
        using var withCertificate = new HttpOpenSearchTransport(new OpenSearchClientOptions
        {
            Nodes = [node], ApiKey = ApiKey, CertificateAuthorityPath = CaBundle, ClientCertificatePath = cert, ClientCertificateKeyPath = key, MaxRetries = 0,
        });
        using var without = new HttpOpenSearchTransport(new OpenSearchClientOptions { Nodes = [node], ApiKey = ApiKey, CertificateAuthorityPath = CaBundle, MaxRetries = 0 });

        // The transport sends OpenSearch's "Authorization: ApiKey", which the sidecar does not take: with the certificate
        // the call gets past TLS and the certificate check and stops at the key; without it, at the certificate.
        OpenSearchResponse past = await withCertificate.SendAsync(new OpenSearchRequest(HttpMethod.Get, "/v1/info"), CancellationToken.None);
        OpenSearchResponse stopped = await without.SendAsync(new OpenSearchRequest(HttpMethod.Get, "/v1/info"), CancellationToken.None);

        Assert.Equal(401, past.Status);
        Assert.Contains("Send the API key", past.Body, StringComparison.Ordinal);
        Assert.Equal(401, stopped.Status);
        Assert.Contains("No client certificate was presented", stopped.Body, StringComparison.Ordinal);
    }

    /// <summary>
    /// The mtls/ blueprint connector as ml-commons (main after 3.8, CertificateProcessor) runs it: PEM client certificate,
    /// key and CA from the credential, no API key, the body rendered from the Gson array of texts; against a sidecar
    /// that requires client certificates and no key, as the blueprint says to run it.
    /// </summary>
    [Fact]
    public async Task MtlsBlueprintConnector_AsMlCommonsRunsIt_IsAnswered()
    {
        Issued client = _ca.IssueClient("opensearch.search.svc");
        string template = await File.ReadAllTextAsync(Path.Combine(SidecarProcess.RepositoryRoot, "connector-blueprints", "mtls", "02-create-connector.json"));
        await using SidecarProcess sidecar = await SidecarProcess.StartAsync(_models.Args(
            $"--NeuralSparse:Listen:CertificatePath={Path.Combine(_dir, "tls.crt")}",
            $"--NeuralSparse:Listen:CertificateKeyPath={Path.Combine(_dir, "tls.key")}",
            $"--NeuralSparse:Listen:ClientCertificates:TrustedCaPath={CaBundle}"), waitUntilReady: false);
        JsonElement connector = JsonDocument.Parse(template
            .Replace("${SIDECAR_URL}", $"https://127.0.0.1:{sidecar.HttpPort}", StringComparison.Ordinal)
            .Replace("${CLIENT_CERT_PEM}", JsonEncodedText.Encode(client.Certificate.ExportCertificatePem()).ToString(), StringComparison.Ordinal)
            .Replace("${CLIENT_KEY_PEM}", JsonEncodedText.Encode(client.Key.ExportPkcs8PrivateKeyPem()).ToString(), StringComparison.Ordinal)
            .Replace("${SIDECAR_CA_PEM}", JsonEncodedText.Encode(_ca.Certificate.ExportCertificatePem()).ToString(), StringComparison.Ordinal)).RootElement;
        JsonElement config = connector.GetProperty("client_config");
        Assert.True(config.GetProperty("mutual_tls_enabled").GetBoolean());
        Assert.Equal("PEM", config.GetProperty("keystore_type").GetString());
        JsonElement credential = connector.GetProperty("credential");
        Assert.False(credential.TryGetProperty("api_key", out _), "ml-commons refuses an api_key beside client certificates");

        // What CertificateProcessor builds: key managers from the PEM pair, trust managers from ca_cert_pem.
        using var certificate = X509Certificate2.CreateFromPem(credential.GetProperty("client_cert_pem").GetString(), credential.GetProperty("client_key_pem").GetString());
        using var authority = X509Certificate2.CreateFromPem(credential.GetProperty("ca_cert_pem").GetString());
        using HttpClient http = Client(X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null), trust: authority);
        JsonElement action = connector.GetProperty("actions")[0];
        string body = action.GetProperty("request_body").GetString()!
            .Replace("${parameters.input}", BlueprintContractTests.GsonArray(BlueprintContractTests.HostileTexts, htmlEscaping: false), StringComparison.Ordinal)
            .Replace("${parameters.sparse_embedding_format}", connector.GetProperty("parameters").GetProperty("sparse_embedding_format").GetString(), StringComparison.Ordinal);
        string url = action.GetProperty("url").GetString()!.Replace("/v1/models/v2-distill/", "/v1/models/bi/", StringComparison.Ordinal);

        HttpResponseMessage? response = null;
        for (int attempt = 0; attempt < 900 && response?.StatusCode != HttpStatusCode.OK; attempt++)
        {
            try
            {
                response = await http.PostAsync(new Uri(url), new StringContent(body, MediaTypeHeaderValue.Parse("application/json")));
            }
            catch (HttpRequestException) when (!sidecar.HasExited)
            {
                await Task.Delay(100); // not listening yet
            }
        }

        Assert.True(response?.StatusCode == HttpStatusCode.OK, $"{response?.StatusCode}: {(response is null ? sidecar.Output : await response.Content.ReadAsStringAsync())}");
        Assert.Equal(BlueprintContractTests.HostileTexts.Length, JsonDocument.Parse(await response!.Content.ReadAsStringAsync()).RootElement.GetArrayLength());
    }

    public static TheoryData<string, string> Refusals() => new()
    {
        { "none", "No client certificate was presented" },
        { "wrong CA", "is not issued by a trusted CA" },
        { "expired", "not now" },
        { "wrong SAN", "are not in NeuralSparse:Listen:ClientCertificates:AllowedNames" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task BadCertificate_IsRefusedWithAStatusNamingTheReason_OverHttpAndGrpc(string kind, string reason)
    {
        X509Certificate2? certificate = kind switch
        {
            "none" => null,
            "wrong CA" => _otherCa.IssueClient("opensearch.search.svc").Certificate,
            "expired" => _ca.IssueClient("opensearch.search.svc", expired: true).Certificate,
            _ => _ca.IssueClient("someone-else.example").Certificate,
        };

        using HttpClient client = Client(certificate);
        using var request = new HttpRequestMessage(HttpMethod.Post, $"https://127.0.0.1:{_sidecar.HttpPort}/v1/models/bi/documents")
        {
            Content = new StringContent("""["hello"]""", MediaTypeHeaderValue.Parse("application/json")),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey); // the key alone is not enough
        HttpResponseMessage http = await client.SendAsync(request);
        string problem = await http.Content.ReadAsStringAsync();
        Assert.True(http.StatusCode == HttpStatusCode.Unauthorized, $"{kind}: {(int)http.StatusCode} {problem}");
        Assert.Contains(reason, JsonDocument.Parse(problem).RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);

        (string? status, string? message) = await GrpcCallAsync(client);
        Assert.Equal("16", status); // UNAUTHENTICATED
        Assert.Contains(reason, Uri.UnescapeDataString(message ?? string.Empty), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RotatedCaBundleAndServerCertificate_AreUsedWithoutARestart()
    {
        using var newCa = new TestCa("CN=rotated CA");
        X509Certificate2 fromNewCa = newCa.IssueClient("opensearch.search.svc").Certificate;
        using (HttpClient before = Client(fromNewCa))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await PostAsync(before)).StatusCode);
        }

        // cert-manager renews: the bundle gains the new CA and the server certificate is re-issued by it.
        await File.WriteAllTextAsync(CaBundle, _ca.Certificate.ExportCertificatePem() + "\n" + newCa.Certificate.ExportCertificatePem());
        newCa.IssueServer("127.0.0.1").WritePem(Path.Combine(_dir, "tls.crt"), Path.Combine(_dir, "tls.key"));

        using HttpClient after = Client(fromNewCa, trust: newCa.Certificate);
        HttpResponseMessage response = await PostAsync(after);
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        Assert.False(_sidecar.HasExited);
    }

    private async Task<HttpResponseMessage> PostAsync(HttpClient client)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"https://127.0.0.1:{_sidecar.HttpPort}/v1/models/bi/documents")
        {
            Content = new StringContent("""["hello"]""", MediaTypeHeaderValue.Parse("application/json")),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey);
        return await client.SendAsync(request);
    }

    /// <summary>An Encode call through Grpc.Net.Client over <paramref name="client"/>'s TLS settings; the status it fails with.</summary>
    private async Task<(string? Status, string? Message)> GrpcCallAsync(HttpClient client)
    {
        using var channel = GrpcChannel.ForAddress($"https://127.0.0.1:{_sidecar.GrpcPort}", new GrpcChannelOptions { HttpClient = client });
        var headers = new Metadata { { "authorization", "Bearer " + ApiKey } };
        RpcException error = await Assert.ThrowsAsync<RpcException>(async () =>
            await new SparseEncoder.SparseEncoderClient(channel).EncodeAsync(new EncodeRequest { Texts = { "hello" }, Model = "bi" }, headers));
        return (((int)error.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture), error.Status.Detail);
    }

    /// <summary>An HttpClient that trusts <paramref name="trust"/> (the test CA by default) and presents <paramref name="certificate"/>.</summary>
    private HttpClient Client(X509Certificate2? certificate, X509Certificate2? trust = null)
    {
        var handler = new SocketsHttpHandler();
        handler.SslOptions.CertificateChainPolicy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        handler.SslOptions.CertificateChainPolicy.CustomTrustStore.Add(trust ?? _ca.Certificate);
        if (certificate is not null)
        {
            handler.SslOptions.ClientCertificates = [certificate];
            handler.SslOptions.LocalCertificateSelectionCallback = (_, _, _, _, _) => certificate; // present it whatever CAs the server names
        }

        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>A certificate authority made with CertificateRequest, issuing server and client certificates.</summary>
    private sealed class TestCa : IDisposable
    {
        private readonly RSA _key = RSA.Create(2048);

        public TestCa(string subject)
        {
            var request = new CertificateRequest(subject, _key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
            request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
            Certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow.AddYears(1));
        }

        public X509Certificate2 Certificate { get; }

        public Issued IssueServer(string ip) => Issue("CN=" + ip, names => names.AddIpAddress(IPAddress.Parse(ip)), "1.3.6.1.5.5.7.3.1", expired: false);

        public Issued IssueClient(string dnsName, bool expired = false) => Issue("CN=" + dnsName, names => names.AddDnsName(dnsName), "1.3.6.1.5.5.7.3.2", expired);

        public void Dispose()
        {
            Certificate.Dispose();
            _key.Dispose();
        }

        private Issued Issue(string subject, Action<SubjectAlternativeNameBuilder> addNames, string usage, bool expired)
        {
            RSA key = RSA.Create(2048);
            var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            var names = new SubjectAlternativeNameBuilder();
            addNames(names);
            request.CertificateExtensions.Add(names.Build());
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], false));
            DateTimeOffset from = expired ? DateTimeOffset.UtcNow.AddDays(-10) : DateTimeOffset.UtcNow.AddDays(-1);
            DateTimeOffset to = expired ? DateTimeOffset.UtcNow.AddDays(-1) : DateTimeOffset.UtcNow.AddDays(30);
            using X509Certificate2 signed = request.Create(Certificate, from, to, RandomNumberGenerator.GetBytes(8));
            return new Issued(signed.CopyWithPrivateKey(key), key);
        }
    }

    private sealed record Issued(X509Certificate2 Certificate, RSA Key)
    {
        public void WritePem(string certificatePath, string keyPath)
        {
            File.WriteAllText(certificatePath, Certificate.ExportCertificatePem());
            File.WriteAllText(keyPath, Key.ExportPkcs8PrivateKeyPem());
        }
    }
}
