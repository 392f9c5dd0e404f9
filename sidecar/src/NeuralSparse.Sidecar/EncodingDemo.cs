using System.Diagnostics;
using System.Globalization;
using NeuralSparse.Core.Errors;
using NeuralSparse.Core.Inference;
using NeuralSparse.Core.Models;
using NeuralSparse.Core.Sparse;
using NeuralSparse.Onnx;

namespace NeuralSparse.Sidecar;

/// <summary>
/// The main job until the service exists: loads a model (a configured directory, or the generated demo model),
/// encodes sample documents and queries, and prints the top tokens and timings.
/// </summary>
internal static class EncodingDemo
{
    private static readonly string[] SampleDocuments =
    [
        "OpenSearch neural sparse search ranks documents by learned term weights stored as rank features.",
        "Currently New York is rainy.",
        "The two-phase search pipeline queries high-weight tokens first and rescores the top documents with the rest.",
        "ONNX Runtime executes the masked language model on CPU or CUDA.",
    ];

    private static readonly string[] SampleQueries = ["What's the weather in ny now?", "sparse retrieval speed"];

    public static Task<int> RunAsync(string[] args, TextWriter output, CancellationToken cancellationToken)
    {
        string? modelDirectory = null;
        var options = new OnnxBackendOptions();
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--model-dir" when i + 1 < args.Length:
                    modelDirectory = args[++i];
                    break;
                case "--device" when i + 1 < args.Length:
                    options = options with { Device = Enum.Parse<ExecutionDevice>(args[++i], ignoreCase: true) };
                    break;
                case "--threads" when i + 1 < args.Length:
                    options = options with { IntraOpThreads = int.Parse(args[++i], CultureInfo.InvariantCulture) };
                    break;
                default:
                    output.WriteLine("usage: NeuralSparse.Sidecar [--model-dir <dir>] [--device cpu|cuda] [--threads <n>]");
                    return Task.FromResult(2);
            }
        }

        try
        {
            Run(DemoModelLocator.Resolve(modelDirectory, output), options, output, cancellationToken);
            return Task.FromResult(0);
        }
        catch (Exception ex) when (ex is NeuralSparseException or InvalidOperationException)
        {
            output.WriteLine($"error: {ex.Message}");
            return Task.FromResult(1);
        }
    }

    private static void Run(string modelDirectory, OnnxBackendOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        var load = Stopwatch.StartNew();
        SparseModelDefinition model = ModelDirectory.Load(modelDirectory);
        using var encoder = new SparseEncoder(model, OnnxSparseModelBackend.Create(model, options));
        load.Stop();

        output.WriteLine($"Model '{model.Name}' ({model.Mode}, {model.Activation}, max {model.MaxLength} tokens) from {model.Directory}");
        output.WriteLine($"Backend: {encoder.BackendDescription}; loaded in {load.Elapsed.TotalMilliseconds:F0} ms");
        if (model.Synthetic)
        {
            output.WriteLine("NOTE: this is a GENERATED model with random weights, NOT a trained model: the tokens below show the pipeline, not relevance.");
        }

        encoder.EncodeDocuments(["warm-up"], cancellationToken: cancellationToken);
        var encode = Stopwatch.StartNew();
        IReadOnlyList<SparseVector> documents = encoder.EncodeDocuments(SampleDocuments, cancellationToken: cancellationToken);
        encode.Stop();
        output.WriteLine();
        output.WriteLine($"Encoded {documents.Count} documents in {encode.Elapsed.TotalMilliseconds:F1} ms:");
        for (int i = 0; i < documents.Count; i++)
        {
            output.WriteLine($"  [{i}] {documents[i].Count} tokens; top: {TopTokens(documents[i], model)}");
        }

        var query = Stopwatch.StartNew();
        IReadOnlyList<SparseVector> queries = encoder.EncodeQueries(SampleQueries, cancellationToken: cancellationToken);
        query.Stop();
        string how = model.Mode == SparseModelMode.DocOnly ? "idf table, no model run" : "the model";
        output.WriteLine();
        output.WriteLine($"Encoded {queries.Count} queries through {how} in {query.Elapsed.TotalMilliseconds:F2} ms:");
        for (int i = 0; i < queries.Count; i++)
        {
            output.WriteLine($"  \"{SampleQueries[i]}\" -> {TopTokens(queries[i], model)}; score vs document 1: {queries[i].Dot(documents[1]):F4}");
        }
    }

    private static string TopTokens(SparseVector vector, SparseModelDefinition model, int count = 6) =>
        string.Join(", ", vector.TokenIds
            .Select((id, i) => (Token: model.Tokenizer.IdToToken(id), Weight: vector.Weights[i]))
            .OrderByDescending(p => p.Weight)
            .Take(count)
            .Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Token}:{p.Weight:F3}")));
}
