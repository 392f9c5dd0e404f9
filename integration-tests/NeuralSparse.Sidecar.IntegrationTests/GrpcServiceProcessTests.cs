using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using NeuralSparse.Grpc.Health.V1;
using NeuralSparse.Grpc.V1;
using ServingStatus = NeuralSparse.Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace NeuralSparse.Sidecar.IntegrationTests;

/// <summary>The gRPC port of the real process through Grpc.Net.Client: deadlines, overload, shutdown, compression, errors.</summary>
public sealed class GrpcServiceProcessTests(ModelDirectories models) : IClassFixture<ModelDirectories>
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(60);
    private static readonly Metadata Gzip = new() { { "grpc-internal-encoding-request", "gzip" } };

    [Fact]
    public async Task ClientDeadline_IsEnforcedByTheServer()
    {
        // A 300 ms batching wait outlasts the deadlines below and keeps the warm-up before readiness short.
        await using SidecarProcess sidecar = await SidecarProcess.StartAsync(models.Args("--NeuralSparse:Batching:MaxWaitMilliseconds=300"));

        // grpc-timeout by hand, with no deadline of the client's own: only the server can end this call in time.
        using var http = new HttpClient();
        var request = new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{sidecar.GrpcPort}/neuralsparse.v1.SparseEncoder/Encode")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(Frame(new EncodeRequest { Texts = { "a" } })),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        request.Headers.TryAddWithoutValidation("grpc-timeout", "50m");
        using HttpResponseMessage response = await http.SendAsync(request);
        _ = await response.Content.ReadAsByteArrayAsync();
        string? status = response.TrailingHeaders.TryGetValues("grpc-status", out var t) ? t.First()
            : response.Headers.TryGetValues("grpc-status", out var h) ? h.First() : null;
        Assert.Equal("4", status); // DEADLINE_EXCEEDED

        // And through the library's client, which also keeps its own deadline.
        using GrpcChannel channel = Channel(sidecar);
        var error = await Assert.ThrowsAsync<RpcException>(() => new SparseEncoder.SparseEncoderClient(channel)
            .EncodeAsync(new EncodeRequest { Texts = { "a" } }, deadline: DateTime.UtcNow.AddMilliseconds(50)).ResponseAsync);
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await sidecar.Http.GetAsync(new Uri("/health/ready", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task Overload_TenTimesCapacity_OnlyOkAndResourceExhaustedWithARetryHint_ServiceSurvives()
    {
        const int capacity = 8;
        await using SidecarProcess sidecar = await SidecarProcess.StartAsync(models.Args(
            $"--NeuralSparse:Batching:QueueCapacity={capacity}", "--NeuralSparse:Limits:MaxTextsPerRequest=1", "--NeuralSparse:Batching:MaxWaitMilliseconds=50"));
        using GrpcChannel channel = Channel(sidecar);
        var client = new SparseEncoder.SparseEncoderClient(channel);

        long before = sidecar.PeakResidentMegabytes ?? 0;
        RpcException?[] results = await Task.WhenAll(Enumerable.Range(0, capacity * 10).Select(async i =>
        {
            try
            {
                await client.EncodeAsync(new EncodeRequest { Texts = { $"text {i}" } });
                return null;
            }
            catch (RpcException error)
            {
                return error;
            }
        }));

        Assert.True((sidecar.PeakResidentMegabytes ?? 0) - before < 256, $"peak resident memory grew from {before} to {sidecar.PeakResidentMegabytes} MiB");
        Assert.Contains(results, r => r is null);
        Assert.All(results.OfType<RpcException>(), r =>
        {
            Assert.Equal(StatusCode.ResourceExhausted, r.StatusCode);
            Assert.Equal("1000", r.Trailers.GetValue("grpc-retry-pushback-ms"));
        });
        Assert.Single((await client.EncodeAsync(new EncodeRequest { Texts = { "still serving" } })).Vectors);
    }

    [Fact]
    public async Task Sigterm_DuringStreamingLoad_NoCallIsLost_HealthWatchSaysNotServing()
    {
        await using SidecarProcess sidecar = await SidecarProcess.StartAsync(models.Args("--NeuralSparse:Batching:MaxWaitMilliseconds=400"));
        using GrpcChannel channel = Channel(sidecar);
        var client = new SparseEncoder.SparseEncoderClient(channel);
        using AsyncServerStreamingCall<HealthCheckResponse> watch = new Health.HealthClient(channel).Watch(new HealthCheckRequest());
        Assert.True(await watch.ResponseStream.MoveNext());
        Assert.Equal(ServingStatus.Serving, watch.ResponseStream.Current.Status);

        Task<EncodeResponse>[] calls = [.. Enumerable.Range(0, 24).Select(i =>
            client.EncodeAsync(new EncodeRequest { Texts = { $"hello world {i}", "ny now" } }, i % 2 == 0 ? Gzip : null).ResponseAsync)];
        await Task.Delay(150);

        Task<int> exit = sidecar.TerminateAsync(ExitTimeout);
        EncodeResponse[] responses = await Task.WhenAll(calls);
        var statuses = new List<ServingStatus>();
        while (await watch.ResponseStream.MoveNext())
        {
            statuses.Add(watch.ResponseStream.Current.Status);
        }

        Assert.All(responses, r => Assert.Equal(2, r.Vectors.Count));
        Assert.Equal(ServingStatus.NotServing, statuses[^1]);
        Assert.Equal(0, await exit);
    }

    [Fact]
    public async Task GzipRequests_EqualPlainOnes_AndErrorsKeepTheirStatus()
    {
        await using SidecarProcess sidecar = await SidecarProcess.StartAsync(models.Args(
            "--NeuralSparse:Limits:MaxRequestBytes=4096", $"--NeuralSparse:Auth:ApiKeys:0={ApiKey}"));
        using GrpcChannel channel = Channel(sidecar);
        var client = new SparseEncoder.SparseEncoderClient(channel);
        var auth = new Metadata { { "authorization", "Bearer " + ApiKey } };
        var gzipAuth = new Metadata { { "authorization", "Bearer " + ApiKey }, { "grpc-internal-encoding-request", "gzip" } };
        var request = new EncodeRequest { Texts = { "hello world", "the weather in ny" }, IncludeTokens = true };

        Assert.Equal(await client.EncodeAsync(request, auth), await client.EncodeAsync(request, gzipAuth));
        Assert.Equal(StatusCode.Unauthenticated, (await ErrorAsync(client.EncodeAsync(request))).StatusCode);
        Assert.Equal(StatusCode.NotFound, (await ErrorAsync(client.EncodeAsync(new EncodeRequest { Model = "nope", Texts = { "a" } }, gzipAuth))).StatusCode);
        Assert.Equal(StatusCode.ResourceExhausted, (await ErrorAsync(client.EncodeAsync(new EncodeRequest { Texts = { new string('a', 5000) } }, gzipAuth))).StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, (await ErrorAsync(client.EncodeAsync(
            new EncodeRequest { Texts = { "a" }, Prune = new PruneRule { Type = PruneType.TopK, Ratio = 0.5 } }, auth))).StatusCode);
        Assert.Equal("CPUExecutionProvider", (await client.InfoAsync(new InfoRequest(), auth)).Models[0].ExecutionProvider);
    }

    [Fact]
    public async Task UnwritableHome_TheServiceStartsAndServes_AndOnnxRuntimeWritesNothingUnderHome()
    {
        // A path under a file: nothing can be created there, not even by root (tests may run as root).
        await using (SidecarProcess sidecar = await SidecarProcess.StartAsync(models.Args(),
            environment: new Dictionary<string, string> { ["HOME"] = "/dev/null/home", ["ORT_DISABLE_TELEMETRY"] = "", ["XDG_CACHE_HOME"] = "" }))
        {
            HttpResponseMessage response = await sidecar.Http.PostAsync(new Uri("/v1/documents", UriKind.Relative),
                new StringContent("""["hello world"]""", Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            JsonElement info = JsonDocument.Parse(await sidecar.Http.GetStringAsync(new Uri("/v1/info", UriKind.Relative))).RootElement;
            Assert.All(info.GetProperty("models").EnumerateArray(), m => Assert.Equal("CPUExecutionProvider", m.GetProperty("executionProvider").GetString()));
            Assert.Equal(0, await sidecar.TerminateAsync(ExitTimeout));
        }

        // With a writable home and telemetry not configured, ONNX Runtime would create .cache/Microsoft/DeveloperTools there.
        string home = Directory.CreateDirectory(Path.Combine(models.Root, "home")).FullName;
        await using (SidecarProcess sidecar = await SidecarProcess.StartAsync(models.Args(),
            environment: new Dictionary<string, string> { ["HOME"] = home, ["ORT_DISABLE_TELEMETRY"] = "", ["XDG_CACHE_HOME"] = "" }))
        {
            await sidecar.Http.PostAsync(new Uri("/v1/documents", UriKind.Relative), new StringContent("""["hello"]""", Encoding.UTF8, "application/json"));
            Assert.Equal(0, await sidecar.TerminateAsync(ExitTimeout));
        }

        Assert.False(Directory.Exists(Path.Combine(home, ".cache", "Microsoft")), "ONNX Runtime wrote its telemetry files under HOME");
    }

    private const string ApiKey = "grpc-process-key-0123456789";

    private static GrpcChannel Channel(SidecarProcess sidecar) => GrpcChannel.ForAddress($"http://127.0.0.1:{sidecar.GrpcPort}");

    private static async Task<RpcException> ErrorAsync<T>(AsyncUnaryCall<T> call) => await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);

    private static byte[] Frame(IMessage message)
    {
        byte[] payload = message.ToByteArray();
        byte[] frame = new byte[5 + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)payload.Length);
        payload.CopyTo(frame, 5);
        return frame;
    }
}
