using Google.Protobuf;
using Microsoft.Extensions.Options;
using NeuralSparse.Core.Errors;
using NeuralSparse.Core.Inference;
using NeuralSparse.Core.Models;
using NeuralSparse.Core.Sparse;
using NeuralSparse.Core.Tokenization;
using NeuralSparse.Grpc.Health.V1;
using NeuralSparse.Grpc.V1;
using NeuralSparse.Onnx;
using NeuralSparse.Sidecar.Configuration;
using NeuralSparse.Sidecar.Hosting;
using NeuralSparse.Sidecar.Http;
using ProtoSparseVector = NeuralSparse.Grpc.V1.SparseVector;
using SparseVector = NeuralSparse.Core.Sparse.SparseVector;

namespace NeuralSparse.Grpc;

/// <summary>
/// The gRPC services (<c>neuralsparse.v1.SparseEncoder</c> and <c>grpc.health.v1.Health</c>) served directly on Kestrel's
/// HTTP/2: content-type and protocol checks, API key, <c>grpc-timeout</c> deadlines, cancellation, message size limit,
/// and the status in trailers. A deliberately small stand-in for Grpc.AspNetCore, which cannot be restored here; the
/// services map one to one onto generated Grpc.AspNetCore service bases if that package becomes available.
/// </summary>
internal static class GrpcEndpoints
{
    public const string EncoderService = "neuralsparse.v1.SparseEncoder";
    public const string HealthService = "grpc.health.v1.Health";

    public static void Map(WebApplication app)
    {
        app.MapPost($"/{EncoderService}/{{method}}", (HttpContext c, string method) => RunCallAsync(c, call => EncoderAsync(call, method)));
        app.MapPost($"/{HealthService}/{{method}}", (HttpContext c, string method) => RunCallAsync(c, call => HealthAsync(call, method), requiresKey: false));
    }

    private static async Task RunCallAsync(HttpContext context, Func<GrpcCall, Task> handler, bool requiresKey = true)
    {
        HttpRequest request = context.Request;
        HttpResponse response = context.Response;
        if (!HttpProtocol.IsHttp2(request.Protocol))
        {
            response.StatusCode = StatusCodes.Status426UpgradeRequired;
            response.Headers.Upgrade = "HTTP/2";
            await response.WriteAsync("gRPC needs HTTP/2: use the gRPC port (NeuralSparse:Listen:GrpcPort).");
            return;
        }

        if (request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) != true
            || request.ContentType.StartsWith("application/grpc-web", StringComparison.OrdinalIgnoreCase))
        {
            response.StatusCode = StatusCodes.Status415UnsupportedMediaType;
            return;
        }

        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/grpc";
        response.Headers["grpc-accept-encoding"] = "identity";
        await response.StartAsync();

        IServiceProvider services = context.RequestServices;
        SidecarOptions options = services.GetRequiredService<IOptions<SidecarOptions>>().Value;
        TimeSpan? deadline = GrpcFraming.ParseTimeout(request.Headers["grpc-timeout"]);
        using var callCancellation = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        callCancellation.CancelAfter(Min(deadline, TimeSpan.FromSeconds(options.Limits.RequestTimeoutSeconds)));
        var call = new GrpcCall(context, services, options, callCancellation.Token);

        GrpcStatusCode status = GrpcStatusCode.Ok;
        string? message = null;
        try
        {
            string encoding = request.Headers["grpc-encoding"].ToString();
            if (encoding.Length > 0 && encoding != "identity")
            {
                throw new GrpcCallException(GrpcStatusCode.Unimplemented, $"Message encoding '{encoding}' is not supported; use identity.");
            }

            if (requiresKey && !services.GetRequiredService<ApiKeyValidator>().IsAuthorized(request))
            {
                throw new NeuralSparseException(NeuralSparseErrorKind.Unauthenticated, "Send the API key as 'authorization: Bearer <key>' or 'x-api-key' metadata.");
            }

            await handler(call);
        }
        catch (GrpcCallException ex)
        {
            (status, message) = (ex.Status, ex.Message);
        }
        catch (NeuralSparseException ex)
        {
            (status, message) = (ErrorMapping.GrpcStatus(ex.Kind), ex.Message);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return; // the client cancelled; nobody reads the status
        }
        catch (OperationCanceledException) when (callCancellation.IsCancellationRequested)
        {
            (status, message) = (GrpcStatusCode.DeadlineExceeded, "The deadline passed before the call completed.");
        }
        catch (Exception ex)
        {
            SidecarLog.UnhandledError(services.GetRequiredService<ILogger<GrpcCall>>(), "gRPC", request.Path, ex);
            (status, message) = (GrpcStatusCode.Unknown, "Exception was thrown by handler.");
        }

        response.AppendTrailer("grpc-status", ((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (message is not null)
        {
            response.AppendTrailer("grpc-message", GrpcFraming.EncodeStatusMessage(message));
        }
    }

    private static TimeSpan Min(TimeSpan? a, TimeSpan b) => a is { } value && value < b ? value : b;

    private static async Task EncoderAsync(GrpcCall call, string method)
    {
        switch (method)
        {
            case "Encode":
                EncodeRequest request = await call.ReadSingleAsync(EncodeRequest.Parser);
                await call.WriteAsync(await EncodeAsync(call, request));
                break;
            case "EncodeStream":
                while (await call.ReadAsync(EncodeRequest.Parser) is { } next)
                {
                    await call.WriteAsync(await EncodeAsync(call, next));
                }

                break;
            case "Tokenize":
                TokenizeRequest tokenize = await call.ReadSingleAsync(TokenizeRequest.Parser);
                EncodeScheduler scheduler = call.Models.Resolve(tokenize.Model);
                EncodeRequestParser.CheckLimits(tokenize.Texts, call.Options.Limits);
                var tokenized = new TokenizeResponse();
                foreach (string text in tokenize.Texts)
                {
                    int[] ids = scheduler.Encoder.Tokenize(text);
                    var entry = new TokenizedText();
                    entry.Ids.AddRange(ids);
                    entry.Tokens.AddRange(ids.Select(scheduler.Encoder.Model.Tokenizer.IdToToken));
                    tokenized.Texts.Add(entry);
                }

                await call.WriteAsync(tokenized);
                break;
            case "Info":
                await call.ReadSingleAsync(InfoRequest.Parser);
                await call.WriteAsync(Info(call.Models));
                break;
            default:
                throw new GrpcCallException(GrpcStatusCode.Unimplemented, $"Method {EncoderService}/{method} does not exist.");
        }
    }

    private static async Task<EncodeResponse> EncodeAsync(GrpcCall call, EncodeRequest request)
    {
        EncodeScheduler scheduler = call.Models.Resolve(request.Model);
        EncodeRequestParser.CheckLimits(request.Texts, call.Options.Limits);
        SparsePruneRule prune = request.Prune is null || request.Prune.Type == PruneType.None
            ? SparsePruneRule.None
            : SparsePruneRule.Parse(request.Prune.Type switch
            {
                PruneType.MaxRatio => "max_ratio",
                PruneType.TopK => "top_k",
                PruneType.AlphaMass => "alpha_mass",
                PruneType.AbsValue => "abs_value",
                _ => throw new NeuralSparseException(NeuralSparseErrorKind.Validation, $"Unknown prune type {(int)request.Prune.Type}."),
            }, request.Prune.Ratio);
        bool isQuery = request.Kind == Grpc.V1.EncodeKind.Query;
        IReadOnlyList<SparseVector> vectors = await scheduler.EncodeAsync(
            request.Texts, isQuery ? Core.Inference.EncodeKind.Query : Core.Inference.EncodeKind.Document, prune, call.CancellationToken);

        WordPieceTokenizer tokenizer = scheduler.Encoder.Model.Tokenizer;
        var response = new EncodeResponse { Model = scheduler.Encoder.Model.Name };
        foreach (SparseVector vector in vectors)
        {
            var message = new ProtoSparseVector();
            message.TokenIds.AddRange(vector.TokenIds);
            message.Weights.AddRange(vector.Weights);
            if (request.IncludeTokens)
            {
                message.Tokens.AddRange(vector.TokenIds.Select(tokenizer.IdToToken));
            }

            response.Vectors.Add(message);
        }

        return response;
    }

    private static InfoResponse Info(ModelHost models)
    {
        var info = new InfoResponse { ServiceVersion = typeof(GrpcEndpoints).Assembly.GetName().Version?.ToString() ?? string.Empty };
        foreach (EncodeScheduler scheduler in models.Schedulers)
        {
            SparseModelDefinition model = scheduler.Encoder.Model;
            info.Models.Add(new ModelInfo
            {
                Name = model.Name,
                Mode = ModelWireNames.Of(model.Mode),
                Activation = ModelWireNames.Of(model.Activation),
                MaxLength = model.MaxLength,
                VocabularySize = model.Tokenizer.VocabularySize,
                Synthetic = model.Synthetic,
                Backend = scheduler.Encoder.BackendDescription,
                Preset = model.Preset?.HubName ?? string.Empty,
            });
        }

        return info;
    }

    private static async Task HealthAsync(GrpcCall call, string method)
    {
        HealthCheckRequest request = await call.ReadSingleAsync(HealthCheckRequest.Parser);
        bool known = request.Service is "" or EncoderService;
        switch (method)
        {
            case "Check":
                if (!known)
                {
                    throw new GrpcCallException(GrpcStatusCode.NotFound, $"Unknown service '{request.Service}'.");
                }

                await call.WriteAsync(new HealthCheckResponse { Status = Status(call.Models.IsReady) });
                break;
            case "Watch":
                if (!known)
                {
                    await call.WriteAsync(new HealthCheckResponse { Status = HealthCheckResponse.Types.ServingStatus.ServiceUnknown });
                    await Task.Delay(Timeout.Infinite, call.CancellationToken);
                }

                // Send the status now and on every change, until the client goes away.
                HealthCheckResponse.Types.ServingStatus? last = null;
                while (true)
                {
                    Task changed = call.Models.ReadinessChanged;
                    HealthCheckResponse.Types.ServingStatus current = Status(call.Models.IsReady);
                    if (current != last)
                    {
                        await call.WriteAsync(new HealthCheckResponse { Status = current });
                        last = current;
                    }

                    await changed.WaitAsync(call.CancellationToken);
                }

            default:
                throw new GrpcCallException(GrpcStatusCode.Unimplemented, $"Method {HealthService}/{method} does not exist.");
        }
    }

    private static HealthCheckResponse.Types.ServingStatus Status(bool ready) =>
        ready ? HealthCheckResponse.Types.ServingStatus.Serving : HealthCheckResponse.Types.ServingStatus.NotServing;

    /// <summary>One call: the reading and writing ends, its cancellation and the services it uses.</summary>
    private sealed class GrpcCall(HttpContext context, IServiceProvider services, SidecarOptions options, CancellationToken cancellationToken)
    {
        public SidecarOptions Options { get; } = options;

        public CancellationToken CancellationToken { get; } = cancellationToken;

        public ModelHost Models { get; } = services.GetRequiredService<ModelHost>();

        public ValueTask<T?> ReadAsync<T>(MessageParser<T> parser) where T : class, IMessage<T> =>
            GrpcFraming.ReadMessageAsync(context.Request.BodyReader, parser, (int)Options.Limits.MaxRequestBytes, CancellationToken);

        public async Task<T> ReadSingleAsync<T>(MessageParser<T> parser) where T : class, IMessage<T> =>
            await ReadAsync(parser) ?? throw new GrpcCallException(GrpcStatusCode.Internal, "The request carried no message.");

        public ValueTask WriteAsync(IMessage message) => GrpcFraming.WriteMessageAsync(context.Response.BodyWriter, message, CancellationToken);
    }
}
