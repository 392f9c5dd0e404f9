using System.Globalization;
using NeuralSparse.Core.Inference;
using NeuralSparse.Core.Models;
using NeuralSparse.Core.Sparse;
using NeuralSparse.Core.Tokenization;
using NeuralSparse.Onnx;
using NeuralSparse.Onnx.Diagnostics;
using NeuralSparse.Onnx.Graph;

namespace NeuralSparse.Bench;

/// <summary>
/// Part <c>int8</c>: the opt-in int8 weights against float32 in the same run: docs/s (32 × 128 tokens) and fidelity on
/// a generated corpus (token-set overlap, weight errors, rank agreement of query–document scores). The models are
/// generated; <c>--int8-dirs</c> adds model directories (e.g. PyTorch exports). Relevance with trained weights is not
/// measured.
/// </summary>
internal static class Int8Bench
{
    public static void Run(BenchSettings settings, WordPieceTokenizer tokenizer, Action<string> line)
    {
        line(string.Create(CultureInfo.InvariantCulture,
            $"int8 weights (per column, dynamic activations; {Int8WeightQuantizer.WeightRange} levels each side) against float32; fidelity over {settings.FidelityDocuments} generated documents and {settings.FidelityQueries} queries:"));
        line(string.Empty);
        line("| model | head | fp32 docs/s | int8 docs/s | int8 / fp32 | token-set overlap | max weight error | mean weight error | rank agreement (Spearman) | top-10 agreement |");
        line("|---|---|---|---|---|---|---|---|---|---|");
        var models = settings.Models.Where(n => n != "none").Select(n => (Name: n, Model: BenchModels.Load(settings, n).Model))
            .Concat(settings.Int8Directories.Select(d => (Name: Path.GetFileName(Path.TrimEndingDirectorySeparator(d)), Model: ModelDirectory.Load(d))));
        foreach ((string name, SparseModelDefinition model) in models)
        {
            var fp32Options = new OnnxBackendOptions { IntraOpThreads = settings.Threads };
            var batching = new SparseEncoderOptions { MaxBatchSize = 32, MaxBatchTokens = 32 * 128 };
            using var fp32 = new SparseEncoder(model, SparseModelBackends.Create(model, fp32Options), batching);
            string head = fp32.BackendDescription.Contains("chunks of", StringComparison.Ordinal) ? "chunked" : "fused (head not found)";
            using var int8 = new SparseEncoder(model, SparseModelBackends.Create(model, fp32Options with { Quantization = WeightQuantization.Int8 }), batching);

            string[] timed = Corpus.TextsOfExactTokens(tokenizer, 32, 128, seed: 128 * 100 + 32);
            double fp32Rate = 32 / Measure.MedianSeconds(() => fp32.EncodeDocuments(timed), settings.MinSeconds);
            double int8Rate = 32 / Measure.MedianSeconds(() => int8.EncodeDocuments(timed), settings.MinSeconds);

            string[] documents = Corpus.Documents(tokenizer, settings.FidelityDocuments, 100, seed: 91);
            string[] queries = Corpus.Documents(tokenizer, settings.FidelityQueries, 4, seed: 92);
            SparseFidelity f = SparseFidelity.Compare(
                fp32.EncodeDocuments(documents), int8.EncodeDocuments(documents), fp32.EncodeQueries(queries), int8.EncodeQueries(queries));
            line(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {head} | {fp32Rate:F2} | {int8Rate:F2} | {int8Rate / fp32Rate:F2} | {f.TokenOverlap:F3} | {f.MaxWeightError:F3} | {f.MeanWeightError:F4} | {f.RankAgreement:F3} | {f.TopTenAgreement:F2} |"));
        }

        line(string.Empty);
        line("Generated weights: this is numerical fidelity to float32, not relevance; relevance with trained weights is not measured here.");
    }
}
