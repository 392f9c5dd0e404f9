using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using NeuralSparse.Core.Errors;
using NeuralSparse.Core.Inference;
using NeuralSparse.Sidecar.Grpc;
using NeuralSparse.Grpc.V1;
using NeuralSparse.Sidecar.Configuration;
using CoreEncodeKind = NeuralSparse.Core.Inference.EncodeKind;
using WireEncodeKind = NeuralSparse.Grpc.V1.EncodeKind;

namespace NeuralSparse.Sidecar.Hosting;

/// <summary>
/// Warms the service before it reports ready, within <see cref="WarmUpOptions.MaxSeconds"/>:
/// <list type="number">
/// <item>model runs at each batch-size step (1, 2, 4, … up to the batch limit, at the token budget's length), so ONNX
/// Runtime's memory arena has grown to its steady size and the first large request pays no page faults; at most
/// half the budget, and a step predicted to overrun it is skipped;</item>
/// <item>rounds of short requests through the real transports (HTTP and gRPC on the service's own loopback ports; in
/// process where no socket server runs), until a round compiles no new method: the request paths have been through
/// tiered compilation, so the JIT's background thread no longer competes with the first requests for the cores.</item>
/// </list>
/// Warm-up requests are counted in the request metrics like any other.
/// </summary>
internal sealed class ServiceWarmUp(SidecarOptions options, IServer? server, ILogger logger)
{
    /// <summary>Requests per path and model in one round: two rounds pass tiered compilation's 30-call threshold.</summary>
    private const int RequestsPerRound = 16;

    /// <summary>At most this many rounds (256 requests per path): the issue saw tier-up work over the first ~150.</summary>
    private const int MaxRounds = 16;

    /// <summary>Time for the JIT's background thread to finish what a round queued before counting compiled methods.</summary>
    private static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(150);

    public async Task RunAsync(IReadOnlyList<EncodeScheduler> schedulers, Task serverStarted, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        foreach (EncodeScheduler scheduler in schedulers)
        {
            await scheduler.EncodeAsync(["warm up"], CoreEncodeKind.Document, cancellationToken: cancellationToken);
        }

        TimeSpan budget = TimeSpan.FromSeconds(options.WarmUp.MaxSeconds);
        if (budget <= TimeSpan.Zero)
        {
            return;
        }

        int largestBatch = 0;
        int tokens = 0;
        try
        {
            (largestBatch, tokens) = await RunBatchStepsAsync(schedulers, clock, budget / 2, cancellationToken);
        }
        catch (NeuralSparseException ex) when (ex.Kind == NeuralSparseErrorKind.Overloaded)
        {
            // Real traffic arrived first (the service answers while it warms up): it warms the service too.
            SidecarLog.TransportWarmUpSkipped(logger, "batch sizes", ex.Message);
        }

        using TransportClients? transports = await TransportClients.TryCreateAsync(options, server, serverStarted, budget - clock.Elapsed, logger);
        int rounds = 0;
        int quietRounds = 0;
        long compiled = JitInfo.GetCompiledMethodCount();
        while (quietRounds < 2 && rounds < MaxRounds && clock.Elapsed < budget)
        {
            foreach (EncodeScheduler scheduler in schedulers)
            {
                for (int i = 0; i < RequestsPerRound; i++)
                {
                    await (transports?.SendAsync(scheduler.Encoder.Model.Name, cancellationToken) ?? SendInProcessAsync(scheduler, cancellationToken));
                }
            }

            await Task.Delay(Settle, cancellationToken);
            long now = JitInfo.GetCompiledMethodCount();
            quietRounds = now == compiled ? quietRounds + 1 : 0;
            compiled = now;
            rounds++;
        }

        SidecarLog.WarmedUp(logger, clock.Elapsed.TotalSeconds, largestBatch, tokens, rounds,
            transports is null ? "in process" : "HTTP and gRPC", quietRounds >= 2 ? "quiet" : "still compiling when the warm-up stopped", compiled);
    }

    private static async Task SendInProcessAsync(EncodeScheduler scheduler, CancellationToken cancellationToken)
    {
        try
        {
            await scheduler.EncodeAsync(["warm up"], CoreEncodeKind.Query, cancellationToken: cancellationToken);
            await scheduler.EncodeAsync(["warm up the service"], CoreEncodeKind.Document, cancellationToken: cancellationToken);
        }
        catch (NeuralSparseException ex) when (ex.Kind == NeuralSparseErrorKind.Overloaded)
        {
            // Busy with real requests, which warm the same paths.
        }
    }

    /// <summary>Runs 1, 2, 4, … texts up to the batch limit; each step is predicted to take twice the previous one.</summary>
    private async Task<(int LargestBatch, int Tokens)> RunBatchStepsAsync(
        IReadOnlyList<EncodeScheduler> schedulers, Stopwatch clock, TimeSpan budget, CancellationToken cancellationToken)
    {
        int maxRows = Math.Min(options.Batching.MaxBatchSize, options.Batching.QueueCapacity);
        int largest = 0;
        int tokens = 0;
        foreach (EncodeScheduler scheduler in schedulers)
        {
            // The length at which a full batch fills the token budget, within what the model accepts.
            tokens = Math.Clamp(options.Batching.MaxBatchTokens / maxRows, 3, scheduler.Encoder.Model.MaxLength);
            string text = string.Join(' ', Enumerable.Repeat("a", tokens - 2));
            TimeSpan previous = TimeSpan.Zero;
            for (int rows = 1; ; rows = Math.Min(rows * 2, maxRows))
            {
                if (clock.Elapsed + (previous * 2) > budget)
                {
                    break;
                }

                long start = Stopwatch.GetTimestamp();
                await scheduler.EncodeAsync([.. Enumerable.Repeat(text, rows)], CoreEncodeKind.Document, cancellationToken: cancellationToken);
                previous = Stopwatch.GetElapsedTime(start);
                largest = Math.Max(largest, rows);
                if (rows == maxRows)
                {
                    break;
                }
            }
        }

        return (largest, tokens);
    }

    /// <summary>Clients for the service's own HTTP and gRPC ports, as a user would call them.</summary>
    private sealed class TransportClients(HttpClient http, GrpcChannel grpcChannel, string? apiKey) : IDisposable
    {
        public static async Task<TransportClients?> TryCreateAsync(
            SidecarOptions options, IServer? server, Task serverStarted, TimeSpan wait, ILogger logger)
        {
            if (server?.Features.Get<IServerAddressesFeature>() is not { } feature)
            {
                SidecarLog.TransportWarmUpSkipped(logger, "HTTP and gRPC", "no socket server (in-memory test host)");
                return null;
            }

            if (wait <= TimeSpan.Zero || await Task.WhenAny(serverStarted, Task.Delay(wait)) != serverStarted)
            {
                SidecarLog.TransportWarmUpSkipped(logger, "HTTP and gRPC", "the server did not start within the warm-up time");
                return null;
            }

            // Only the ports this service bound: never send warm-up requests to anything else.
            int[] ports = [.. feature.Addresses.Select(a => Uri.TryCreate(a, UriKind.Absolute, out Uri? uri) ? uri.Port : -1)];
            if (!ports.Contains(options.Listen.HttpPort) || !ports.Contains(options.Listen.GrpcPort))
            {
                SidecarLog.TransportWarmUpSkipped(logger, "HTTP and gRPC", $"the bound addresses ({string.Join(", ", feature.Addresses)}) are not the configured ports");
                return null;
            }

            if (options.Listen.ClientCertificates.TrustedCaPath is not null)
            {
                SidecarLog.TransportWarmUpSkipped(logger, "HTTP and gRPC", "mutual TLS is on and the service holds no client certificate of its own");
                return null;
            }

            string scheme = options.Listen.CertificatePath is null ? "http" : "https";
            IPAddress address = IPAddress.Parse(options.Listen.Address);
            string host = address.Equals(IPAddress.Any) ? "127.0.0.1" : address.Equals(IPAddress.IPv6Any) ? "[::1]" : new UriBuilder { Host = address.ToString() }.Host;
            string? thumbprint = OwnCertificateThumbprint(options.Listen);
            return new TransportClients(
                new HttpClient(Handler(thumbprint)) { BaseAddress = new Uri($"{scheme}://{host}:{options.Listen.HttpPort}") },
                GrpcChannel.ForAddress($"{scheme}://{host}:{options.Listen.GrpcPort}", new GrpcChannelOptions { HttpHandler = Handler(thumbprint) }),
                options.Auth.ApiKeys.FirstOrDefault());
        }

        public async Task SendAsync(string model, CancellationToken cancellationToken)
        {
            foreach (string route in new[] { "queries", "documents" })
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"/v1/models/{Uri.EscapeDataString(model)}/{route}", UriKind.Relative))
                {
                    Content = new StringContent("[\"warm up the service\"]", Encoding.UTF8, "application/json"),
                };
                await SendAsync(http, request, cancellationToken);
            }

            var grpc = new NeuralSparse.Grpc.V1.SparseEncoder.SparseEncoderClient(grpcChannel);
            Metadata? headers = apiKey is null ? null : new Metadata { { "authorization", $"Bearer {apiKey}" } };
            foreach (WireEncodeKind kind in new[] { WireEncodeKind.Query, WireEncodeKind.Document })
            {
                // As over HTTP: a failed warm-up call only means less warm-up.
                try
                {
                    await grpc.EncodeAsync(new EncodeRequest { Model = model, Kind = kind, Texts = { "warm up the service" } }, headers, cancellationToken: cancellationToken);
                }
                catch (RpcException)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                }
            }
        }

        public void Dispose()
        {
            http.Dispose();
            grpcChannel.Dispose();
        }

        private async Task SendAsync(HttpClient client, HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (apiKey is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
            }

            // A failed warm-up request only means less warm-up; the answer's content does not matter.
            try
            {
                using HttpResponseMessage response = await client.SendAsync(request, cancellationToken);
                await response.Content.ReadAsByteArrayAsync(cancellationToken);
            }
            catch (HttpRequestException)
            {
            }
        }

        private static string? OwnCertificateThumbprint(ListenOptions listen)
        {
            if (listen.CertificatePath is not { } path)
            {
                return null;
            }

            using X509Certificate2 own = ClientCertificateFiles.ServerCertificate(path, listen.CertificateKeyPath, listen.CertificatePassword).Current;
            return own.Thumbprint;
        }

        private static SocketsHttpHandler Handler(string? serverThumbprint)
        {
            var handler = new SocketsHttpHandler { UseProxy = false };
            if (serverThumbprint is not null)
            {
                // Trust exactly the service's own certificate, which a self-signed one would not otherwise pass.
                handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                    certificate is not null && string.Equals(certificate.GetCertHashString(), serverThumbprint, StringComparison.OrdinalIgnoreCase);
            }

            return handler;
        }
    }
}
