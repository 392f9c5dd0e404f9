using System.Net;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Reflection.V1Alpha;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using NeuralSparse.Grpc.V1;
using NeuralSparse.Sidecar.Grpc;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace NeuralSparse.Sidecar.Tests;

/// <summary>The gRPC API through Grpc.Net.Client against the in-memory server; raw wire cases through <see cref="GrpcTestClient"/>.</summary>
public sealed class GrpcTests : IAsyncLifetime
{
    private const string Encoder = "/neuralsparse.v1.SparseEncoder/";
    private static readonly Metadata Gzip = new() { { "grpc-internal-encoding-request", "gzip" } };
    private SidecarTestHost _host = null!;
    private SparseEncoder.SparseEncoderClient _client = null!;

    public async Task InitializeAsync()
    {
        _host = await SidecarTestHost.StartAsync("--NeuralSparse:Limits:MaxRequestBytes=4096", "--NeuralSparse:Limits:MaxTextsPerRequest=8");
        _client = new SparseEncoder.SparseEncoderClient(_host.Channel);
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task Encode_ResponseHeaders_CarryTheServicesOwnTime_AsServerTiming()
    {
        using AsyncUnaryCall<EncodeResponse> call = _client.EncodeAsync(new EncodeRequest { Texts = { "hello world" } });

        Metadata headers = await call.ResponseHeadersAsync;
        await call.ResponseAsync;

        Assert.Matches(@"^app;dur=\d+\.\d{3}$", headers.GetValue("server-timing"));
    }

    [Fact]
    public async Task Encode_MatchesTheHttpApi()
    {
        var request = new EncodeRequest { Texts = { "hello world", "", "the weather in ny" }, IncludeTokens = true };

        EncodeResponse response = await _client.EncodeAsync(request);
        JsonElement http = JsonDocument.Parse(await (await _host.PostJsonAsync("/v1/documents", """["hello world", "", "the weather in ny"]""")).Content.ReadAsStringAsync()).RootElement;

        Assert.Equal("bi", response.Model);
        Assert.Equal(3, response.Vectors.Count);
        for (int i = 0; i < 3; i++)
        {
            var expected = http[i].EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetSingle());
            Assert.Equal(expected, response.Vectors[i].Tokens.Zip(response.Vectors[i].Weights).ToDictionary(p => p.First, p => p.Second));
            Assert.Equal(response.Vectors[i].TokenIds.Order(), response.Vectors[i].TokenIds);
        }
    }

    [Fact]
    public async Task GzipCompressedRequests_AreAccepted_AndEqualPlainOnes()
    {
        // Grpc.Net.Client compresses the request message (grpc-encoding: gzip) when asked through this metadata key.
        var request = new EncodeRequest { Texts = { "hello world", "the weather in ny" }, IncludeTokens = true };

        EncodeResponse compressed = await _client.EncodeAsync(request, Gzip);
        EncodeResponse plain = await _client.EncodeAsync(request);

        Assert.Equal(plain, compressed);
    }

    [Fact]
    public async Task EncodeStream_AnswersEachMessageInOrder()
    {
        using AsyncDuplexStreamingCall<EncodeRequest, EncodeResponse> call = _client.EncodeStream();
        await call.RequestStream.WriteAsync(new EncodeRequest { Texts = { "hello" } });
        await call.RequestStream.WriteAsync(new EncodeRequest { Model = "doc", Texts = { "ny now", "world" }, Kind = EncodeKind.Query });
        await call.RequestStream.WriteAsync(new EncodeRequest { Texts = { "a", "b", "c" } });
        await call.RequestStream.CompleteAsync();

        EncodeResponse[] responses = [.. await call.ResponseStream.ReadAllAsync().ToListAsync()];

        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        Assert.Equal([1, 2, 3], responses.Select(r => r.Vectors.Count));
        Assert.Equal(["bi", "doc", "bi"], responses.Select(r => r.Model));
        Assert.Equal([5.772862f, 3.58955f], responses[1].Vectors[0].Weights); // idf of ny, now
    }

    [Fact]
    public async Task TokenizeAndInfo_Work_InfoNamesTheExecutionProvider()
    {
        TokenizeResponse tokens = await _client.TokenizeAsync(new TokenizeRequest { Texts = { "Hello, world!" } });
        InfoResponse info = await _client.InfoAsync(new InfoRequest());

        Assert.Equal(["[CLS]", "hello", ",", "world", "!", "[SEP]"], tokens.Texts[0].Tokens);
        Assert.Equal(["bi", "doc"], info.Models.Select(m => m.Name));
        Assert.Equal("doc-only", info.Models[1].Mode);
        Assert.All(info.Models, m => Assert.Equal("CPUExecutionProvider", m.ExecutionProvider));
    }

    [Fact]
    public async Task HealthCheck_ServingForKnownServices_NotFoundForOthers()
    {
        var health = new Health.HealthClient(_host.Channel);

        HealthCheckResponse all = await health.CheckAsync(new HealthCheckRequest());
        HealthCheckResponse encoder = await health.CheckAsync(new HealthCheckRequest { Service = "neuralsparse.v1.SparseEncoder" });
        var other = await Assert.ThrowsAsync<RpcException>(() => health.CheckAsync(new HealthCheckRequest { Service = "other.Service" }).ResponseAsync);

        Assert.Equal(ServingStatus.Serving, all.Status);
        Assert.Equal(ServingStatus.Serving, encoder.Status);
        Assert.Equal(StatusCode.NotFound, other.StatusCode);
    }

    [Fact]
    public async Task HealthWatch_SendsServingFirst_ThenNotServingWhenShutdownBegins()
    {
        var health = new Health.HealthClient(_host.Channel);
        using AsyncServerStreamingCall<HealthCheckResponse> watch = health.Watch(new HealthCheckRequest { Service = "neuralsparse.v1.SparseEncoder" });

        Assert.True(await watch.ResponseStream.MoveNext());
        Assert.Equal(ServingStatus.Serving, watch.ResponseStream.Current.Status);

        Task stopping = _host.StopAsync();
        var after = new List<ServingStatus>();
        while (await watch.ResponseStream.MoveNext())
        {
            after.Add(watch.ResponseStream.Current.Status);
        }

        await stopping;
        Assert.Equal(ServingStatus.NotServing, after[^1]);
        Assert.DoesNotContain(ServingStatus.Serving, after);
    }

    [Fact]
    public async Task Reflection_ListsTheServices()
    {
        var reflection = new ServerReflection.ServerReflectionClient(_host.Channel);
        using AsyncDuplexStreamingCall<ServerReflectionRequest, ServerReflectionResponse> call = reflection.ServerReflectionInfo();
        await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.CompleteAsync();

        Assert.True(await call.ResponseStream.MoveNext());
        string[] services = [.. call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name)];

        Assert.Contains("neuralsparse.v1.SparseEncoder", services);
        Assert.Contains("grpc.health.v1.Health", services);
    }

    public static TheoryData<string, StatusCode, string> ErrorRows() => new()
    {
        { "unknown model", StatusCode.NotFound, "not served" },
        { "too many texts", StatusCode.InvalidArgument, "at most 8" },
        { "illegal prune", StatusCode.InvalidArgument, "Illegal prune_ratio" },
        { "unknown method", StatusCode.Unimplemented, "unimplemented" },
        { "non-ASCII message", StatusCode.NotFound, "modèle" }, // percent-encoded on the wire, decoded by the client
    };

    [Theory]
    [MemberData(nameof(ErrorRows))]
    public async Task BadRequests_GetTheirStatusAndMessage(string row, StatusCode status, string message)
    {
        Task call = row switch
        {
            "unknown model" => _client.EncodeAsync(new EncodeRequest { Model = "nope", Texts = { "a" } }).ResponseAsync,
            "too many texts" => _client.EncodeAsync(new EncodeRequest { Texts = { Enumerable.Repeat("a", 9) } }).ResponseAsync,
            "illegal prune" => _client.EncodeAsync(new EncodeRequest { Texts = { "a" }, Prune = new PruneRule { Type = PruneType.TopK, Ratio = 0.5 } }).ResponseAsync,
            "non-ASCII message" => _client.EncodeAsync(new EncodeRequest { Model = "modèle", Texts = { "a" } }).ResponseAsync,
            _ => _host.Channel.CreateCallInvoker().AsyncUnaryCall(
                new Method<EncodeRequest, EncodeResponse>(MethodType.Unary, "neuralsparse.v1.SparseEncoder", "Nope", Marshallers.Create(m => m.ToByteArray(), EncodeRequest.Parser.ParseFrom), Marshallers.Create(m => m.ToByteArray(), EncodeResponse.Parser.ParseFrom)),
                null, new CallOptions(), new EncodeRequest()).ResponseAsync,
        };

        var error = await Assert.ThrowsAsync<RpcException>(() => call);

        Assert.Equal(status, error.StatusCode);
        Assert.Contains(message, error.Status.Detail, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task UnsupportedEncoding_IsUnimplemented_NamingWhatIsAccepted()
    {
        GrpcTestClient.GrpcResult result = await GrpcTestClient.CallAsync(_host.Client, Encoder + "Encode",
            GrpcTestClient.Frame(new EncodeRequest { Texts = { "a" } }, flag: 1), headers: new Dictionary<string, string> { ["grpc-encoding"] = "snappy" });

        Assert.Equal((int)StatusCode.Unimplemented, result.Status);
        Assert.Contains("gzip", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MessageOverTheLimit_IsResourceExhausted()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => _client.EncodeAsync(new EncodeRequest { Texts = { new string('a', 5000) } }).ResponseAsync);

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Contains("exceeds the maximum configured message size", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GzipMessageThatInflatesOverTheLimit_IsResourceExhausted()
    {
        // 5,000 'a' compress to a few dozen bytes: the limit applies to the inflated message.
        var error = await Assert.ThrowsAsync<RpcException>(() => _client.EncodeAsync(new EncodeRequest { Texts = { new string('a', 5000) } }, Gzip).ResponseAsync);

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
    }

    [Fact]
    public async Task TruncatedMessage_IsInternal_NotACrash()
    {
        byte[] frame = GrpcTestClient.Frame(new EncodeRequest { Texts = { "hello world" } });

        GrpcTestClient.GrpcResult result = await GrpcTestClient.CallAsync(_host.Client, Encoder + "Encode", frame[..^3]);

        Assert.Equal((int)StatusCode.Internal, result.Status);
    }

    [Fact]
    public async Task Http11_Gets426()
    {
        GrpcTestClient.GrpcResult result = await GrpcTestClient.CallAsync(_host.Client, Encoder + "Encode",
            GrpcTestClient.Frame(new EncodeRequest { Texts = { "a" } }), version: HttpVersion.Version11);

        Assert.Equal(HttpStatusCode.UpgradeRequired, result.HttpStatus);
    }
}

public sealed class GrpcAdmissionTests
{
    [Fact]
    public async Task MissingApiKey_IsUnauthenticated_HealthStaysOpen()
    {
        await using SidecarTestHost host = await SidecarTestHost.StartAsync($"--NeuralSparse:Auth:ApiKeys:0={SidecarTestHost.ApiKey}");
        var client = new SparseEncoder.SparseEncoderClient(host.Channel);
        var request = new EncodeRequest { Texts = { "a" } };

        var missing = await Assert.ThrowsAsync<RpcException>(() => client.EncodeAsync(request).ResponseAsync);
        var wrong = await Assert.ThrowsAsync<RpcException>(() => client.EncodeAsync(request, new Metadata { { "x-api-key", "wrong" } }).ResponseAsync);
        EncodeResponse right = await client.EncodeAsync(request, new Metadata { { "authorization", "Bearer " + SidecarTestHost.ApiKey } });
        EncodeResponse header = await client.EncodeAsync(request, new Metadata { { "x-api-key", SidecarTestHost.ApiKey } });
        HealthCheckResponse health = await new Health.HealthClient(host.Channel).CheckAsync(new HealthCheckRequest());

        Assert.Equal(StatusCode.Unauthenticated, missing.StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, wrong.StatusCode);
        Assert.Single(right.Vectors);
        Assert.Single(header.Vectors);
        Assert.Equal(ServingStatus.Serving, health.Status);
    }

    // The client's deadline (grpc-timeout) is tested against the real process (GrpcServiceProcessTests): on a deadline the
    // library sends the status and then resets the stream, and TestServer surfaces the reset before the trailers.

    [Fact]
    public async Task ServerTimeoutShorterThanTheWork_IsDeadlineExceeded_WithARetryHint()
    {
        await using SidecarTestHost host = await SidecarTestHost.StartAsync(
            "--NeuralSparse:Batching:MaxWaitMilliseconds=1000", "--NeuralSparse:Limits:RequestTimeoutSeconds=0.05");
        var client = new SparseEncoder.SparseEncoderClient(host.Channel);

        var error = await Assert.ThrowsAsync<RpcException>(() => client.EncodeAsync(new EncodeRequest { Texts = { "a" } }).ResponseAsync);

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.Contains("RequestTimeoutSeconds", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal("1000", error.Trailers.GetValue(SidecarGrpcInterceptor.RetryPushbackTrailer));
    }

    [Fact]
    public async Task QueueFull_IsResourceExhausted_WithARetryHint()
    {
        await using SidecarTestHost host = await SidecarTestHost.StartAsync(
            "--NeuralSparse:Batching:QueueCapacity=2", "--NeuralSparse:Limits:MaxTextsPerRequest=2", "--NeuralSparse:Batching:MaxWaitMilliseconds=300");
        var client = new SparseEncoder.SparseEncoderClient(host.Channel);
        var request = new EncodeRequest { Texts = { "hello", "world" } };

        RpcException?[] results = await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            try
            {
                await client.EncodeAsync(request);
                return null;
            }
            catch (RpcException error)
            {
                return error;
            }
        }));

        Assert.Contains(results, r => r is null);
        Assert.Contains(results, r => r is not null);
        Assert.All(results.OfType<RpcException>(), r =>
        {
            Assert.Equal(StatusCode.ResourceExhausted, r.StatusCode);
            Assert.Equal("1000", r.Trailers.GetValue(SidecarGrpcInterceptor.RetryPushbackTrailer));
        });
    }

    [Fact]
    public async Task BeforeTheModelsLoad_HealthIsNotServing()
    {
        // Built, not started: the models have not loaded. The gRPC health service reports this check's result.
        await using WebApplication app = SidecarApp.Build(["--Logging:LogLevel:Default=Warning"], builder => builder.WebHost.UseTestServer());
        HealthReport report = await app.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        Assert.Equal(HealthStatus.Unhealthy, report.Entries[ModelReadinessCheck.Name].Status);
    }
}
