using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using NeuralSparse.Client.Transport;

namespace NeuralSparse.Client.Ingest;

/// <summary>A document to ingest: its id, the text to encode, and other source fields.</summary>
public sealed record BulkDocument(string Id, string Text, JsonObject? Fields = null);

/// <summary>A document that could not be indexed, with OpenSearch's (or the encoder's) reason.</summary>
public sealed record BulkFailure(string Id, int? Status, string? ErrorType, string Reason);

/// <summary>Running totals, reported after each batch.</summary>
public sealed record BulkIngestProgress(long Indexed, long Failed, long Retried);

/// <summary>The outcome: every document is either indexed or listed in <see cref="Failures"/>.</summary>
public sealed record BulkIngestResult(long Indexed, long Retried, IReadOnlyList<BulkFailure> Failures);

/// <summary>Settings of <see cref="PreEncodedBulkIngester"/>.</summary>
public sealed record BulkIngestOptions
{
    /// <summary>Field holding the text in the indexed source. Defaults to <c>passage_text</c>.</summary>
    public string TextField { get; init; } = "passage_text";

    /// <summary>The <c>rank_features</c> (or <c>sparse_vector</c>) field for the vector. Defaults to <c>passage_embedding</c>.</summary>
    public string VectorField { get; init; } = "passage_embedding";

    /// <summary>Documents per encode call and per <c>_bulk</c> request. Defaults to 32.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Batches encoded and indexed at once; with <see cref="BatchSize"/> this bounds memory. Defaults to 4.</summary>
    public int MaxParallelBatches { get; init; } = 4;

    /// <summary>How often an item that got 429 or 5xx is sent again before it is reported as failed. Defaults to 5.</summary>
    public int MaxItemRetries { get; init; } = 5;

    /// <summary>First wait before re-sending rejected items; doubles per round. Defaults to 200 ms.</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Add <c>?pipeline=_none</c>, so a default ingest pipeline does not encode the text again. Defaults to true.</summary>
    public bool BypassIngestPipeline { get; init; } = true;

    /// <summary>
    /// Send <c>create</c> instead of <c>index</c> actions: a document whose id already exists is refused with 409
    /// (<c>version_conflict_engine_exception</c>, reported in the failures) instead of overwritten. A run resumed after
    /// a crash uses it so that no document is indexed twice. Defaults to false.
    /// </summary>
    public bool CreateOnly { get; init; }
}

/// <summary>
/// Ingest with vectors encoded up front (by the sidecar), bypassing ml-commons at ingest: streams documents in
/// batches, encodes each batch, <c>_bulk</c>-indexes it with its vectors, re-sends items rejected with 429/5xx with
/// back-off, and reports permanent failures with ids and reasons. Nothing is dropped silently, and at most
/// <see cref="BulkIngestOptions.MaxParallelBatches"/> × <see cref="BulkIngestOptions.BatchSize"/> documents are in
/// memory, whatever the corpus size.
/// </summary>
public sealed class PreEncodedBulkIngester(IOpenSearchTransport transport, ISparseDocumentEncoder encoder, BulkIngestOptions? options = null)
{
    private readonly BulkIngestOptions _options = options ?? new BulkIngestOptions();

    private string Action => _options.CreateOnly ? "create" : "index";

    /// <summary>Ingests <paramref name="documents"/> into <paramref name="index"/>.</summary>
    public async Task<BulkIngestResult> IngestAsync(
        string index, IAsyncEnumerable<BulkDocument> documents, IProgress<BulkIngestProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(index);
        ArgumentNullException.ThrowIfNull(documents);
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.BatchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxParallelBatches, 1);

        var totals = new Totals();
        var failures = new List<BulkFailure>();
        var batches = Channel.CreateBounded<List<BulkDocument>>(new BoundedChannelOptions(_options.MaxParallelBatches) { SingleWriter = true });
        Task[] workers = [.. Enumerable.Range(0, _options.MaxParallelBatches).Select(_ => Task.Run(async () =>
        {
            await foreach (List<BulkDocument> batch in batches.Reader.ReadAllAsync(cancellationToken))
            {
                IReadOnlyList<BulkFailure> batchFailures = await IngestBatchAsync(index, batch, totals, cancellationToken);
                lock (failures)
                {
                    failures.AddRange(batchFailures);
                    totals.Failed += batchFailures.Count;
                    progress?.Report(new BulkIngestProgress(totals.Indexed, totals.Failed, totals.Retried));
                }
            }
        }, cancellationToken))];

        try
        {
            var batch = new List<BulkDocument>(_options.BatchSize);
            await foreach (BulkDocument document in documents.WithCancellation(cancellationToken))
            {
                batch.Add(document);
                if (batch.Count == _options.BatchSize)
                {
                    await batches.Writer.WriteAsync(batch, cancellationToken); // waits while the workers are busy: bounded memory
                    batch = new List<BulkDocument>(_options.BatchSize);
                }
            }

            if (batch.Count > 0)
            {
                await batches.Writer.WriteAsync(batch, cancellationToken);
            }
        }
        finally
        {
            batches.Writer.TryComplete();
        }

        await Task.WhenAll(workers);
        return new BulkIngestResult(totals.Indexed, totals.Retried, failures);
    }

    private async Task<IReadOnlyList<BulkFailure>> IngestBatchAsync(string index, List<BulkDocument> batch, Totals totals, CancellationToken cancellationToken)
    {
        IReadOnlyList<IReadOnlyDictionary<string, float>> vectors;
        try
        {
            vectors = await encoder.EncodeDocumentsAsync([.. batch.Select(d => d.Text)], cancellationToken);
        }
        catch (Exception ex) when (ex is HttpRequestException or InvalidDataException or System.Text.Json.JsonException)
        {
            return [.. batch.Select(d => new BulkFailure(d.Id, null, "encoder_error", ex.Message))];
        }

        var pending = batch.Select((d, i) => (Document: d, Vector: vectors[i])).ToList();
        var failures = new List<BulkFailure>();
        for (int round = 0; pending.Count > 0; round++)
        {
            if (round > 0)
            {
                Interlocked.Add(ref totals.Retried, pending.Count);
                await Task.Delay(TimeSpan.FromTicks(_options.RetryBaseDelay.Ticks * (1L << Math.Min(round - 1, 10))), cancellationToken);
            }

            string path = $"/{Uri.EscapeDataString(index)}/_bulk" + (_options.BypassIngestPipeline ? "?pipeline=_none" : string.Empty);
            OpenSearchResponse response = await SendBulkAsync(path, pending, cancellationToken);
            var retry = new List<(BulkDocument, IReadOnlyDictionary<string, float>)>();
            if (!response.IsSuccess)
            {
                // The whole request failed after the transport's own retries.
                if (response.Status is 429 or >= 500 && round < _options.MaxItemRetries)
                {
                    continue; // the same items again, after the back-off
                }

                failures.AddRange(pending.Select(p => new BulkFailure(p.Document.Id, response.Status, "bulk_request_failed", response.Body)));
                break;
            }

            JsonArray items = response.Json?["items"]?.AsArray() ?? throw new InvalidDataException("The _bulk response has no items.");
            for (int i = 0; i < pending.Count; i++)
            {
                JsonNode? result = items[i]?[Action];
                int status = result?["status"]?.GetValue<int>() ?? 0;
                if (status is >= 200 and < 300)
                {
                    Interlocked.Increment(ref totals.Indexed);
                }
                else if ((status is 429 or >= 500) && round < _options.MaxItemRetries)
                {
                    retry.Add(pending[i]);
                }
                else
                {
                    JsonNode? error = result?["error"];
                    string reason = error?["reason"]?.GetValue<string>() ?? $"status {status}";
                    if (status is 429 or >= 500)
                    {
                        reason = $"still rejected ({status}) after {_options.MaxItemRetries} retries: {reason}";
                    }

                    failures.Add(new BulkFailure(pending[i].Document.Id, status, error?["type"]?.GetValue<string>(), reason));
                }
            }

            pending = retry;
        }

        return failures;
    }

    private Task<OpenSearchResponse> SendBulkAsync(string path, List<(BulkDocument Document, IReadOnlyDictionary<string, float> Vector)> items, CancellationToken cancellationToken)
    {
        var lines = new StringBuilder();
        foreach ((BulkDocument document, IReadOnlyDictionary<string, float> vector) in items)
        {
            lines.Append(new JsonObject { [Action] = new JsonObject { ["_id"] = document.Id } }.ToJsonString()).Append('\n');
            JsonObject source = document.Fields is null ? [] : (JsonObject)document.Fields.DeepClone();
            source[_options.TextField] = document.Text;
            source[_options.VectorField] = new JsonObject([.. vector.Select(t => KeyValuePair.Create<string, JsonNode?>(t.Key, JsonValue.Create(t.Value)))]);
            lines.Append(source.ToJsonString()).Append('\n');
        }

        return transport.SendAsync(new OpenSearchRequest(HttpMethod.Post, path, NdJson: lines.ToString()), cancellationToken);
    }

    private sealed class Totals
    {
        public long Indexed;
        public long Failed;
        public long Retried;
    }
}
