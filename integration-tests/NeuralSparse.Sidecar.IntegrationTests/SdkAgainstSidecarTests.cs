using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Grpc.Net.Client;
using NeuralSparse.Client.Ingest;
using NeuralSparse.Client.Transport;

namespace NeuralSparse.Sidecar.IntegrationTests;

/// <summary>The SDK's sidecar client against the real service process.</summary>
public sealed class SdkAgainstSidecarTests(ModelDirectories models) : IClassFixture<ModelDirectories>
{
    [Fact]
    public async Task SidecarEncoderClient_ReturnsWhatTheHttpApiReturns_InBothKeyFormats()
    {
        await using SidecarProcess sidecar = await SidecarProcess.StartAsync(models.Args("--NeuralSparse:Auth:ApiKeys:0=sdk-test-key-0123456789"));
        string[] texts = ["hello world", "", "the weather in ny"];
        using var http = new HttpClient { BaseAddress = new Uri(sidecar.Http.BaseAddress!, "/") };

        IReadOnlyList<IReadOnlyDictionary<string, float>> words = await new SidecarEncoderClient(http, "bi", "sdk-test-key-0123456789").EncodeDocumentsAsync(texts, CancellationToken.None);
        IReadOnlyList<IReadOnlyDictionary<string, float>> ids = await new SidecarEncoderClient(http, "bi", "sdk-test-key-0123456789", tokenIds: true).EncodeDocumentsAsync(texts, CancellationToken.None);

        var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/v1/models/bi/documents", UriKind.Relative)) { Content = new StringContent(JsonSerializer.Serialize(texts), Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new("Bearer", "sdk-test-key-0123456789");
        JsonElement expected = JsonDocument.Parse(await (await sidecar.Http.SendAsync(request)).Content.ReadAsStringAsync()).RootElement;
        for (int i = 0; i < texts.Length; i++)
        {
            Assert.Equal(expected[i].EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetSingle()), words[i]);
            Assert.Equal(words[i].Count, ids[i].Count);
            Assert.All(ids[i].Keys, k => Assert.True(int.TryParse(k, out _)));
        }

        await Assert.ThrowsAsync<HttpRequestException>(() => new SidecarEncoderClient(http, "bi", apiKey: null).EncodeDocumentsAsync(texts, CancellationToken.None));
    }

    [Fact]
    public async Task SidecarGrpcEncoderClient_MatchesTheHttpClient_ForDocumentsAndQueries()
    {
        await using SidecarProcess sidecar = await SidecarProcess.StartAsync(models.Args("--NeuralSparse:Auth:ApiKeys:0=sdk-test-key-0123456789"));
        using var http = new HttpClient { BaseAddress = new Uri(sidecar.Http.BaseAddress!, "/") };
        using GrpcChannel grpc = SidecarGrpcEncoderClient.CreateChannel(new Uri($"http://127.0.0.1:{sidecar.GrpcPort}"));
        var viaHttp = new SidecarEncoderClient(http, "doc", "sdk-test-key-0123456789");
        var viaGrpc = new SidecarGrpcEncoderClient(grpc, "doc", "sdk-test-key-0123456789");
        string[] texts = ["hello world", "", "the weather in ny"];

        IReadOnlyList<IReadOnlyDictionary<string, float>> expected = await viaHttp.EncodeDocumentsAsync(texts, CancellationToken.None);
        IReadOnlyList<IReadOnlyDictionary<string, float>> actual = await viaGrpc.EncodeDocumentsAsync(texts, CancellationToken.None);

        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < texts.Length; i++)
        {
            Assert.Equal(expected[i], actual[i]);
        }

        Assert.Equal(await viaHttp.EncodeQueryAsync("what's the weather in ny now?", CancellationToken.None),
            await viaGrpc.EncodeQueryAsync("what's the weather in ny now?", CancellationToken.None));
        var error = await Assert.ThrowsAsync<HttpRequestException>(() => new SidecarGrpcEncoderClient(grpc, "nope", "sdk-test-key-0123456789").EncodeDocumentsAsync(["a"], CancellationToken.None));
        Assert.Contains("status 5 (NotFound)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SidecarGrpcEncoderClient_RetriesOverload_UntilEveryCallSucceeds()
    {
        // Room for one call at a time: the others are refused with RESOURCE_EXHAUSTED and a retry hint, and the channel's
        // retry policy brings each of them through within its five attempts.
        await using SidecarProcess sidecar = await SidecarProcess.StartAsync(models.Args(
            "--NeuralSparse:Batching:QueueCapacity=2", "--NeuralSparse:Limits:MaxTextsPerRequest=2", "--NeuralSparse:Batching:MaxWaitMilliseconds=50"));
        using GrpcChannel channel = SidecarGrpcEncoderClient.CreateChannel(new Uri($"http://127.0.0.1:{sidecar.GrpcPort}"));
        var client = new SidecarGrpcEncoderClient(channel, "bi");

        IReadOnlyList<IReadOnlyDictionary<string, float>>[] results = await Task.WhenAll(Enumerable.Range(0, 4).Select(i =>
            client.EncodeDocumentsAsync([$"hello {i}", "world"], CancellationToken.None)));

        Assert.All(results, r => Assert.Equal(2, r.Count));
    }

    [Fact]
    public async Task SidecarGrpcEncoderClient_CallerCancels_IsOperationCanceled()
    {
        // A short batching wait keeps the warm-up before readiness short; the call is cancelled inside that wait.
        await using SidecarProcess sidecar = await SidecarProcess.StartAsync(models.Args("--NeuralSparse:Batching:MaxWaitMilliseconds=300"));
        using GrpcChannel channel = SidecarGrpcEncoderClient.CreateChannel(new Uri($"http://127.0.0.1:{sidecar.GrpcPort}"));
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            new SidecarGrpcEncoderClient(channel, "bi").EncodeDocumentsAsync(["hello"], cancellation.Token));
    }

    [Fact]
    public async Task Transport_TrustsACustomCertificateAuthority_AndOnlyThat()
    {
        // A CA, and a server certificate for 127.0.0.1 signed by it; the sidecar serves HTTPS with the latter.
        string pfx = Path.Combine(models.Root, "server.pfx");
        string caPem = Path.Combine(models.Root, "ca.pem");
        using (RSA caKey = RSA.Create(2048))
        using (RSA serverKey = RSA.Create(2048))
        {
            var caRequest = new CertificateRequest("CN=Test CA", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
            using X509Certificate2 ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(2));

            var serverRequest = new CertificateRequest("CN=127.0.0.1", serverKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            serverRequest.CertificateExtensions.Add(names.Build());
            serverRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
            using X509Certificate2 signed = serverRequest.Create(ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1), [1, 2, 3, 4]);
            using X509Certificate2 server = signed.CopyWithPrivateKey(serverKey);
            await File.WriteAllBytesAsync(pfx, server.Export(X509ContentType.Pfx, "pw"));
            await File.WriteAllTextAsync(caPem, ca.ExportCertificatePem());
        }

        await using SidecarProcess sidecar = await SidecarProcess.StartAsync(
            models.Args($"--NeuralSparse:Listen:CertificatePath={pfx}", "--NeuralSparse:Listen:CertificatePassword=pw"), waitUntilReady: false);
        Uri node = new($"https://127.0.0.1:{sidecar.HttpPort}");
        using var trusting = new HttpOpenSearchTransport(new OpenSearchClientOptions { Nodes = [node], CertificateAuthorityPath = caPem, MaxRetries = 0 });
        using var untrusting = new HttpOpenSearchTransport(new OpenSearchClientOptions { Nodes = [node], MaxRetries = 0 });

        OpenSearchResponse? ready = null;
        for (int attempt = 0; attempt < 600 && ready?.Status != 200; attempt++)
        {
            try
            {
                ready = await trusting.SendAsync(new OpenSearchRequest(HttpMethod.Get, "/health/ready"), CancellationToken.None);
            }
            catch (OpenSearchException) when (!sidecar.HasExited)
            {
                await Task.Delay(100); // not listening yet
            }
        }

        Assert.Equal(200, ready?.Status);
        var refused = await Assert.ThrowsAsync<OpenSearchException>(() => untrusting.SendAsync(new OpenSearchRequest(HttpMethod.Get, "/health/ready"), CancellationToken.None));
        Assert.Null(refused.Status); // the TLS handshake failed: the system store does not know the test CA
    }
}
