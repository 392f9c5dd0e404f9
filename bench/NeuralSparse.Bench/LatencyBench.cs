using System.Diagnostics;
using System.Globalization;
using Grpc.Net.Client;
using NeuralSparse.Core.Inference;
using NeuralSparse.Core.Models;
using NeuralSparse.Core.Tokenization;
using NeuralSparse.Onnx;
using NeuralSparse.Sidecar.IntegrationTests;
using WireEncodeKind = NeuralSparse.Grpc.V1.EncodeKind;
using WireSparseEncoder = NeuralSparse.Grpc.V1.SparseEncoder;

namespace NeuralSparse.Bench;

/// <summary>
/// Part <c>latency</c>: one client sending one short query at a time, against the in-process encoder; start-up time;
/// the first 20 requests after ready against the steady p50; throughput at 8 and 64 concurrent clients. Each variant
/// is a fresh sidecar process: the service as it was before issue 11 (a 2 ms batching wait, one warm-up run, fused
/// head), as it is now, and now with .NET's tiered PGO or tiered compilation switched off (runtime settings given as
/// DOTNET_* environment variables, which override the app's runtimeconfig).
/// </summary>
internal static class LatencyBench
{
    private const int FirstRequests = 20;

    /// <summary>Steady samples are taken this many at a time per path, the paths in turn.</summary>
    private const int InterleavedBlock = 25;

    private static readonly TimeSpan BlockPause = TimeSpan.FromMilliseconds(50);

    private static readonly (string Name, string[] Args, Dictionary<string, string> Environment)[] Variants =
    [
        ("before (2 ms wait, 1 warm-up run, fused head)", ["--NeuralSparse:Batching:MaxWaitMilliseconds=2", "--NeuralSparse:WarmUp:MaxSeconds=0", "--NeuralSparse:Models:0:Head=fused"], []),
        ("now (defaults)", [], []),
        ("now, TieredPGO off", [], new() { ["DOTNET_TieredPGO"] = "0" }),
        ("now, tiered compilation off", [], new() { ["DOTNET_TieredCompilation"] = "0" }),
    ];

    public static async Task RunAsync(BenchSettings settings, WordPieceTokenizer tokenizer, Action<string> line)
    {
        (_, SparseModelDefinition model) = BenchModels.Load(settings, settings.QueryModel);
        string[] queries = Corpus.TextsOfExactTokens(tokenizer, 256, 8, seed: 78);
        int n = settings.Requests;

        // In-process: the encoder on the same model and threads, one query at a time, after its own warm-up. It stays
        // loaded: its steady samples are taken in blocks interleaved with the service's (below), so that both see the
        // same minutes of this shared machine and drift between minutes does not enter the ratio.
        using var encoder = new SparseEncoder(model, SparseModelBackends.Create(model, new OnnxBackendOptions { IntraOpThreads = settings.Threads, AllowSpinning = settings.Spinning, GraphCacheDirectory = settings.GraphCache }));
        for (int i = 0; i < Math.Max(300, n); i++)
        {
            encoder.EncodeQueries([queries[i % queries.Length]]);
        }

        int next = 0;
        Task<bool> InProcess()
        {
            encoder.EncodeQueries([queries[next++ % queries.Length]]);
            return Task.FromResult(true);
        }

        line(string.Create(CultureInfo.InvariantCulture,
            $"Single 8-token queries to {settings.QueryModel}, {settings.Threads} threads; {n} steady queries per path, in blocks of {InterleavedBlock} taken in turn: in process, HTTP, gRPC."));
        line(string.Empty);
        line("| variant | start-up to ready s | first 20 after ready: p50 / max ms | first 20 ÷ steady HTTP p50: p50 / max | in-process p50 / p99 ms | HTTP p50 / p99 ms | in-process ÷ HTTP p50 / p99 | gRPC p50 / p99 ms | in-process ÷ gRPC p50 / p99 | HTTP q/s at 8 / 64 clients | gRPC q/s at 8 / 64 | peak RSS MiB |");
        line("|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach ((string name, string[] args, Dictionary<string, string> environment) in Variants)
        {
            var clock = Stopwatch.StartNew();
            await using SidecarProcess sidecar = await SidecarProcess.StartAsync(
            [
                $"--NeuralSparse:Models:0:Directory={model.Directory}", $"--NeuralSparse:Models:0:Name={settings.QueryModel}",
                $"--NeuralSparse:Models:0:IntraOpThreads={settings.Threads}", $"--NeuralSparse:Models:0:AllowSpinning={settings.Spinning}",
                "--NeuralSparse:Batching:QueueCapacity=8192", "--NeuralSparse:Limits:RequestTimeoutSeconds=600", "--Logging:LogLevel:Default=Warning",
                $"--NeuralSparse:GraphCacheDirectory={settings.GraphCache}",
                .. args,
            ], environment: environment);
            double startup = clock.Elapsed.TotalSeconds;
            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256 }) { BaseAddress = new Uri($"http://127.0.0.1:{sidecar.HttpPort}") };
            using GrpcChannel channel = ServiceLoad.GrpcChannelTo(sidecar);
            var grpc = new WireSparseEncoder.SparseEncoderClient(channel);
            int q = 0;
            Task<bool> Http() => ServiceLoad.PostJsonAsync(http, $"/v1/models/{settings.QueryModel}/queries", [queries[Interlocked.Increment(ref q) % queries.Length]]);
            Task<bool> Grpc() => ServiceLoad.GrpcEncodeAsync(grpc, settings.QueryModel, WireEncodeKind.Query, [queries[Interlocked.Increment(ref q) % queries.Length]]);

            // The first requests a client sends once the service says it is ready (the connection is new too).
            double[] first = await SequentialAsync(Http, FirstRequests);
            await SequentialAsync(Http, 50);
            await SequentialAsync(Grpc, 50);
            List<double> steadyIn = [], steadyHttpList = [], steadyGrpcList = [];
            for (int done = 0; done < n; done += InterleavedBlock)
            {
                int count = Math.Min(InterleavedBlock, n - done);
                // A pause before each block: ONNX Runtime's threads spin for a while after a run, in either process,
                // and would slow the other path's first query.
                await Task.Delay(BlockPause);
                steadyIn.AddRange(await SequentialAsync(InProcess, count));
                await Task.Delay(BlockPause);
                steadyHttpList.AddRange(await SequentialAsync(Http, count));
                await Task.Delay(BlockPause);
                steadyGrpcList.AddRange(await SequentialAsync(Grpc, count));
            }

            double[] inProcess = [.. steadyIn.Order()], steadyHttp = [.. steadyHttpList.Order()], steadyGrpc = [.. steadyGrpcList.Order()];
            double inP50 = ServiceLoad.Percentile(inProcess, 0.5);
            double inP99 = ServiceLoad.Percentile(inProcess, 0.99);
            double httpP50 = ServiceLoad.Percentile(steadyHttp, 0.5);
            double grpcP50 = ServiceLoad.Percentile(steadyGrpc, 0.5);
            double firstP50 = ServiceLoad.Percentile(first, 0.5);

            double[] rates = new double[4];
            int column = 0;
            foreach (Func<Task<bool>> send in new Func<Task<bool>>[] { Http, Grpc })
            {
                foreach (int concurrency in new[] { 8, 64 })
                {
                    int requests = Math.Max(n, concurrency * 20);
                    ServiceLoad.Result result = await ServiceLoad.DriveAsync(concurrency, requests, send);
                    rates[column++] = requests / result.Seconds;
                }
            }

            line(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {startup:F1} | {firstP50:F1} / {first[^1]:F1} | {firstP50 / httpP50:F2} / {first[^1] / httpP50:F2} | {inP50:F1} / {inP99:F1} | {httpP50:F1} / {ServiceLoad.Percentile(steadyHttp, 0.99):F1} | {inP50 / httpP50:F2} / {inP99 / ServiceLoad.Percentile(steadyHttp, 0.99):F2} | {grpcP50:F1} / {ServiceLoad.Percentile(steadyGrpc, 0.99):F1} | {inP50 / grpcP50:F2} / {inP99 / ServiceLoad.Percentile(steadyGrpc, 0.99):F2} | {rates[0]:F1} / {rates[1]:F1} | {rates[2]:F1} / {rates[3]:F1} | {sidecar.PeakResidentMegabytes} |"));
            await sidecar.TerminateAsync(TimeSpan.FromMinutes(1));
        }

        line(string.Empty);
        line("Goals (issue 11): in-process ÷ service ≥ 0.95 at p50 and p99 over both protocols; the first 20 requests after ready within 1.25× the steady p50; throughput at 8 and 64 clients at least the \"before\" row's.");
    }

    private static async Task<double[]> SequentialAsync(Func<Task<bool>> send, int count)
    {
        double[] latencies = new double[count];
        for (int i = 0; i < count; i++)
        {
            long start = Stopwatch.GetTimestamp();
            await send();
            latencies[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        Array.Sort(latencies);
        return latencies;
    }

    private static double Time(Action action)
    {
        long start = Stopwatch.GetTimestamp();
        action();
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }
}
