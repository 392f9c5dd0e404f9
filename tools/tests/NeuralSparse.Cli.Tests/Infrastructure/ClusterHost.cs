using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using NeuralSparse.Client.Tests.InMemory;

namespace NeuralSparse.Cli.Tests.Infrastructure;

/// <summary>The in-memory cluster served over HTTP on a free loopback port, so the CLI reaches it with --cluster like a real one.</summary>
internal sealed class ClusterHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ClusterHost(WebApplication app, InMemoryOpenSearch cluster)
    {
        _app = app;
        Cluster = cluster;
    }

    public InMemoryOpenSearch Cluster { get; }

    public string Url => _app.Urls.Single();

    public static async Task<ClusterHost> StartAsync(InMemoryOpenSearch cluster)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        WebApplication app = builder.Build();
        app.Run(async context =>
        {
            string body = await new StreamReader(context.Request.Body).ReadToEndAsync(context.RequestAborted);
            string path = context.Request.Path.Value + context.Request.QueryString.Value;
            await cluster.BeforeHandlingAsync(path, context.RequestAborted);
            (int status, System.Text.Json.Nodes.JsonNode? json) = cluster.Handle(context.Request.Method, path, body.Length == 0 ? null : body);
            context.Response.StatusCode = status;
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(json?.ToJsonString() ?? string.Empty, context.RequestAborted);
        });
        await app.StartAsync();
        return new ClusterHost(app, cluster);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
