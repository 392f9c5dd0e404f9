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
using WireTokenizeRequest = NeuralSparse.Grpc.V1.TokenizeRequest;

namespace NeuralSparse.Bench;

/// <summary>
/// Part <c>latency</c>: one client sending one short query at a time, against the in-process encoder; start-up time;
/// the first 20 requests after ready against the steady p50; throughput at 8 and 64 concurrent clients. Each variant
/// is a fresh sidecar process: the service as it was before issue 11 (a 2 ms batching wait, one warm-up run, fused
/// head), as it is now, and now with tiered compilation off (runtime settings given as DOTNET_* environment variables,
/// which override the app's runtimeconfig); more variants by key. Steady samples also read the service's
/// Server-Timing header, so the service's own share of each latency is printed beside the client's.
/// </summary>
internal static class LatencyBench
{
    private const int FirstRequests = 20;

    /// <summary>Steady samples are taken this many at a time per path, the paths in turn.</summary>
    private const int InterleavedBlock = 25;

    private static readonly TimeSpan BlockPause = TimeSpan.FromMilliseconds(50);

    private const int SettleRounds = 8;

    private static readonly (string Key, string Name, string[] Args, Dictionary<string, string> Environment)[] Variants =
    [
        ("before", "before (2 ms wait, 1 warm-up run, fused head, threads not pinned)", ["--NeuralSparse:Batching:MaxWaitMilliseconds=2", "--NeuralSparse:WarmUp:MaxSeconds=0", "--NeuralSparse:Models:0:Head=fused", "--NeuralSparse:Models:0:PinThreads=false"], []),
        ("now", "now (defaults)", [], []),
        ("tc-off", "now, tiered compilation off", [], new() { ["DOTNET_TieredCompilation"] = "0" }),
        ("stop-spinning", "now, ONNX Runtime's threads stopped when a run returns", ["--NeuralSparse:Models:0:SpinBetweenRuns=false"], []),
        // Any wait above zero turns the runs on the caller's thread off: every run goes through the worker, as before.
        ("worker", "now, every run handed to the worker (1 µs wait)", ["--NeuralSparse:Batching:MaxWaitMilliseconds=0.001"], []),
        ("pgo-off", "now, TieredPGO off", [], new() { ["DOTNET_TieredPGO"] = "0" }),
        // The warm-up's large batches leave ONNX Runtime's memory arena at its steady size for big runs.
        ("no-warm-up", "now, one warm-up run instead of the full warm-up", ["--NeuralSparse:WarmUp:MaxSeconds=0"], []),
        ("warm-up-8s", "now, the warm-up cut to 8 s", ["--NeuralSparse:WarmUp:MaxSeconds=8"], []),
        ("workstation-gc", "now, workstation GC (as the container image sets)", [], new() { ["DOTNET_gcServer"] = "0" }),
        // Threads left to the kernel: it can stack a run's two spinning threads on one core while the other idles.
        ("unpinned", "now, threads not pinned to cores", ["--NeuralSparse:Models:0:PinThreads=false"], []),
        // Idle .NET thread-pool threads spin before they sleep; on 2 cores a spinning thread competes with ONNX Runtime's.
        ("tp-spin-off", "now, thread-pool threads sleep without spinning", [], new() { ["DOTNET_ThreadPool_UnfairSemaphoreSpinLimit"] = "0" }),
        // Socket completions and Kestrel's request code on the socket thread: no thread-pool hop on the request path.
        ("inline-io", "now, socket completions run inline (no thread-pool hop)", [], new() { ["DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS"] = "1" }),
    ];

    private static readonly string[] DefaultVariants = ["before", "now", "tc-off"];

    public static async Task RunAsync(BenchSettings settings, WordPieceTokenizer tokenizer, Action<string> line)
    {
        (_, SparseModelDefinition model) = BenchModels.Load(settings, settings.QueryModel);
        string[] queries = Corpus.TextsOfExactTokens(tokenizer, 256, 8, seed: 78);
        int n = settings.Requests;

        // In-process: the encoder on the same model and threads, one query at a time, after its own warm-up. It stays
        // loaded: its steady samples are taken in blocks interleaved with the service's (below), so that both see the
        // same minutes of this shared machine and drift between minutes does not enter the ratio.
        using var encoder = new SparseEncoder(model, SparseModelBackends.Create(model, new OnnxBackendOptions { IntraOpThreads = settings.Threads, AllowSpinning = settings.Spinning, SpinBetweenRuns = settings.SpinBetweenRuns, PinThreads = settings.PinThreads, GraphCacheDirectory = settings.GraphCache }));
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

        // A diagnostic path's untimed step: the encoder idle for a moment before each query, as a network round trip
        // leaves the service's model. It tells the cost of that idleness from the service's own code.
        Task IdleGap()
        {
            Thread.Sleep(TimeSpan.FromMilliseconds(settings.PacedGapMilliseconds));
            return Task.CompletedTask;
        }

        await WarmClientAsync(queries);

        line(string.Create(CultureInfo.InvariantCulture,
            $"Single 8-token queries to {settings.QueryModel}, {settings.Threads} threads; {n} steady queries per path, in blocks of {InterleavedBlock} taken in turn: in process, HTTP, gRPC."));
        line(string.Empty);
        line("| variant | start-up to ready s | first 20 after ready: p50 / max ms | first 20 ÷ steady HTTP p50: p50 / max | steady 20-request windows: median max ÷ p50 / share within 1.25× | in-process p50 / p99 ms | HTTP p50 / p99 ms | in-process ÷ HTTP p50 / p99 | gRPC p50 / p99 ms | in-process ÷ gRPC p50 / p99 | service's own time (Server-Timing) HTTP, gRPC p50 / p99 ms | HTTP q/s at 8 / 64 clients | gRPC q/s at 8 / 64 | peak RSS MiB |");
        line("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        string[] keys = settings.LatencyVariants ?? DefaultVariants;
        if (keys.Except(Variants.Select(v => v.Key)).ToArray() is [_, ..] unknown)
        {
            throw new ArgumentException($"Unknown latency variant(s) {string.Join(", ", unknown)}; known: {string.Join(", ", Variants.Select(v => v.Key))}.");
        }

        foreach ((_, string name, string[] args, Dictionary<string, string> environment) in Variants.Where(v => keys.Contains(v.Key)))
        {
            var clock = Stopwatch.StartNew();
            await using SidecarProcess sidecar = await SidecarProcess.StartAsync(
            [
                $"--NeuralSparse:Models:0:Directory={model.Directory}", $"--NeuralSparse:Models:0:Name={settings.QueryModel}",
                $"--NeuralSparse:Models:0:IntraOpThreads={settings.Threads}", $"--NeuralSparse:Models:0:AllowSpinning={settings.Spinning}", $"--NeuralSparse:Models:0:SpinBetweenRuns={settings.SpinBetweenRuns}", $"--NeuralSparse:Models:0:PinThreads={settings.PinThreads}",
                "--NeuralSparse:Batching:QueueCapacity=8192", "--NeuralSparse:Limits:RequestTimeoutSeconds=600", "--Logging:LogLevel:Default=Warning",
                $"--NeuralSparse:GraphCacheDirectory={settings.GraphCache}",
                .. args,
            ], environment: environment);
            double startup = clock.Elapsed.TotalSeconds;
            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256 }) { BaseAddress = new Uri($"http://127.0.0.1:{sidecar.HttpPort}") };
            using GrpcChannel channel = ServiceLoad.GrpcChannelTo(sidecar);
            var grpc = new WireSparseEncoder.SparseEncoderClient(channel);
            int q = 0;
            string route = $"/v1/models/{settings.QueryModel}/queries";
            string[] NextQuery() => [queries[Interlocked.Increment(ref q) % queries.Length]];
            Task<bool> Http() => ServiceLoad.PostJsonAsync(http, route, NextQuery());
            Task<bool> Grpc() => ServiceLoad.GrpcEncodeAsync(grpc, settings.QueryModel, WireEncodeKind.Query, NextQuery());

            // Steady samples also read the service's Server-Timing header: its own share of each latency.
            List<double> serverHttp = [], serverGrpc = [];
            Func<Task<bool>> HttpTimedInto(List<double> serverTimes) => () => ServiceLoad.PostJsonAsync(http, route, NextQuery(), serverTimes.Add);
            Task<bool> GrpcTimed() => ServiceLoad.GrpcEncodeAsync(grpc, settings.QueryModel, WireEncodeKind.Query, NextQuery(), serverGrpc.Add);

            // The first requests a client sends once the service says it is ready (the connection is new too). Their
            // Server-Timing tells the service's share from the client's (this process's HTTP client is cold too).
            List<double> firstServer = [];
            TimeSpan clientCpu = Process.GetCurrentProcess().TotalProcessorTime;
            double[] first = await SequentialAsync(HttpTimedInto(firstServer), FirstRequests);
            TimeSpan firstClientCpu = Process.GetCurrentProcess().TotalProcessorTime - clientCpu;
            // Settle before the steady samples, all three paths in turn. The bench process's client code and the new
            // sidecar go on compiling (tiered JIT) for a while, on the same cores: with only 50 requests per protocol
            // here, a run's first row came out slower than its later rows, in process too.
            for (int round = 0; round < SettleRounds; round++)
            {
                await SequentialAsync(Http, InterleavedBlock);
                await SequentialAsync(Grpc, InterleavedBlock);
                await SequentialAsync(InProcess, InterleavedBlock);
            }
            // This process's CPU over 20 requests now, against the first 20: the client shares the cores with the service.
            await Task.Delay(BlockPause);
            clientCpu = Process.GetCurrentProcess().TotalProcessorTime;
            await SequentialAsync(Http, FirstRequests);
            TimeSpan settledClientCpu = Process.GetCurrentProcess().TotalProcessorTime - clientCpu;

            // A diagnostic path: tokenizing the same query over each protocol runs the whole request path but the model:
            // what being a network service costs a request here, client and loopback included.
            Task<bool> TokenizeHttp() => ServiceLoad.PostJsonAsync(http, $"/v1/tokenize?model={settings.QueryModel}", NextQuery());
            async Task<bool> TokenizeGrpc()
            {
                await grpc.TokenizeAsync(new WireTokenizeRequest { Model = settings.QueryModel, Texts = { NextQuery() } });
                return true;
            }

            List<double> steadyIn = [], steadyHttpList = [], steadyGrpcList = [], steadyPacedList = [], floorHttpList = [], floorGrpcList = [];
            List<double> afterRunHttpList = [], afterRunGrpcList = [];
            List<double> aloneHttpList = [], aloneServer = [], aloneGrpcList = [];
            for (int done = 0; done < n; done += InterleavedBlock)
            {
                int count = Math.Min(InterleavedBlock, n - done);
                // A pause before each block: ONNX Runtime's threads spin for a while after a run, in either process,
                // and would slow the other path's first query.
                await Task.Delay(BlockPause);
                steadyIn.AddRange(await SequentialAsync(InProcess, count));
                await Task.Delay(BlockPause);
                steadyHttpList.AddRange(await SequentialAsync(HttpTimedInto(serverHttp), count));
                await Task.Delay(BlockPause);
                steadyGrpcList.AddRange(await SequentialAsync(GrpcTimed, count));
                if (settings.ServiceAlone)
                {
                    // The same cycle with the in-process block replaced by an idle pause as long as it took, in turn
                    // with the cycle above so that both see the same minutes.
                    await Task.Delay(BlockPause + TimeSpan.FromMilliseconds(steadyIn.TakeLast(count).Sum()));
                    await Task.Delay(BlockPause);
                    aloneHttpList.AddRange(await SequentialAsync(HttpTimedInto(aloneServer), count));
                    await Task.Delay(BlockPause);
                    aloneGrpcList.AddRange(await SequentialAsync(Grpc, count));
                }

                if (settings.PacedGapMilliseconds > 0)
                {
                    await Task.Delay(BlockPause);
                    steadyPacedList.AddRange(await SequentialAsync(InProcess, count, untimedBefore: IdleGap));
                }

                if (settings.TransportFloor)
                {
                    await Task.Delay(BlockPause);
                    floorHttpList.AddRange(await SequentialAsync(TokenizeHttp, count));
                    floorGrpcList.AddRange(await SequentialAsync(TokenizeGrpc, count));
                    // The same, each request timed right after an untimed in-process model run: the run streams the
                    // model's weights through the caches, and the request path then runs cold, as after the service's run.
                    afterRunHttpList.AddRange(await SequentialAsync(TokenizeHttp, count, untimedBefore: InProcess));
                    afterRunGrpcList.AddRange(await SequentialAsync(TokenizeGrpc, count, untimedBefore: InProcess));
                }
            }

            double[] inProcess = [.. steadyIn.Order()], steadyHttp = [.. steadyHttpList.Order()], steadyGrpc = [.. steadyGrpcList.Order()];
            double inP50 = ServiceLoad.Percentile(inProcess, 0.5);
            double inP99 = ServiceLoad.Percentile(inProcess, 0.99);
            double httpP50 = ServiceLoad.Percentile(steadyHttp, 0.5);
            double grpcP50 = ServiceLoad.Percentile(steadyGrpc, 0.5);
            double firstP50 = ServiceLoad.Percentile([.. first.Order()], 0.5);

            // The same statistic over steady traffic: the slowest of each run of 20 consecutive HTTP requests. Where
            // steady windows rarely stay within 1.25× either, the first 20's slowest measures this machine's tail,
            // not a missing warm-up.
            double[] serverHttpSorted = [.. serverHttp.Order()], serverGrpcSorted = [.. serverGrpc.Order()];
            double[] steadyWindowMax = [.. steadyHttpList.Chunk(FirstRequests).Where(w => w.Length == FirstRequests).Select(w => w.Max() / httpP50).Order()];
            double windowMedian = ServiceLoad.Percentile(steadyWindowMax, 0.5);
            double windowsWithin = steadyWindowMax.Count(m => m <= 1.25) / (double)steadyWindowMax.Length;

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

            double serverHttpP50 = ServiceLoad.Percentile(serverHttpSorted, 0.5);
            line(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {startup:F1} | {firstP50:F1} / {first.Max():F1} | {firstP50 / httpP50:F2} / {first.Max() / httpP50:F2} | {windowMedian:F2} / {windowsWithin:P0} | {inP50:F1} / {inP99:F1} | {httpP50:F1} / {ServiceLoad.Percentile(steadyHttp, 0.99):F1} | {inP50 / httpP50:F2} / {inP99 / ServiceLoad.Percentile(steadyHttp, 0.99):F2} | {grpcP50:F1} / {ServiceLoad.Percentile(steadyGrpc, 0.99):F1} | {inP50 / grpcP50:F2} / {inP99 / ServiceLoad.Percentile(steadyGrpc, 0.99):F2} | {serverHttpP50:F1} / {ServiceLoad.Percentile(serverHttpSorted, 0.99):F1}, {ServiceLoad.Percentile(serverGrpcSorted, 0.5):F1} / {ServiceLoad.Percentile(serverGrpcSorted, 0.99):F1} | {rates[0]:F1} / {rates[1]:F1} | {rates[2]:F1} / {rates[3]:F1} | {sidecar.PeakResidentMegabytes} |"));
            line(string.Create(CultureInfo.InvariantCulture,
                $"| ↳ the first 20 in order, client ms (service's own ms): {string.Join(", ", first.Zip(firstServer, (c, s) => $"{c:F1} ({s:F1})"))}; service's own slowest ÷ its steady p50: {firstServer.Max() / serverHttpP50:F2}; this bench process's CPU over them {firstClientCpu.TotalMilliseconds:F0} ms, over 20 after settling {settledClientCpu.TotalMilliseconds:F0} ms | | | | | | | | | | | | | |"));
            if (steadyPacedList.Count > 0)
            {
                double[] paced = [.. steadyPacedList.Order()];
                double pacedP50 = ServiceLoad.Percentile(paced, 0.5), pacedP99 = ServiceLoad.Percentile(paced, 0.99);
                line(string.Create(CultureInfo.InvariantCulture,
                    $"| ↳ in process, {settings.PacedGapMilliseconds} ms idle before each query (diagnostic) | | | | | {pacedP50:F1} / {pacedP99:F1} (plain ÷ this: {inP50 / pacedP50:F2} / {inP99 / pacedP99:F2}) | | this ÷ HTTP: {pacedP50 / httpP50:F2} / {pacedP99 / ServiceLoad.Percentile(steadyHttp, 0.99):F2} | | this ÷ gRPC: {pacedP50 / grpcP50:F2} / {pacedP99 / ServiceLoad.Percentile(steadyGrpc, 0.99):F2} | | | | |"));
            }

            if (aloneHttpList.Count > 0)
            {
                double[] aloneHttp = [.. aloneHttpList.Order()], aloneGrpc = [.. aloneGrpcList.Order()], aloneOwn = [.. aloneServer.Order()];
                double aloneHttpP50 = ServiceLoad.Percentile(aloneHttp, 0.5), aloneHttpP99 = ServiceLoad.Percentile(aloneHttp, 0.99);
                double aloneGrpcP50 = ServiceLoad.Percentile(aloneGrpc, 0.5), aloneGrpcP99 = ServiceLoad.Percentile(aloneGrpc, 0.99);
                line(string.Create(CultureInfo.InvariantCulture,
                    $"| ↳ the service in alternate cycles with no in-process block, an idle pause instead (diagnostic) | | | | | | {aloneHttpP50:F1} / {aloneHttpP99:F1} | {inP50 / aloneHttpP50:F2} / {inP99 / aloneHttpP99:F2} | {aloneGrpcP50:F1} / {aloneGrpcP99:F1} | {inP50 / aloneGrpcP50:F2} / {inP99 / aloneGrpcP99:F2} | HTTP {ServiceLoad.Percentile(aloneOwn, 0.5):F1} / {ServiceLoad.Percentile(aloneOwn, 0.99):F1} | | | |"));
            }

            if (floorHttpList.Count > 0)
            {
                foreach ((string label, List<double> httpList, List<double> grpcList) in new[]
                {
                    ("transport floor: /tokenize of the same queries, no model run", floorHttpList, floorGrpcList),
                    ("the same, each right after an untimed in-process model run", afterRunHttpList, afterRunGrpcList),
                })
                {
                    double[] httpSorted = [.. httpList.Order()], grpcSorted = [.. grpcList.Order()];
                    line(string.Create(CultureInfo.InvariantCulture,
                        $"| ↳ {label} (diagnostic) | | | | | | HTTP {ServiceLoad.Percentile(httpSorted, 0.5):F2} / {ServiceLoad.Percentile(httpSorted, 0.99):F2} | | gRPC {ServiceLoad.Percentile(grpcSorted, 0.5):F2} / {ServiceLoad.Percentile(grpcSorted, 0.99):F2} | | | | | |"));
                }
            }

            await sidecar.TerminateAsync(TimeSpan.FromMinutes(1));
        }

        line(string.Empty);
        line("Goals (issue 11): in-process ÷ service ≥ 0.95 at p50 and p99 over both protocols; the first 20 requests after ready within 1.25× the steady p50; throughput at 8 and 64 clients at least the \"before\" row's.");
    }

    /// <summary>
    /// Runs this process's HTTP client code (a new connection, a JSON POST, the Server-Timing header) against a throwaway
    /// local listener until tiered compilation has finished with it, so the first requests to each sidecar time the
    /// service and not this client's own first calls: without it the first request took 35–48 ms on the client against
    /// 10–15 ms inside the service; with only 64 requests, this process's compiler thread still took about 1 s of CPU
    /// in the seconds after ready, and the service's runs slowed to twice their time from about the tenth request on.
    /// </summary>
    private static async Task WarmClientAsync(string[] queries)
    {
        int port = SidecarProcess.FreePort();
        using var listener = new System.Net.HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        // Enough calls for every tier of tiered compilation (with dynamic PGO a hot method is compiled three times).
        const int Requests = 600;
        Task serve = Task.Run(async () =>
        {
            byte[] answer = "[{\"warm\":1.0}]"u8.ToArray();
            for (int i = 0; i < Requests; i++)
            {
                System.Net.HttpListenerContext context = await listener.GetContextAsync();
                await context.Request.InputStream.CopyToAsync(Stream.Null);
                context.Response.ContentType = "application/json";
                context.Response.AddHeader("Server-Timing", "app;dur=0.100");
                await context.Response.OutputStream.WriteAsync(answer);
                context.Response.Close();
            }
        });
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256 }) { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        for (int i = 0; i < Requests; i++)
        {
            await ServiceLoad.PostJsonAsync(http, "/v1/models/warm/queries", [queries[i % queries.Length]], _ => { });
        }

        await serve;

        // Then until the compiler has been idle for a while: its background thread would compete with the service.
        long compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
        for (int quiet = 0, rounds = 0; quiet < 3 && rounds < 50; rounds++)
        {
            await Task.Delay(200);
            long now = System.Runtime.JitInfo.GetCompiledMethodCount();
            quiet = now == compiled ? quiet + 1 : 0;
            compiled = now;
        }
    }

    /// <param name="untimedBefore">Run before each request, outside its timing (the diagnostic paths' idle gap or model run).</param>
    private static async Task<double[]> SequentialAsync(Func<Task<bool>> send, int count, Func<Task>? untimedBefore = null)
    {
        double[] latencies = new double[count];
        for (int i = 0; i < count; i++)
        {
            if (untimedBefore is not null)
            {
                await untimedBefore();
            }

            long start = Stopwatch.GetTimestamp();
            await send();
            latencies[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        return latencies; // in the order sent
    }
}
