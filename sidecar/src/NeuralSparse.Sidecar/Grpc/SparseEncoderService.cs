using Grpc.Core;
using Microsoft.Extensions.Options;
using NeuralSparse.Core.Errors;
using NeuralSparse.Core.Inference;
using NeuralSparse.Core.Models;
using NeuralSparse.Core.Sparse;
using NeuralSparse.Core.Tokenization;
using NeuralSparse.Grpc.V1;
using NeuralSparse.Onnx;
using NeuralSparse.Sidecar.Configuration;
using NeuralSparse.Sidecar.Hosting;
using NeuralSparse.Sidecar.Http;
using ProtoSparseVector = NeuralSparse.Grpc.V1.SparseVector;
using SparseVector = NeuralSparse.Core.Sparse.SparseVector;

namespace NeuralSparse.Sidecar.Grpc;

/// <summary>
/// <c>neuralsparse.v1.SparseEncoder</c> on Grpc.AspNetCore (bound by <see cref="SparseEncoderBinding"/>). Framing, compression, deadlines, cancellation and message
/// size limits are the library's; API keys and the error table are <see cref="SidecarGrpcInterceptor"/>'s.
/// </summary>
internal sealed class SparseEncoderService(ModelHost models, IOptions<SidecarOptions> options) : SparseEncoderServiceBase
{
    private readonly LimitsOptions _limits = options.Value.Limits;

    public override Task<EncodeResponse> Encode(EncodeRequest request, ServerCallContext context) =>
        WithinServerTimeoutAsync(context, token => EncodeAsync(request, token));

    public override async Task EncodeStream(IAsyncStreamReader<EncodeRequest> requestStream, IServerStreamWriter<EncodeResponse> responseStream, ServerCallContext context)
    {
        await foreach (EncodeRequest request in requestStream.ReadAllAsync(context.CancellationToken))
        {
            await responseStream.WriteAsync(await WithinServerTimeoutAsync(context, token => EncodeAsync(request, token)), context.CancellationToken);
        }
    }

    public override Task<TokenizeResponse> Tokenize(TokenizeRequest request, ServerCallContext context)
    {
        EncodeScheduler scheduler = models.Resolve(request.Model);
        EncodeRequestParser.CheckLimits(request.Texts, _limits);
        var response = new TokenizeResponse();
        foreach (string text in request.Texts)
        {
            int[] ids = scheduler.Encoder.Tokenize(text);
            var entry = new TokenizedText();
            entry.Ids.AddRange(ids);
            entry.Tokens.AddRange(ids.Select(scheduler.Encoder.Model.Tokenizer.IdToToken));
            response.Texts.Add(entry);
        }

        return Task.FromResult(response);
    }

    public override Task<InfoResponse> Info(InfoRequest request, ServerCallContext context)
    {
        var info = new InfoResponse { ServiceVersion = typeof(SparseEncoderService).Assembly.GetName().Version?.ToString() ?? string.Empty };
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
                ExecutionProvider = OnnxSparseModelBackend.ExecutionProviderOf(scheduler.Encoder),
            });
        }

        return Task.FromResult(info);
    }

    private async Task<EncodeResponse> EncodeAsync(EncodeRequest request, CancellationToken cancellationToken)
    {
        EncodeScheduler scheduler = models.Resolve(request.Model);
        EncodeRequestParser.CheckLimits(request.Texts, _limits);
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
        Core.Inference.EncodeKind kind = request.Kind == global::NeuralSparse.Grpc.V1.EncodeKind.Query ? Core.Inference.EncodeKind.Query : Core.Inference.EncodeKind.Document;
        IReadOnlyList<SparseVector> vectors = await scheduler.EncodeAsync(request.Texts, kind, prune, cancellationToken);

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

    /// <summary>
    /// Runs <paramref name="work"/> under the server's own limit (NeuralSparse:Limits:RequestTimeoutSeconds) as well as the
    /// client's deadline, which the library enforces through the call's token.
    /// </summary>
    private async Task<T> WithinServerTimeoutAsync<T>(ServerCallContext context, Func<CancellationToken, Task<T>> work)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(_limits.RequestTimeoutSeconds));
        try
        {
            return await work(timeout.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !context.CancellationToken.IsCancellationRequested)
        {
            throw new NeuralSparseException(NeuralSparseErrorKind.DeadlineExceeded,
                $"Encoding took longer than {_limits.RequestTimeoutSeconds} s (NeuralSparse:Limits:RequestTimeoutSeconds); retry, or send fewer texts per request.");
        }
    }
}
