using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Extensions.Options;
using NeuralSparse.Core.Errors;
using NeuralSparse.Core.Inference;
using NeuralSparse.Core.Models;
using NeuralSparse.Core.Sparse;
using NeuralSparse.Core.Tokenization;
using NeuralSparse.Onnx;
using NeuralSparse.Sidecar.Configuration;
using NeuralSparse.Sidecar.Hosting;

namespace NeuralSparse.Sidecar.Http;

/// <summary>
/// The REST API. Encode routes speak the ml-commons remote-connector contract: a JSON array of strings (or
/// <c>{"texts": [...], "sparse_embedding_format": ...}</c>) in, one flat <c>{token: weight}</c> map per text out, in order,
/// as a bare array (or <c>{"response": [...]}</c> with <c>?envelope=response</c>).
/// </summary>
internal static class HttpApi
{
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static void Map(WebApplication app)
    {
        app.MapPost("/v1/documents", (HttpContext c) => EncodeAsync(c, null, EncodeKind.Document));
        app.MapPost("/v1/queries", (HttpContext c) => EncodeAsync(c, null, EncodeKind.Query));
        app.MapPost("/v1/models/{model}/documents", (HttpContext c, string model) => EncodeAsync(c, model, EncodeKind.Document));
        app.MapPost("/v1/models/{model}/queries", (HttpContext c, string model) => EncodeAsync(c, model, EncodeKind.Query));

        // One URL for both sides of an asymmetric remote model: the body's content_type picks documents or queries.
        app.MapPost("/v1/encode", (HttpContext c) => EncodeAsync(c, null, null));
        app.MapPost("/v1/models/{model}/encode", (HttpContext c, string model) => EncodeAsync(c, model, null));
        app.MapPost("/v1/tokenize", TokenizeAsync);
        app.MapPost("/v1/decode", DecodeAsync);
        app.MapGet("/v1/info", InfoAsync);
        app.MapGet("/health/live", () => Results.Text("alive\n"));
        app.MapGet("/health/ready", (ModelHost host) => host.IsReady
            ? Results.Text("ready\n")
            : Results.Text("not ready\n", statusCode: StatusCodes.Status503ServiceUnavailable));
    }

    /// <summary>Encodes for the route's kind, or (<paramref name="routeKind"/> null, the /encode routes) the body's content_type.</summary>
    private static async Task EncodeAsync(HttpContext context, string? model, EncodeKind? routeKind)
    {
        IServiceProvider services = context.RequestServices;
        EncodeScheduler scheduler = services.GetRequiredService<ModelHost>().Resolve(model);
        LimitsOptions limits = services.GetRequiredService<IOptions<SidecarOptions>>().Value.Limits;
        using JsonDocument body = await ReadJsonAsync(context, limits);
        EncodeHttpRequest request = EncodeRequestParser.Parse(body.RootElement, limits);
        EncodeKind kind = (routeKind, request.ContentType) switch
        {
            (null, null) => throw new NeuralSparseException(NeuralSparseErrorKind.Validation,
                "This route serves asymmetric models: send {\"texts\": [...], \"content_type\": \"query\"|\"passage\"}, or use /documents or /queries."),
            (null, { } fromBody) => fromBody,
            ({ } fromRoute, null) => fromRoute,
            ({ } fromRoute, { } fromBody) when fromRoute == fromBody => fromRoute,
            _ => throw new NeuralSparseException(NeuralSparseErrorKind.Validation,
                $"\"content_type\" asks for {(request.ContentType == EncodeKind.Query ? "a query" : "a passage")} encoding on a {(routeKind == EncodeKind.Query ? "/queries" : "/documents")} route; use /encode."),
        };

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        timeout.CancelAfter(TimeSpan.FromSeconds(limits.RequestTimeoutSeconds));
        IReadOnlyList<SparseVector> vectors;
        try
        {
            vectors = await scheduler.EncodeAsync(request.Texts, kind, request.Prune, timeout.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
        {
            throw new NeuralSparseException(NeuralSparseErrorKind.DeadlineExceeded,
                $"Encoding took longer than {limits.RequestTimeoutSeconds} s (NeuralSparse:Limits:RequestTimeoutSeconds); retry, or send fewer texts per request.");
        }

        bool envelope = string.Equals(context.Request.Query["envelope"], "response", StringComparison.OrdinalIgnoreCase);
        await WriteJsonAsync(context, writer => SparseJsonWriter.Write(writer, vectors, scheduler.Encoder.Model.Tokenizer, request.Format, envelope));
    }

    private static async Task TokenizeAsync(HttpContext context)
    {
        (JsonDocument body, EncodeScheduler scheduler, LimitsOptions limits) = await ReadWithModelAsync(context);
        using (body)
        {
            JsonElement root = body.RootElement;
            JsonElement textsElement = root.ValueKind == JsonValueKind.Object
                ? root.TryGetProperty("texts", out JsonElement t) ? t : root.TryGetProperty("text", out JsonElement one) ? one
                    : throw new NeuralSparseException(NeuralSparseErrorKind.Validation, "Send {\"texts\": [...]} or {\"text\": \"...\"}.")
                : root;
            List<string> texts = EncodeRequestParser.ReadTexts(textsElement, "texts");
            EncodeRequestParser.CheckLimits(texts, limits);
            WordPieceTokenizer tokenizer = scheduler.Encoder.Model.Tokenizer;

            await WriteJsonAsync(context, writer =>
            {
                writer.WriteStartArray();
                foreach (string text in texts)
                {
                    int[] ids = scheduler.Encoder.Tokenize(text);
                    writer.WriteStartObject();
                    writer.WriteStartArray("ids");
                    foreach (int id in ids)
                    {
                        writer.WriteNumberValue(id);
                    }

                    writer.WriteEndArray();
                    writer.WriteStartArray("tokens");
                    foreach (int id in ids)
                    {
                        writer.WriteStringValue(tokenizer.IdToToken(id));
                    }

                    writer.WriteEndArray();
                    writer.WriteEndObject();
                }

                writer.WriteEndArray();
            });
        }
    }

    private static async Task DecodeAsync(HttpContext context)
    {
        (JsonDocument body, EncodeScheduler scheduler, _) = await ReadWithModelAsync(context);
        using (body)
        {
            JsonElement root = body.RootElement;
            JsonElement ids = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("ids", out JsonElement i) ? i : root;
            if (ids.ValueKind != JsonValueKind.Array)
            {
                throw new NeuralSparseException(NeuralSparseErrorKind.Validation, "Send {\"ids\": [101, 7592, ...]} or a list of such lists.");
            }

            bool nested = ids.GetArrayLength() > 0 && ids[0].ValueKind == JsonValueKind.Array;
            WordPieceTokenizer tokenizer = scheduler.Encoder.Model.Tokenizer;

            // Validate everything before the first byte: an error after the response starts could only truncate it.
            List<int[]> sequences = [.. (nested ? ids.EnumerateArray().ToArray() : [ids]).Select(s => ReadIds(s, tokenizer.VocabularySize))];
            await WriteJsonAsync(context, writer =>
            {
                writer.WriteStartArray();
                foreach (int[] values in sequences)
                {
                    writer.WriteStartObject();
                    writer.WriteStartArray("tokens");
                    foreach (int id in values)
                    {
                        writer.WriteStringValue(tokenizer.IdToToken(id));
                    }

                    writer.WriteEndArray();
                    writer.WriteString("text", tokenizer.Decode(values));
                    writer.WriteEndObject();
                }

                writer.WriteEndArray();
            });
        }
    }

    private static Task InfoAsync(HttpContext context)
    {
        ModelHost host = context.RequestServices.GetRequiredService<ModelHost>();
        return WriteJsonAsync(context, writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("service", "neural-sparse-sidecar");
            writer.WriteString("version", typeof(HttpApi).Assembly.GetName().Version?.ToString());
            writer.WriteString("runtime", "ONNX Runtime " + OnnxSparseModelBackend.RuntimeVersion);
            writer.WriteBoolean("ready", host.IsReady);
            writer.WriteStartArray("models");
            foreach (EncodeScheduler scheduler in host.Schedulers)
            {
                SparseModelDefinition model = scheduler.Encoder.Model;
                writer.WriteStartObject();
                writer.WriteString("name", model.Name);
                writer.WriteString("mode", ModelWireNames.Of(model.Mode));
                writer.WriteString("activation", ModelWireNames.Of(model.Activation));
                writer.WriteNumber("maxLength", model.MaxLength);
                writer.WriteNumber("vocabularySize", model.Tokenizer.VocabularySize);
                writer.WriteString("preset", model.Preset?.HubName);
                writer.WriteBoolean("synthetic", model.Synthetic);
                writer.WriteString("backend", scheduler.Encoder.BackendDescription);
                writer.WriteString("executionProvider", OnnxSparseModelBackend.ExecutionProviderOf(scheduler.Encoder));
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        });
    }

    /// <summary>
    /// Sends a JSON answer in one piece with its Content-Length. Streamed without a length, the answer went out
    /// chunked, and its closing chunk only after the rest of the request pipeline had run, so a client could not
    /// finish reading until then; with the length, headers and body leave in one write.
    /// </summary>
    private static async Task WriteJsonAsync(HttpContext context, Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            write(writer);
        }

        context.Response.ContentType = "application/json";
        context.Response.ContentLength = buffer.WrittenCount;
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
    }

    private static async Task<(JsonDocument Body, EncodeScheduler Scheduler, LimitsOptions Limits)> ReadWithModelAsync(HttpContext context)
    {
        LimitsOptions limits = context.RequestServices.GetRequiredService<IOptions<SidecarOptions>>().Value.Limits;
        string? model = context.Request.Query["model"];
        EncodeScheduler scheduler = context.RequestServices.GetRequiredService<ModelHost>().Resolve(model);
        return (await ReadJsonAsync(context, limits), scheduler, limits);
    }

    private static async Task<JsonDocument> ReadJsonAsync(HttpContext context, LimitsOptions limits)
    {
        HttpRequest request = context.Request;
        if (request.ContentType is not { } contentType
            || !(contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) || contentType.Contains("+json", StringComparison.OrdinalIgnoreCase)))
        {
            throw new NeuralSparseException(NeuralSparseErrorKind.UnsupportedMediaType,
                $"Content-Type must be application/json; got '{request.ContentType ?? "none"}'.");
        }

        if (request.ContentLength > limits.MaxRequestBytes)
        {
            throw new NeuralSparseException(NeuralSparseErrorKind.PayloadTooLarge,
                $"The body has {request.ContentLength} bytes; the limit is {limits.MaxRequestBytes} (NeuralSparse:Limits:MaxRequestBytes).");
        }

        return await JsonDocument.ParseAsync(request.Body, new JsonDocumentOptions { MaxDepth = 16 }, context.RequestAborted);
    }

    private static int[] ReadIds(JsonElement sequence, int vocabularySize)
    {
        if (sequence.ValueKind != JsonValueKind.Array)
        {
            throw new NeuralSparseException(NeuralSparseErrorKind.Validation, "Each id list must be an array of integers.");
        }

        var ids = new int[sequence.GetArrayLength()];
        int index = 0;
        foreach (JsonElement id in sequence.EnumerateArray())
        {
            ids[index] = id.ValueKind == JsonValueKind.Number && id.TryGetInt32(out int value) && value >= 0 && value < vocabularySize
                ? value
                : throw new NeuralSparseException(NeuralSparseErrorKind.Validation, $"ids[{index}] must be an integer in [0, {vocabularySize}); got {id.GetRawText()}.");
            index++;
        }

        return ids;
    }
}
