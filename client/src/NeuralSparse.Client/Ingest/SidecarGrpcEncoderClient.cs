using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Configuration;
using NeuralSparse.Grpc.V1;

namespace NeuralSparse.Client.Ingest;

/// <summary>
/// The sidecar's gRPC API (<c>neuralsparse.v1.SparseEncoder/Encode</c>) as an encoder, over a Grpc.Net.Client channel.
/// Make one channel per sidecar with <see cref="CreateChannel"/> and share it: it multiplexes calls over HTTP/2, retries
/// RESOURCE_EXHAUSTED and UNAVAILABLE with the library's retry policy (honouring the server's retry hint), and keeps idle
/// connections alive with pings. Each call is cancelled with the caller's token. Other statuses raise
/// <see cref="HttpRequestException"/> naming the status and the server's message, like <see cref="SidecarEncoderClient"/>.
/// </summary>
/// <param name="channel">A channel to the sidecar's gRPC port, from <see cref="CreateChannel"/>; the caller owns it.</param>
/// <param name="model">The served model's name.</param>
/// <param name="apiKey">The sidecar's API key, sent as <c>authorization: Bearer</c> metadata; null when the sidecar has none.</param>
public sealed class SidecarGrpcEncoderClient(GrpcChannel channel, string model, string? apiKey = null)
    : ISparseDocumentEncoder, ISparseQueryEncoder
{
    /// <summary>Attempts per call (the first and the retries) in the channel's retry policy by default.</summary>
    public const int DefaultMaxAttempts = 5;

    private readonly SparseEncoder.SparseEncoderClient _client = new(channel ?? throw new ArgumentNullException(nameof(channel)));
    private readonly Metadata? _headers = apiKey is null ? null : new Metadata { { "authorization", "Bearer " + apiKey } };

    /// <summary>
    /// A channel to the sidecar at <paramref name="address"/> (its gRPC port, e.g. <c>http://sidecar:8081</c>): retries of
    /// RESOURCE_EXHAUSTED (queue full) and UNAVAILABLE (loading, shutting down) with exponential back-off, and HTTP/2
    /// keep-alive pings so a connection through a load balancer is not silently dropped while idle.
    /// </summary>
    /// <param name="address">The sidecar's gRPC endpoint.</param>
    /// <param name="handler">
    /// The HTTP handler, for TLS settings such as a custom certificate authority; keep-alive settings are applied to it.
    /// Null for a new one. The channel disposes it.
    /// </param>
    /// <param name="maxAttempts">Attempts per call including the first (2 to 5; the library caps retries at 5 attempts).</param>
    public static GrpcChannel CreateChannel(Uri address, SocketsHttpHandler? handler = null, int maxAttempts = DefaultMaxAttempts)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxAttempts, 2);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxAttempts, 5);
        handler ??= new SocketsHttpHandler();
        handler.PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan;
        handler.KeepAlivePingDelay = TimeSpan.FromSeconds(60);
        handler.KeepAlivePingTimeout = TimeSpan.FromSeconds(30);
        handler.KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests;
        handler.EnableMultipleHttp2Connections = true;

        var retry = new MethodConfig
        {
            Names = { MethodName.Default },
            RetryPolicy = new RetryPolicy
            {
                MaxAttempts = maxAttempts,
                InitialBackoff = TimeSpan.FromMilliseconds(100),
                MaxBackoff = TimeSpan.FromSeconds(5),
                BackoffMultiplier = 2,
                RetryableStatusCodes = { StatusCode.ResourceExhausted, StatusCode.Unavailable },
            },
        };
        return GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            ServiceConfig = new ServiceConfig { MethodConfigs = { retry } },
        });
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<IReadOnlyDictionary<string, float>>> EncodeDocumentsAsync(IReadOnlyList<string> texts, CancellationToken cancellationToken) =>
        EncodeAsync(texts, EncodeKind.Document, cancellationToken);

    /// <inheritdoc />
    public async Task<IReadOnlyDictionary<string, float>> EncodeQueryAsync(string query, CancellationToken cancellationToken) =>
        (await EncodeAsync([query], EncodeKind.Query, cancellationToken))[0];

    private async Task<IReadOnlyList<IReadOnlyDictionary<string, float>>> EncodeAsync(IReadOnlyList<string> texts, EncodeKind kind, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var request = new EncodeRequest { Model = model, Kind = kind, IncludeTokens = true, Texts = { texts } };
        EncodeResponse reply;
        try
        {
            reply = await _client.EncodeAsync(request, new CallOptions(_headers, cancellationToken: cancellationToken));
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("The encode call was cancelled.", ex, cancellationToken);
        }
        catch (RpcException ex)
        {
            throw new HttpRequestException($"The sidecar's gRPC Encode failed with status {(int)ex.StatusCode} ({ex.StatusCode}): {ex.Status.Detail}", ex);
        }

        return reply.Vectors.Count == texts.Count
            ? [.. reply.Vectors.Select(v => (IReadOnlyDictionary<string, float>)v.Tokens.Zip(v.Weights).ToDictionary(p => p.First, p => p.Second, StringComparer.Ordinal))]
            : throw new InvalidDataException($"The sidecar returned {reply.Vectors.Count} vectors for {texts.Count} texts.");
    }
}
