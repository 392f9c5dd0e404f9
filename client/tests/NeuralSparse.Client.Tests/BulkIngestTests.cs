using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using NeuralSparse.Client.Ingest;
using NeuralSparse.Client.Transport;

namespace NeuralSparse.Client.Tests;

public sealed class BulkIngestTests
{
    private static readonly BulkIngestOptions FastOptions = new() { BatchSize = 4, MaxParallelBatches = 2, RetryBaseDelay = TimeSpan.FromMilliseconds(1) };

    [Fact]
    public async Task Ingest_WritesTextAndVectorPerDocument_BypassingTheIngestPipeline()
    {
        var cluster = new FakeCluster((_, _) => 201);
        var ingester = new PreEncodedBulkIngester(cluster, new FakeEncoder(), FastOptions);

        BulkIngestResult result = await ingester.IngestAsync("idx", Documents(2, fields: true));

        Assert.Equal(2, result.Indexed);
        Assert.Empty(result.Failures);
        (string path, string[] lines) = Assert.Single(cluster.Requests);
        Assert.Equal("/idx/_bulk?pipeline=_none", path);
        Assert.Equal("""{"index":{"_id":"doc-0"}}""", lines[0]);
        QueryJsonTests.AssertJson("""{"lang":"en","passage_text":"text 0","passage_embedding":{"text":1,"0":2}}""", JsonNode.Parse(lines[1])!);
    }

    [Fact]
    public async Task RejectedItems_AreResentUntilIndexed_PermanentFailuresReported_NothingLost()
    {
        // doc-3 gets 429 twice, doc-5 a 503 once, doc-6 a mapping error: permanent.
        var rejections = new Dictionary<string, int> { ["doc-3"] = 2, ["doc-5"] = 1 };
        var cluster = new FakeCluster((id, _) =>
        {
            if (id == "doc-6")
            {
                return 400;
            }

            lock (rejections)
            {
                if (rejections.TryGetValue(id, out int left) && left > 0)
                {
                    rejections[id] = left - 1;
                    return id == "doc-3" ? 429 : 503;
                }
            }

            return 201;
        })
        { ValidateResponses = true };
        var progress = new List<BulkIngestProgress>();
        var ingester = new PreEncodedBulkIngester(cluster, new FakeEncoder(), FastOptions);

        BulkIngestResult result = await ingester.IngestAsync("idx", Documents(10), new SynchronousProgress(progress));

        Assert.Equal(9, result.Indexed);
        BulkFailure failure = Assert.Single(result.Failures);
        Assert.Equal(("doc-6", 400, "mapper_parsing_exception"), (failure.Id, failure.Status, failure.ErrorType));
        Assert.Equal(3, result.Retried);
        Assert.Equal(10, result.Indexed + result.Failures.Count);
        Assert.Equal(new BulkIngestProgress(9, 1, 3), progress[^1]);
        Assert.True(cluster.ResponseSchemaErrors.Count == 0, string.Join("\n", cluster.ResponseSchemaErrors));
    }

    [Fact]
    public async Task ItemsRejectedBeyondTheRetryBudget_AreReportedNotDropped()
    {
        var cluster = new FakeCluster((id, _) => id == "doc-1" ? 429 : 201);
        var ingester = new PreEncodedBulkIngester(cluster, new FakeEncoder(), FastOptions with { MaxItemRetries = 2 });

        BulkIngestResult result = await ingester.IngestAsync("idx", Documents(3));

        Assert.Equal(2, result.Indexed);
        Assert.Equal("doc-1", Assert.Single(result.Failures).Id);
        Assert.Contains("after 2 retries", result.Failures[0].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EncoderDown_FailsItsBatchWithTheReason()
    {
        var ingester = new PreEncodedBulkIngester(new FakeCluster((_, _) => 201), new FakeEncoder { Failure = "sidecar unreachable" }, FastOptions);

        BulkIngestResult result = await ingester.IngestAsync("idx", Documents(5));

        Assert.Equal(0, result.Indexed);
        Assert.Equal(5, result.Failures.Count);
        Assert.All(result.Failures, f => Assert.Equal("encoder_error", f.ErrorType));
    }

    [Fact]
    public async Task LargeStreamingCorpus_KeepsAtMostTheConfiguredDocumentsInFlight()
    {
        var encoder = new FakeEncoder();
        var ingester = new PreEncodedBulkIngester(new FakeCluster((_, _) => 201), encoder, FastOptions);
        var source = new CountingSource(5_000);

        BulkIngestResult result = await ingester.IngestAsync("idx", source.Read(() => encoder.Completed));

        Assert.Equal(5_000, result.Indexed);

        // Documents read from the source but not yet encoded: the channel's batches, the workers' batches and the one being filled.
        int bound = (FastOptions.MaxParallelBatches * 2 + 1) * FastOptions.BatchSize;
        Assert.True(source.MaxAhead <= bound, $"{source.MaxAhead} documents were read ahead; the bound is {bound}");
    }

    [Fact]
    public async Task Cancellation_StopsTheIngest()
    {
        using var cancellation = new CancellationTokenSource();
        var ingester = new PreEncodedBulkIngester(new FakeCluster((_, _) => 201), new FakeEncoder { OnEncode = cancellation.Cancel }, FastOptions);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ingester.IngestAsync("idx", Documents(100), cancellationToken: cancellation.Token));
    }

    private static async IAsyncEnumerable<BulkDocument> Documents(int count, bool fields = false)
    {
        for (int i = 0; i < count; i++)
        {
            await Task.Yield();
            yield return new BulkDocument($"doc-{i}", $"text {i}", fields ? new JsonObject { ["lang"] = "en" } : null);
        }
    }

    /// <summary>A source that records how far reading runs ahead of encoding.</summary>
    private sealed class CountingSource(int count)
    {
        public int MaxAhead { get; private set; }

        public async IAsyncEnumerable<BulkDocument> Read(Func<int> encoded, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            for (int i = 0; i < count; i++)
            {
                await Task.Yield();
                MaxAhead = Math.Max(MaxAhead, i + 1 - encoded());
                yield return new BulkDocument($"doc-{i}", $"text {i}");
            }
        }
    }

    /// <summary>Encodes each text as {word: position + 1}.</summary>
    private sealed class FakeEncoder : ISparseDocumentEncoder
    {
        private int _completed;

        public string? Failure { get; init; }

        public Action? OnEncode { get; init; }

        public int Completed => Volatile.Read(ref _completed);

        public async Task<IReadOnlyList<IReadOnlyDictionary<string, float>>> EncodeDocumentsAsync(IReadOnlyList<string> texts, CancellationToken cancellationToken)
        {
            OnEncode?.Invoke();
            await Task.Delay(1, cancellationToken);
            if (Failure is not null)
            {
                throw new HttpRequestException(Failure);
            }

            Interlocked.Add(ref _completed, texts.Count);
            return [.. texts.Select(t => (IReadOnlyDictionary<string, float>)t.Split(' ').Select((w, i) => (w, i)).ToDictionary(p => p.w, p => p.i + 1f))];
        }
    }

    /// <summary>A _bulk endpoint whose per-item status comes from a script (id, attempt).</summary>
    private sealed class FakeCluster(Func<string, int, int> status) : IOpenSearchTransport
    {
        public List<(string Path, string[] Lines)> Requests { get; } = [];

        /// <summary>Check each canned response against the API spec (slow: one validation per _bulk call).</summary>
        public bool ValidateResponses { get; init; }

        /// <summary>Where a canned _bulk response disagrees with the API spec's schema.</summary>
        public List<string> ResponseSchemaErrors { get; } = [];

        public Task<OpenSearchResponse> SendAsync(OpenSearchRequest request, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            string[] lines = request.NdJson!.TrimEnd('\n').Split('\n');
            lock (Requests)
            {
                Requests.Add((request.Path, lines));
            }

            var items = new JsonArray();
            for (int i = 0; i < lines.Length; i += 2)
            {
                string id = JsonNode.Parse(lines[i])!["index"]!["_id"]!.GetValue<string>();
                int code = status(id, 0);
                var result = new JsonObject { ["_index"] = "idx", ["_id"] = id, ["status"] = code };
                if (code >= 300)
                {
                    result["error"] = new JsonObject
                    {
                        ["type"] = code == 400 ? "mapper_parsing_exception" : "es_rejected_execution_exception",
                        ["reason"] = code == 400 ? "failed to parse field [passage_embedding]" : "rejected",
                    };
                }

                items.Add(new JsonObject { ["index"] = result });
            }

            var body = new JsonObject { ["took"] = 3, ["errors"] = items.Any(i => i!["index"]!["status"]!.GetValue<int>() >= 300), ["items"] = items };
            if (ValidateResponses && NeuralSparse.Tests.Schema.OpenSearchSpec.Find() is { } spec)
            {
                lock (Requests)
                {
                    ResponseSchemaErrors.AddRange(spec.ValidateResponse("_core.yaml", "bulk@200", body));
                }
            }

            return Task.FromResult(new OpenSearchResponse(200, body.ToJsonString(), new Uri("http://fake:9200")));
        }
    }

    /// <summary>Progress&lt;T&gt; posts to the thread pool; tests need the reports in order and complete.</summary>
    private sealed class SynchronousProgress(List<BulkIngestProgress> reports) : IProgress<BulkIngestProgress>
    {
        public void Report(BulkIngestProgress value)
        {
            lock (reports)
            {
                reports.Add(value);
            }
        }
    }
}
