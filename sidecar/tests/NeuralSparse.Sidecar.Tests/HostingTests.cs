using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NeuralSparse.Core.Errors;
using Grpc.Core;
using NeuralSparse.Sidecar.Configuration;
using NeuralSparse.Sidecar.Hosting;
using NeuralSparse.Sidecar.Metrics;

namespace NeuralSparse.Sidecar.Tests;

public sealed class ErrorMappingTests
{
    public static TheoryData<NeuralSparseErrorKind, int, int> Table() => new()
    {
        { NeuralSparseErrorKind.Validation, 400, (int)StatusCode.InvalidArgument },
        { NeuralSparseErrorKind.ModelNotFound, 404, (int)StatusCode.NotFound },
        { NeuralSparseErrorKind.UnsupportedOperation, 422, (int)StatusCode.FailedPrecondition },
        { NeuralSparseErrorKind.Unauthenticated, 401, (int)StatusCode.Unauthenticated },
        { NeuralSparseErrorKind.PayloadTooLarge, 413, (int)StatusCode.ResourceExhausted },
        { NeuralSparseErrorKind.UnsupportedMediaType, 415, (int)StatusCode.Unimplemented },
        { NeuralSparseErrorKind.Overloaded, 429, (int)StatusCode.ResourceExhausted },
        { NeuralSparseErrorKind.Unavailable, 503, (int)StatusCode.Unavailable },
        { NeuralSparseErrorKind.DeadlineExceeded, 503, (int)StatusCode.DeadlineExceeded },
        { NeuralSparseErrorKind.ModelLoad, 500, (int)StatusCode.Internal },
        { NeuralSparseErrorKind.Backend, 500, (int)StatusCode.Internal },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void EachKind_MapsToItsHttpAndGrpcStatus(NeuralSparseErrorKind kind, int http, int grpc)
    {
        Assert.Equal(http, ErrorMapping.HttpStatus(kind));
        Assert.Equal(grpc, (int)ErrorMapping.GrpcStatus(kind));
        Assert.NotEqual("internal", ErrorMapping.Name(kind));
    }

    [Fact]
    public void TheTable_CoversEveryKind() =>
        Assert.Equal(Enum.GetValues<NeuralSparseErrorKind>().Order(), Table().Select(row => (NeuralSparseErrorKind)row[0]).Order());

    [Fact]
    public void OnlyTransientKinds_AskForARetry() =>
        Assert.Equal(
            [NeuralSparseErrorKind.Overloaded, NeuralSparseErrorKind.Unavailable, NeuralSparseErrorKind.DeadlineExceeded],
            Enum.GetValues<NeuralSparseErrorKind>().Where(ErrorMapping.IsRetryable).Order());
}

public sealed class OptionsValidationTests
{
    [Fact]
    public void Defaults_AreValid() =>
        Assert.True(new SidecarOptionsValidator().Validate(null, new SidecarOptions()).Succeeded);

    [Fact]
    public void EveryProblem_IsReportedAtOnce_NamingTheKey_NeverEchoingKeys()
    {
        var options = new SidecarOptions
        {
            Models = [new ModelOptions { Directory = "/nonexistent/model", Device = "tpu", Precision = "int4", MaxLength = 1 }],
            Listen = new ListenOptions { Address = "localhost-ish", HttpPort = 9000, GrpcPort = 9000 },
            Batching = new BatchingOptions { MaxBatchSize = 0, QueueCapacity = 10 },
            Limits = new LimitsOptions { MaxTextsPerRequest = 20, RequestTimeoutSeconds = 0 },
            Auth = new AuthOptions { ApiKeys = ["short-secret"] },
        };

        ValidateOptionsResult result = new SidecarOptionsValidator().Validate(null, options);

        Assert.Equal(
            [
                "NeuralSparse:Models:0:Directory must be an existing directory (got '/nonexistent/model').",
                "NeuralSparse:Models:0:Device must be 'cpu' or 'cuda' (got 'tpu').",
                "NeuralSparse:Models:0:Precision must be 'fp32' or 'fp16' (got 'int4').",
                "NeuralSparse:Models:0:MaxLength must be at least 2 ([CLS] and [SEP]) (got '1').",
                "NeuralSparse:Listen:Address must be an IP address such as 127.0.0.1 or 0.0.0.0 (got 'localhost-ish').",
                "NeuralSparse:Listen:GrpcPort must differ from Listen:HttpPort (gRPC needs an HTTP/2-only port) (got '9000').",
                "NeuralSparse:Batching:MaxBatchSize must be between 1 and 4096 (got '0').",
                "NeuralSparse:Limits:MaxTextsPerRequest must not exceed Batching:QueueCapacity, or such a request could never be admitted (got '20').",
                "NeuralSparse:Limits:RequestTimeoutSeconds must be positive (got '0').",
                "NeuralSparse:Auth:ApiKeys:0 must be at least 16 characters long.",
            ],
            result.Failures);
        Assert.DoesNotContain(result.Failures!, f => f.Contains("short-secret", StringComparison.Ordinal));
    }
}

public sealed class ModelHostTests
{
    [Fact]
    public void Resolve_BeforeModelsLoad_IsUnavailable()
    {
        using var metrics = new SidecarMetrics();
        var host = new ModelHost(Options.Create(new SidecarOptions()), NullLoggerFactory.Instance, new NoLifetime(), metrics);

        var error = Assert.Throws<NeuralSparseException>(() => host.Resolve(null));

        Assert.Equal(NeuralSparseErrorKind.Unavailable, error.Kind);
        Assert.False(host.IsReady);
        Assert.Equal(StatusCodes.Status503ServiceUnavailable, ErrorMapping.HttpStatus(error.Kind));
    }

    private sealed class NoLifetime : IHostApplicationLifetime
    {
        public CancellationToken ApplicationStarted => CancellationToken.None;

        public CancellationToken ApplicationStopping => CancellationToken.None;

        public CancellationToken ApplicationStopped => CancellationToken.None;

        public void StopApplication()
        {
        }
    }
}
