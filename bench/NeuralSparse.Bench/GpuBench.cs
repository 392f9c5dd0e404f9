using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using NeuralSparse.Core.Errors;
using NeuralSparse.Core.Inference;
using NeuralSparse.Core.Models;
using NeuralSparse.Core.Sparse;
using NeuralSparse.Core.Tokenization;
using NeuralSparse.Onnx;
using NeuralSparse.Onnx.Graph;

namespace NeuralSparse.Bench;

/// <summary>
/// Part <c>gpu</c>: the encoder on ONNX Runtime's CUDA provider (the Gpu flavor build), per model × weight precision
/// × head × sequence × batch: documents/s and per-batch latency of the whole encoder (tokenize, run, sparse
/// post-processing), the bare session run on the same graph, and the model's FLOPs per second against the card's
/// measured dense matrix rate (<c>--gpu-peak-tflops fp16,fp32</c>, measured by tools/gpu/ceilings.py in the same
/// call). Each measured window is appended to <c>--windows</c> so GPU utilisation sampled by nvidia-smi can be joined
/// to it. A configuration that fails (out of memory, an operator the provider lacks) prints its error and the part
/// goes on: GPU time is scarce and one bad row must not cost the others.
/// </summary>
internal static class GpuBench
{
    public static void Run(BenchSettings settings, WordPieceTokenizer tokenizer, Action<string> line)
    {
        using StreamWriter? windows = settings.WindowsFile is null ? null : new StreamWriter(settings.WindowsFile, append: false) { AutoFlush = true };
        line($"CUDA provider, device {settings.CudaDevice}; peaks measured on this card: fp16 {settings.GpuPeakTflops[0]:F0} TFLOP/s, fp32 {settings.GpuPeakTflops[1]:F0} TFLOP/s (TF32 off).");
        line(string.Empty);
        line("| model | weights | head | seq | batch | encoder docs/s | p50 ms/batch | p99 ms/batch | bare ORT docs/s | encoder / bare | tokens/s | TFLOP/s | of measured peak | load s |");
        line("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (string name in settings.Models)
        {
            foreach (string precision in settings.GpuPrecisions)
            {
                foreach (string head in settings.GpuHeads)
                {
                    RunModel(settings, tokenizer, line, windows, name, precision, head);
                }
            }
        }

        line(string.Empty);
        line("FLOPs per document: sparse-models.md §7 (the encoder's matrix products and the vocabulary projection over every token). "
            + "p50/p99: one EncodeDocuments call of `batch` texts of exactly `seq` tokens. Peak: fp16 weights against the fp16 rate, fp32 against the fp32 rate without TF32.");
    }

    private static void RunModel(BenchSettings settings, WordPieceTokenizer tokenizer, Action<string> line, StreamWriter? windows, string name, string precision, string head)
    {
        SparseModelPreset preset;
        SparseModelDefinition model;
        OnnxSparseModelBackend backend;
        var options = new OnnxBackendOptions
        {
            Device = ExecutionDevice.Cuda,
            CudaDeviceId = settings.CudaDevice,
            RequireDevice = settings.GpuRequired,
            GraphCacheDirectory = settings.GraphCache,
            WeightPrecision = precision == "fp16" ? WeightPrecision.Float16 : WeightPrecision.Float32,
            Head = head == "fused" ? HeadEvaluation.Fused : HeadEvaluation.GraphChunks,
            HeadChunkTokens = settings.ChunkTokens,
        };
        var load = Stopwatch.StartNew();
        try
        {
            (preset, model) = BenchModels.Load(settings, name);
            backend = OnnxSparseModelBackend.Create(model, options, NullLogger.Instance);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            line($"| {name} | {precision} | {head} | – | – | load failed: {OneLine(e)} | | | | | | | | |");
            return;
        }

        double loadSeconds = load.Elapsed.TotalSeconds;
        if (backend.Device != ExecutionDevice.Cuda)
        {
            line($"| {preset.ShortName} | {precision} | {head} | – | – | runs on {backend.ExecutionProvider}, not CUDA (--gpu-required false) | | | | | | | | |");
        }

        int[] sequences = [.. settings.Sequences.Where(s => s <= model.MaxLength)];
        int maxBatch = settings.Batches.Max();
        using var encoder = new SparseEncoder(model, backend,
            new SparseEncoderOptions { MaxBatchSize = maxBatch, MaxBatchTokens = maxBatch * sequences.DefaultIfEmpty(1).Max() });
        InferenceSession? bare = null;
        GraphSignature? signature = null;
        try
        {
            (byte[] graph, GraphSignature graphSignature, _, _, string graphDirectory) = OnnxSparseModelBackend.PrepareGraph(model, options, NullLogger.Instance);
            using SessionOptions sessionOptions = OnnxSparseModelBackend.BaseOptions(options, graphDirectory);
            if (backend.Device == ExecutionDevice.Cuda)
            {
                sessionOptions.AppendExecutionProvider_CUDA(settings.CudaDevice);
            }
            bare = new InferenceSession(graph, sessionOptions);
            signature = graphSignature;
        }
        catch (Exception e) when (e is OnnxRuntimeException or InvalidOperationException)
        {
            Console.Error.WriteLine($"bare session for {name} {precision} {head} not created: {OneLine(e)}");
        }

        try
        {
            double peak = settings.GpuPeakTflops[precision == "fp16" ? 0 : 1];
            foreach (int sequence in sequences)
            {
                foreach (int batch in settings.Batches)
                {
                    string label = $"{preset.ShortName} {precision} {head} {sequence}x{batch}";
                    try
                    {
                        string[] texts = Corpus.TextsOfExactTokens(tokenizer, batch, sequence, seed: (sequence * 100) + batch);
                        double start = UnixSeconds();
                        (double p50, double p99) = Percentiles(() => encoder.EncodeDocuments(texts, SparsePruneRule.None), settings.MinSeconds);
                        windows?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{label},{start:F3},{UnixSeconds():F3}"));
                        double bareRate = bare is null || signature is null
                            ? double.NaN
                            : batch / BareOrt.MedianSeconds(bare, signature, tokenizer, texts, sequence, settings.MinSeconds / 2);
                        double rate = batch / p50;
                        double tflops = rate * preset.FlopsPerDocument(sequence) / 1e12;
                        line(string.Create(CultureInfo.InvariantCulture,
                            $"| {preset.ShortName} | {precision} | {head} | {sequence} | {batch} | {rate:F1} | {p50 * 1e3:F2} | {p99 * 1e3:F2} | {bareRate:F1} | {rate / bareRate:F2} | {rate * sequence:N0} | {tflops:F1} | {(peak > 0 ? (tflops / peak).ToString("P1", CultureInfo.InvariantCulture) : "–")} | {loadSeconds:F1} |"));
                    }
                    catch (Exception e) when (e is OnnxRuntimeException or NeuralSparseException or InvalidOperationException)
                    {
                        line($"| {preset.ShortName} | {precision} | {head} | {sequence} | {batch} | failed: {OneLine(e)} | | | | | | | | |");
                    }
                }
            }
        }
        finally
        {
            bare?.Dispose();
        }
    }

    /// <summary>Median and 99th percentile of one call's wall time, after two warm-up calls (CUDA kernels, arena).</summary>
    private static (double P50, double P99) Percentiles(Action action, double minSeconds)
    {
        action();
        action();
        var runs = new List<double>();
        var total = Stopwatch.StartNew();
        while (runs.Count < 5 || (total.Elapsed.TotalSeconds < minSeconds && runs.Count < 2000))
        {
            long start = Stopwatch.GetTimestamp();
            action();
            runs.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
        }

        runs.Sort();
        return (runs[runs.Count / 2], runs[Math.Min(runs.Count - 1, (int)Math.Ceiling(runs.Count * 0.99) - 1)]);
    }

    private static double UnixSeconds() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1e3;

    private static string OneLine(Exception e) => e.Message.ReplaceLineEndings(" ").Replace('|', '/');
}
