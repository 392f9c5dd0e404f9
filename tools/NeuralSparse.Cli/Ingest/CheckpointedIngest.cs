using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using NeuralSparse.Cli.Hosting;
using NeuralSparse.Client.Ingest;
using NeuralSparse.Client.Transport;

namespace NeuralSparse.Cli.Ingest;

/// <summary>What <c>ingest</c> reads and where it keeps its state.</summary>
internal sealed record IngestSettings
{
    public required string Index { get; init; }

    public required string Input { get; init; }

    public string IdField { get; init; } = "_id";

    /// <summary>Fields joined (with a space) into the text to encode; the BEIR default is title then text.</summary>
    public IReadOnlyList<string> TextFields { get; init; } = ["title", "text"];

    public required string CheckpointPath { get; init; }

    public required string FailuresPath { get; init; }

    public bool Restart { get; init; }

    public BulkIngestOptions Bulk { get; init; } = new();
}

/// <summary>Running totals, for the display.</summary>
internal sealed record IngestSnapshot(long BytesDone, long TotalBytes, long Indexed, long AlreadyPresent, long Failed, long Retried, double DocumentsPerSecond, TimeSpan? Eta, bool Resumed);

/// <summary>
/// Ingest from a JSONL file with the SDK's <see cref="PreEncodedBulkIngester"/>, resumable without duplicates or
/// losses: the input is fed in chunks of a few batches; after each chunk the failures are appended to the failures
/// file and the checkpoint records the byte offset after the chunk. After a crash or Ctrl-C the next run truncates the
/// failures file to the checkpoint, starts at its offset, and sends <c>create</c> actions: documents the interrupted
/// chunk had already indexed answer 409 and are counted as already present, never indexed twice.
/// </summary>
internal sealed class CheckpointedIngest(IOpenSearchTransport transport, ISparseDocumentEncoder encoder, IngestSettings settings, TimeProvider time)
{
    public async Task<IngestSnapshot> RunAsync(Action<IngestSnapshot> report, CancellationToken cancellationToken)
    {
        string input = Path.GetFullPath(settings.Input);
        long length = File.Exists(input) ? new FileInfo(input).Length : throw new CliException($"{settings.Input} does not exist.");
        IngestCheckpoint? saved = settings.Restart ? null : IngestCheckpoint.Load(settings.CheckpointPath);
        if (saved is not null && (saved.Input != input || saved.InputLength != length || saved.Index != settings.Index))
        {
            throw new CliException($"{settings.CheckpointPath} belongs to another run ({saved.Input}, {saved.InputLength} bytes, index {saved.Index}); pass --restart to start over, or --checkpoint another file.");
        }

        bool resumed = saved is { Offset: > 0 };
        IngestCheckpoint checkpoint = saved ?? new IngestCheckpoint(input, length, settings.Index, 0, 0, 0, 0, 0, 0, 0);
        using var failures = new FileStream(settings.FailuresPath, FileMode.OpenOrCreate, FileAccess.Write, FileShare.Read);
        failures.SetLength(checkpoint.FailuresLength); // drop what the interrupted chunk wrote: its documents run again
        failures.Seek(0, SeekOrigin.End);
        checkpoint.Save(settings.CheckpointPath);

        var ingester = new PreEncodedBulkIngester(transport, encoder, settings.Bulk with { CreateOnly = settings.Bulk.CreateOnly || resumed });
        long startTime = time.GetTimestamp();
        long startOffset = checkpoint.Offset;
        long startDocuments = Documents(checkpoint);
        IngestSnapshot Snapshot(IngestCheckpoint at, long bytesDone, long extraDocuments, BulkIngestProgress? chunk)
        {
            double seconds = Math.Max(time.GetElapsedTime(startTime).TotalSeconds, 1e-3);
            long documents = Documents(at) + extraDocuments - startDocuments;
            double bytesPerSecond = (bytesDone - startOffset) / seconds;
            return new IngestSnapshot(
                bytesDone, length,
                at.Indexed + (chunk?.Indexed ?? 0), at.AlreadyPresent, at.Failed + (chunk?.Failed ?? 0), at.Retried + (chunk?.Retried ?? 0),
                documents / seconds,
                bytesPerSecond > 0 ? TimeSpan.FromSeconds((length - bytesDone) / bytesPerSecond) : null,
                resumed);
        }

        report(Snapshot(checkpoint, checkpoint.Offset, 0, null));
        using var stream = new FileStream(input, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        using IEnumerator<JsonLine> lines = JsonLines.Read(stream, checkpoint.Offset).GetEnumerator();
        int chunkSize = settings.Bulk.BatchSize * settings.Bulk.MaxParallelBatches * 4;
        long startLines = checkpoint.Lines;
        while (!checkpoint.Complete)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var documents = new List<BulkDocument>(chunkSize);
            var invalid = new List<BulkFailure>();
            long end = checkpoint.Offset, lineCount = 0;
            while (documents.Count + invalid.Count < chunkSize && lines.MoveNext())
            {
                JsonLine line = lines.Current;
                end = line.End;
                lineCount++;
                if (line.Bytes.Span.Trim(" \t\r"u8).IsEmpty)
                {
                    continue;
                }

                if (Parse(line.Bytes.Span, startLines + line.Number, out BulkDocument? document, out BulkFailure? failure))
                {
                    documents.Add(document);
                }
                else
                {
                    invalid.Add(failure);
                }
            }

            if (lineCount == 0)
            {
                end = length; // only a trailing newline was left
            }

            long chunkStart = checkpoint.Offset;
            IngestCheckpoint before = checkpoint;
            BulkIngestResult result = await ingester.IngestAsync(settings.Index, ToAsync(documents), new InlineProgress(p =>
                report(Snapshot(before, chunkStart + (long)((end - chunkStart) * ((double)(p.Indexed + p.Failed) / Math.Max(1, documents.Count))), p.Indexed + p.Failed, p))), cancellationToken);

            long alreadyPresent = 0;
            var written = new StringBuilder();
            foreach (BulkFailure failure in invalid.Concat(result.Failures))
            {
                if (resumed && failure.Status == 409)
                {
                    alreadyPresent++; // indexed by the interrupted run before its checkpoint
                    continue;
                }

                written.Append(JsonSerializer.Serialize(new FailureLine(failure.Id, failure.Status, failure.ErrorType, failure.Reason), IngestJson.Default.FailureLine)).Append('\n');
            }

            byte[] bytes = Encoding.UTF8.GetBytes(written.ToString());
            await failures.WriteAsync(bytes, CancellationToken.None);
            await failures.FlushAsync(CancellationToken.None);
            long failed = invalid.Count + result.Failures.Count - alreadyPresent;
            checkpoint = checkpoint with
            {
                Offset = end,
                Lines = checkpoint.Lines + lineCount,
                Indexed = checkpoint.Indexed + result.Indexed,
                AlreadyPresent = checkpoint.AlreadyPresent + alreadyPresent,
                Failed = checkpoint.Failed + failed,
                Retried = checkpoint.Retried + result.Retried,
                FailuresLength = failures.Position,
            };
            checkpoint.Save(settings.CheckpointPath);
            report(Snapshot(checkpoint, end, 0, null));
        }

        return Snapshot(checkpoint, length, 0, null);
    }

    private static long Documents(IngestCheckpoint c) => c.Indexed + c.AlreadyPresent + c.Failed;

    /// <summary>One input line → a document; a bad line becomes a failure naming its line number, not an abort.</summary>
    private bool Parse(ReadOnlySpan<byte> line, long number, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out BulkDocument? document, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out BulkFailure? failure)
    {
        document = null;
        failure = null;
        JsonObject? source;
        try
        {
            source = JsonNode.Parse(line) as JsonObject;
        }
        catch (JsonException ex)
        {
            failure = new BulkFailure($"line {number}", null, "invalid_input", $"line {number} is not JSON: {ex.Message}");
            return false;
        }

        if (source?[settings.IdField] is not JsonValue id || id.GetValueKind() is not (JsonValueKind.String or JsonValueKind.Number))
        {
            failure = new BulkFailure($"line {number}", null, "invalid_input", $"line {number} has no string '{settings.IdField}' field");
            return false;
        }

        var parts = new List<string>();
        foreach (string field in settings.TextFields)
        {
            if (source[field] is JsonValue value && value.GetValueKind() == JsonValueKind.String && value.GetValue<string>() is { Length: > 0 } text)
            {
                parts.Add(text);
            }

            source.Remove(field);
        }

        source.Remove(settings.IdField);
        document = new BulkDocument(id.GetValueKind() == JsonValueKind.String ? id.GetValue<string>() : id.ToJsonString(), string.Join(' ', parts), source.Count > 0 ? source : null);
        return true;
    }

    private static async IAsyncEnumerable<BulkDocument> ToAsync(List<BulkDocument> documents)
    {
        await Task.CompletedTask;
        foreach (BulkDocument document in documents)
        {
            yield return document;
        }
    }

    /// <summary>Reports on the caller's thread, in order (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class InlineProgress(Action<BulkIngestProgress> report) : IProgress<BulkIngestProgress>
    {
        public void Report(BulkIngestProgress value) => report(value);
    }
}

/// <summary>One line of the failures file.</summary>
internal sealed record FailureLine(string Id, int? Status, string? Type, string Reason);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(FailureLine))]
internal sealed partial class IngestJson : System.Text.Json.Serialization.JsonSerializerContext;
