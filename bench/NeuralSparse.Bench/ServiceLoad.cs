using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using NeuralSparse.Core.Inference;
using NeuralSparse.Core.Models;
using NeuralSparse.Core.Tokenization;
using EncodeRequest = NeuralSparse.Grpc.V1.EncodeRequest;
using EncodeResponse = NeuralSparse.Grpc.V1.EncodeResponse;
using EncodeKind = NeuralSparse.Grpc.V1.EncodeKind;
using GrpcSparseEncoder = NeuralSparse.Grpc.V1.SparseEncoder;
using NeuralSparse.Onnx;
using NeuralSparse.Sidecar.IntegrationTests;

namespace NeuralSparse.Bench;

/// <summary>
/// The service under load: the built sidecar as a separate process, driven over HTTP and gRPC at several
/// concurrencies, against the in-process encoder on the same model and threads. The load generator shares the
/// machine's cores with the service, which the numbers include.
/// </summary>
internal static class ServiceLoad
{
    private const int DocumentsPerRequest = 32;
    private const int DocumentTokens = 64;

    public static async Task RunAsync(BenchSettings settings, WordPieceTokenizer tokenizer,
        Func<string, (SparseModelPreset, SparseModelDefinition)> loadModel, Action<string> line)
    {
        (_, SparseModelDefinition queryModel) = loadModel("v2-distill");
        (_, SparseModelDefinition documentModel) = loadModel("doc-v2-mini");
        string[] documents = Corpus.TextsOfExactTokens(tokenizer, DocumentsPerRequest, DocumentTokens, seed: 77);
        string[] queries = Corpus.TextsOfExactTokens(tokenizer, 256, 8, seed: 78);

        // In-process baselines: the same encoders, threads and batching the service uses.
        double documentBaseline, queryBaseline;
        var options = new OnnxBackendOptions { IntraOpThreads = settings.Threads, AllowSpinning = settings.Spinning, GraphCacheDirectory = settings.GraphCache };
        using (var encoder = new SparseEncoder(documentModel, OnnxSparseModelBackend.Create(documentModel, options)))
        {
            documentBaseline = DocumentsPerRequest / Measure.MedianSeconds(() => encoder.EncodeDocuments(documents), settings.MinSeconds);
        }

        using (var encoder = new SparseEncoder(queryModel, OnnxSparseModelBackend.Create(queryModel, options)))
        {
            int next = 0;
            queryBaseline = 1 / Measure.MedianSeconds(() => encoder.EncodeQueries([queries[next++ % queries.Length]]), settings.MinSeconds);
        }

        await using SidecarProcess sidecar = await SidecarProcess.StartAsync(
        [
            $"--NeuralSparse:Models:0:Directory={queryModel.Directory}", "--NeuralSparse:Models:0:Name=v2-distill",
            $"--NeuralSparse:Models:0:IntraOpThreads={settings.Threads}",
            $"--NeuralSparse:Models:1:Directory={documentModel.Directory}", "--NeuralSparse:Models:1:Name=doc-v2-mini",
            $"--NeuralSparse:Models:1:IntraOpThreads={settings.Threads}",
            $"--NeuralSparse:Models:0:AllowSpinning={settings.Spinning}", $"--NeuralSparse:Models:1:AllowSpinning={settings.Spinning}",
            "--NeuralSparse:Batching:QueueCapacity=8192", "--NeuralSparse:Limits:MaxTextsPerRequest=64",
            "--NeuralSparse:Limits:RequestTimeoutSeconds=600", "--Logging:LogLevel:Default=Warning",
            $"--NeuralSparse:GraphCacheDirectory={settings.GraphCache}",
        ]);
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256 })
        {
            BaseAddress = new Uri($"http://127.0.0.1:{sidecar.HttpPort}"),
            Timeout = TimeSpan.FromMinutes(10),
        };
        using GrpcChannel channel = GrpcChannelTo(sidecar);
        var grpc = new GrpcSparseEncoder.SparseEncoderClient(channel);

        line("| workload | protocol | concurrency | requests | texts/s | p50 ms | p99 ms | service / in-process encoder |");
        line("|---|---|---|---|---|---|---|---|");
        foreach (int concurrency in new[] { 1, 8, 64 })
        {
            int queryRequests = Math.Max(100, concurrency * 20);
            int documentRequests = Math.Max(8, concurrency * 2);
            int q = 0;
            foreach (string protocol in new[] { "HTTP", "gRPC" })
            {
                Result shortQueries = await DriveAsync(concurrency, queryRequests, () => protocol == "HTTP"
                    ? PostJsonAsync(http, "/v1/models/v2-distill/queries", [queries[Interlocked.Increment(ref q) % queries.Length]])
                    : GrpcEncodeAsync(grpc, "v2-distill", EncodeKind.Query, [queries[Interlocked.Increment(ref q) % queries.Length]]));
                line(Row("short queries (v2-distill, 8 tokens)", protocol, concurrency, queryRequests, shortQueries, 1, queryBaseline));
            }

            foreach (string protocol in new[] { "HTTP", "gRPC" })
            {
                Result batches = await DriveAsync(concurrency, documentRequests, () => protocol == "HTTP"
                    ? PostJsonAsync(http, "/v1/models/doc-v2-mini/documents", documents)
                    : GrpcEncodeAsync(grpc, "doc-v2-mini", EncodeKind.Document, documents));
                line(Row($"{DocumentsPerRequest}-document batches (doc-v2-mini, {DocumentTokens} tokens)", protocol, concurrency, documentRequests, batches, DocumentsPerRequest, documentBaseline));
            }
        }

        line(string.Create(CultureInfo.InvariantCulture,
            $"In-process encoder: {queryBaseline:F1} queries/s one at a time; {documentBaseline:F1} docs/s in {DocumentsPerRequest}-document batches. ORT thread spinning: {(settings.Spinning ? "on" : "off")}."));
        line($"Sidecar peak resident memory over the whole run: {sidecar.PeakResidentMegabytes?.ToString(CultureInfo.InvariantCulture) ?? "unknown"} MiB.");
        await sidecar.TerminateAsync(TimeSpan.FromMinutes(1));
    }

    internal sealed record Result(double Seconds, double[] LatenciesMs, int Failures);

    private static string Row(string workload, string protocol, int concurrency, int requests, Result result, int textsPerRequest, double baseline)
    {
        double textsPerSecond = requests * textsPerRequest / result.Seconds;
        double[] sorted = [.. result.LatenciesMs.Order()];
        string failures = result.Failures == 0 ? string.Empty : $" ({result.Failures} failed)";
        return string.Create(CultureInfo.InvariantCulture,
            $"| {workload} | {protocol} | {concurrency} | {requests}{failures} | {textsPerSecond:F1} | {Percentile(sorted, 0.50):F0} | {Percentile(sorted, 0.99):F0} | {textsPerSecond / baseline:F2} |");
    }

    internal static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

    internal static async Task<Result> DriveAsync(int concurrency, int requests, Func<Task<bool>> send)
    {
        await send(); // warm the connection and the route
        var latencies = new double[requests];
        int next = -1;
        int failures = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            for (int i = Interlocked.Increment(ref next); i < requests; i = Interlocked.Increment(ref next))
            {
                long start = Stopwatch.GetTimestamp();
                if (!await send())
                {
                    Interlocked.Increment(ref failures);
                }

                latencies[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
        }));
        return new Result(clock.Elapsed.TotalSeconds, latencies, failures);
    }

    /// <param name="serverTiming">Given the service's own milliseconds from its Server-Timing header, when set.</param>
    internal static async Task<bool> PostJsonAsync(HttpClient client, string route, string[] texts, Action<double>? serverTiming = null)
    {
        using HttpResponseMessage response = await client.PostAsync(new Uri(route, UriKind.Relative),
            new StringContent(JsonSerializer.Serialize(texts), Encoding.UTF8, "application/json"));
        await response.Content.ReadAsByteArrayAsync();
        serverTiming?.Invoke(ServerMilliseconds(response.Headers.TryGetValues("Server-Timing", out IEnumerable<string>? values) ? values.FirstOrDefault() : null));
        return response.StatusCode == HttpStatusCode.OK;
    }

    /// <summary>
    /// A plain channel to the sidecar's gRPC port: several HTTP/2 connections under load, and no retry policy, so a
    /// rejected call counts as a failure in the results instead of being retried out of sight.
    /// </summary>
    internal static GrpcChannel GrpcChannelTo(SidecarProcess sidecar) =>
        GrpcChannel.ForAddress($"http://127.0.0.1:{sidecar.GrpcPort}", new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true },
        });

    /// <param name="serverTiming">Given the service's own milliseconds from its server-timing header, when set.</param>
    internal static async Task<bool> GrpcEncodeAsync(
        GrpcSparseEncoder.SparseEncoderClient client, string model, EncodeKind kind, string[] texts, Action<double>? serverTiming = null)
    {
        try
        {
            // The same 10-minute bound on a call as the HTTP client's timeout.
            using AsyncUnaryCall<EncodeResponse> call = client.EncodeAsync(
                new EncodeRequest { Model = model, Kind = kind, Texts = { texts } }, deadline: DateTime.UtcNow.AddMinutes(10));
            await call.ResponseAsync;
            serverTiming?.Invoke(ServerMilliseconds((await call.ResponseHeadersAsync).GetValue("server-timing")));
            return true;
        }
        catch (RpcException)
        {
            return false;
        }
    }

    /// <summary>The <c>app;dur=</c> milliseconds of a Server-Timing value; NaN where the service sent none.</summary>
    private static double ServerMilliseconds(string? serverTiming) =>
        serverTiming?.Split(";dur=") is [_, string duration] ? double.Parse(duration, CultureInfo.InvariantCulture) : double.NaN;
}
