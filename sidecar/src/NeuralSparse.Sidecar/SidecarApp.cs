using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Options;
using Grpc.AspNetCore.Server;
using NeuralSparse.Sidecar.Configuration;
using NeuralSparse.Sidecar.Grpc;
using NeuralSparse.Sidecar.Hosting;
using NeuralSparse.Sidecar.Http;
using NeuralSparse.Sidecar.Metrics;

namespace NeuralSparse.Sidecar;

/// <summary>Composition root of the service.</summary>
internal static class SidecarApp
{
    /// <summary>Environment variable with comma-separated API keys (the chart's Secret).</summary>
    public const string ApiKeysVariable = "NEURAL_SPARSE_API_KEYS";

    /// <summary>Short command-line switches for the common settings.</summary>
    private static readonly Dictionary<string, string> SwitchMappings = new(StringComparer.Ordinal)
    {
        ["--model-dir"] = "NeuralSparse:Models:0:Directory",
        ["--device"] = "NeuralSparse:Models:0:Device",
        ["--threads"] = "NeuralSparse:Models:0:IntraOpThreads",
        ["--max-length"] = "NeuralSparse:Models:0:MaxLength",
        ["--cache-dir"] = "NeuralSparse:GraphCacheDirectory",
        ["--address"] = "NeuralSparse:Listen:Address",
        ["--http-port"] = "NeuralSparse:Listen:HttpPort",
        ["--grpc-port"] = "NeuralSparse:Listen:GrpcPort",
    };

    public static async Task<int> RunAsync(string[] args)
    {
        WebApplication app;
        try
        {
            app = Build(args);
        }
        catch (FormatException ex)
        {
            await Console.Error.WriteLineAsync($"Configuration error: {ex.Message}");
            return 2;
        }

        try
        {
            // Validate before the host starts, so a wrong setting is one clear message rather than a hosting stack trace.
            _ = app.Services.GetRequiredService<IOptions<SidecarOptions>>().Value;
            await app.RunAsync();
            return Environment.ExitCode;
        }
        catch (OptionsValidationException ex)
        {
            await Console.Error.WriteLineAsync("Configuration error; the service did not start:\n  " + string.Join("\n  ", ex.Failures));
            return 2;
        }
        catch (IOException ex) when (ex.InnerException is System.Net.Sockets.SocketException || ex.Message.Contains("bind", StringComparison.OrdinalIgnoreCase))
        {
            await Console.Error.WriteLineAsync($"Cannot listen: {ex.Message} Choose free ports with --http-port/--grpc-port (NeuralSparse:Listen).");
            return 2;
        }
    }

    /// <summary>Builds the application; <paramref name="configure"/> lets tests swap the server (TestHost).</summary>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args });
        builder.Configuration.AddCommandLine(args, SwitchMappings);

        // Kubernetes hands a Secret to one variable: NEURAL_SPARSE_API_KEYS="key1,key2" adds to NeuralSparse:Auth:ApiKeys.
        if (builder.Configuration[ApiKeysVariable] is { Length: > 0 } keys)
        {
            int existing = builder.Configuration.GetSection("NeuralSparse:Auth:ApiKeys").GetChildren().Count();
            builder.Configuration.AddInMemoryCollection(keys.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select((key, i) => KeyValuePair.Create<string, string?>($"NeuralSparse:Auth:ApiKeys:{existing + i}", key)));
        }
        IConfigurationSection section = builder.Configuration.GetSection(SidecarOptions.SectionName);
        SidecarOptions settings = section.Get<SidecarOptions>() ?? new SidecarOptions();

        builder.Services.AddOptions<SidecarOptions>().Bind(section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<SidecarOptions>, SidecarOptionsValidator>();
        builder.Services.AddSingleton<SidecarMetrics>();
        SidecarTelemetry.Add(builder.Services, builder.Configuration);
        builder.Services.AddSingleton<ApiKeyValidator>();
        builder.Services.AddSingleton<ClientCertificateValidator>();
        builder.Services.AddSingleton<ModelHost>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ModelHost>());
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(Math.Max(0, settings.Limits.ShutdownTimeoutSeconds)));
        AddGrpc(builder.Services, settings);

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = settings.Limits.MaxRequestBytes;
            IPAddress address = IPAddress.TryParse(settings.Listen.Address, out IPAddress? parsed) ? parsed : IPAddress.Loopback;
            Action<HttpsConnectionAdapterOptions>? https = settings.Listen.CertificatePath is null ? null : ClientCertificateHosting.Https(settings.Listen);
            kestrel.Listen(address, settings.Listen.HttpPort, listen =>
            {
                // Cleartext HTTP/2 needs prior knowledge, which REST clients do not use: HTTP/1.1 unless TLS negotiates h2.
                listen.Protocols = https is null ? HttpProtocols.Http1 : HttpProtocols.Http1AndHttp2;
                if (https is not null)
                {
                    listen.UseHttps(https);
                }
            });
            kestrel.Listen(address, settings.Listen.GrpcPort, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                if (https is not null)
                {
                    listen.UseHttps(https);
                }
            });
        });

        configure?.Invoke(builder);
        WebApplication app = builder.Build();

        app.UseMiddleware<RequestPipelineMiddleware>();
        HttpApi.Map(app);
        SidecarTelemetry.MapScrapeEndpoint(app);
        app.MapGrpcService<SparseEncoderService>();
        app.MapGrpcService<SidecarHealthService>();
        app.MapGrpcReflectionService();

        app.Lifetime.ApplicationStarted.Register(() =>
        {
            string scheme = settings.Listen.CertificatePath is null ? "http" : "https";
            string host = settings.Listen.Address is "0.0.0.0" ? "127.0.0.1" : settings.Listen.Address;
            SidecarLog.Listening(app.Logger, $"{scheme}://{host}:{settings.Listen.HttpPort}", $"{scheme}://{host}:{settings.Listen.GrpcPort}");
        });
        return app;
    }

    private static void AddGrpc(IServiceCollection services, SidecarOptions settings)
    {
        services.AddGrpc(grpc =>
        {
            // A message over the request limit is refused with RESOURCE_EXHAUSTED before it is read (after inflating, if gzip).
            grpc.MaxReceiveMessageSize = (int)Math.Min(int.MaxValue, settings.Limits.MaxRequestBytes);
            grpc.Interceptors.Add<SidecarGrpcInterceptor>();
        });
        services.AddGrpcReflection();
        services.AddHealthChecks().AddCheck<ModelReadinessCheck>(ModelReadinessCheck.Name);
    }
}
