using System.Net;
using System.Net.Http.Headers;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using NeuralSparse.Core.Models;
using NeuralSparse.Onnx.Synthetic;

namespace NeuralSparse.Sidecar.Tests;

/// <summary>The real service pipeline in memory (ASP.NET TestHost), serving lookup-table models from a temp folder.</summary>
internal sealed class SidecarTestHost : IAsyncDisposable
{
    public const string ApiKey = "test-key-0123456789abcdef";

    private readonly string _root;
    private readonly WebApplication _app;

    private SidecarTestHost(string root, WebApplication app)
    {
        _root = root;
        _app = app;
        Client = app.GetTestClient();
        Channel = CreateChannel();
    }

    public HttpClient Client { get; }

    /// <summary>A Grpc.Net.Client channel to the in-memory server.</summary>
    public GrpcChannel Channel { get; }

    public GrpcChannel CreateChannel(GrpcChannelOptions? options = null)
    {
        options ??= new GrpcChannelOptions();
        options.HttpHandler = _app.GetTestServer().CreateHandler();
        return GrpcChannel.ForAddress(Client.BaseAddress!, options);
    }

    public IServiceProvider Services => _app.Services;

    /// <summary>Starts a host serving a bi-encoder "bi" (default) and a doc-only "doc", with extra settings.</summary>
    public static async Task<SidecarTestHost> StartAsync(params string[] settings)
    {
        string root = Path.Combine(Path.GetTempPath(), "sidecar-tests-" + Guid.NewGuid().ToString("N"));
        string bi = LookupTableModel.CreateDirectory(Path.Combine(root, "bi"), SparseModelMode.BiEncoder);
        string doc = LookupTableModel.CreateDirectory(Path.Combine(root, "doc"), SparseModelMode.DocOnly);
        string[] args =
        [
            $"--NeuralSparse:Models:0:Directory={bi}", "--NeuralSparse:Models:0:IntraOpThreads=1",
            $"--NeuralSparse:Models:1:Directory={doc}", "--NeuralSparse:Models:1:IntraOpThreads=1",
            "--Logging:LogLevel:Default=Warning",

            // Many hosts start in one test process, whose JIT never goes quiet: the full warm-up has its own tests.
            "--NeuralSparse:WarmUp:MaxSeconds=0",
            .. settings,
        ];
        WebApplication app = SidecarApp.Build(args, builder => builder.WebHost.UseTestServer());
        await app.StartAsync();
        var host = new SidecarTestHost(root, app);
        for (int attempt = 0; attempt < 300; attempt++)
        {
            if ((await host.Client.GetAsync(new Uri("/health/ready", UriKind.Relative))).StatusCode == HttpStatusCode.OK)
            {
                return host;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException("The test host did not become ready.");
    }

    public Task<HttpResponseMessage> PostJsonAsync(string path, string json, string contentType = "application/json", string? apiKey = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative))
        {
            Content = new StringContent(json, System.Text.Encoding.UTF8),
        };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        if (apiKey is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }

        return Client.SendAsync(request);
    }

    /// <summary>Stops the server as SIGTERM would (readiness drops, in-flight work finishes).</summary>
    public Task StopAsync() => _app.StopAsync();

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }
}
