using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using NeuralSparse.Bench;
using NeuralSparse.Core.Inference;
using NeuralSparse.Core.Models;
using NeuralSparse.Core.Models.Hub;
using NeuralSparse.Core.Sparse;
using NeuralSparse.Core.Tokenization;
using NeuralSparse.Onnx;
using NeuralSparse.Onnx.Graph;
using NeuralSparse.Onnx.Synthetic;

// Options: --bert-data <dir> (tokenizer.json + idf.json), --models a,b,c, --seq 128,256, --batch 1,8,32,
//          --threads N, --min-seconds S, --out <file.md>, --pin-threads true|false (encoder and latency parts),
//          --parts peak,tokenizer,load,encoder,budget,service,padding,head,int8,latency,gpu (default: the first six)
//          gpu: --gpu-precisions fp32,fp16 --gpu-heads graph-chunks,fused --gpu-peak-tflops FP16,FP32 --windows FILE --cuda-device N
//          --format hub|onnx (generated models as Hugging Face folders, the default, or as model.onnx directories)
//          head: --head-seq 128,256,512 --head-batch 32 --chunk-tokens 512 --steady-runs 3
//          latency: --query-model v2-distill --requests 200 --latency-variants before,now,tc-off,stop-spinning,worker,pgo-off,no-warm-up,warm-up-8s,workstation-gc,tp-spin-off,unpinned,inline-io --spin-between-runs true --paced-gap-ms 0 --transport-floor false;  int8: --fidelity-docs 100 --fidelity-queries 20 --int8-dirs d1,d2
if (args is [HeadMemoryBench.ChildSwitch, string childModel, string childVariant, string childBatch, string childSequence, .. string[] childOptions])
{
    BenchSettings child = BenchSettings.Parse(childOptions);
    return HeadMemoryBench.RunChild(child, childModel, childVariant, int.Parse(childBatch, CultureInfo.InvariantCulture),
        int.Parse(childSequence, CultureInfo.InvariantCulture), child.SteadyRuns);
}

var settings = BenchSettings.Parse(args);
var report = new StringBuilder();
var tokenizer = WordPieceTokenizer.Load(Path.Combine(settings.BertData, "tokenizer.json"));

Line($"Machine: {CpuName()}, {Environment.ProcessorCount} logical processors, {RuntimeInformation.OSDescription}");
Line($"Runtime: .NET {Environment.Version}, ONNX Runtime {OnnxSparseModelBackend.RuntimeVersion} ({(Part("gpu") ? "CUDA provider in part gpu, CPU elsewhere" : "CPU")}), {settings.Threads} intra-op threads");
Line($"Date: {DateTime.UtcNow:yyyy-MM-dd}");
Line();

// 1. The machine's measured float32 GEMM rate through ONNX Runtime: the ceiling for the encoder's FLOPs.
double peak = Part("peak") || Part("encoder") || Part("head") ? MatMulPeak.Measure(settings.Threads, settings.MinSeconds, Line) : double.NaN;
Line();

if (Part("tokenizer"))
{
    TokenizerBench.Run(tokenizer, Path.Combine(settings.BertData, "tokenizer.json"), settings.TokenizerBaseline, settings.MinSeconds, Line);
    Line();
}

if (Part("load"))
{
    LoadTime.Run(settings, settings.Models.Select(LoadModel), Line);
    Line();
}

if (Part("encoder"))
{
    EncoderTable();
    Line();
}

if (Part("budget"))
{
    BudgetTable();
    Line();
}

if (Part("service"))
{
    await ServiceLoad.RunAsync(settings, tokenizer, LoadModel, Line);
    Line();
}

if (Part("padding"))
{
    PaddingBench.Run(Line);
    Line();
}

if (Part("head"))
{
    HeadMemoryBench.Run(settings, peak, Line);
    Line();
}

if (Part("int8"))
{
    Int8Bench.Run(settings, tokenizer, Line);
    Line();
}

if (Part("gpu"))
{
    GpuBench.Run(settings, tokenizer, Line);
    Line();
}

if (Part("latency"))
{
    await LatencyBench.RunAsync(settings, tokenizer, Line);
    Line();
}

if (settings.Output is not null)
{
    File.WriteAllText(settings.Output, report.ToString());
    Console.Error.WriteLine($"Wrote {settings.Output}");
}

return 0;

void Line(string text = "")
{
    Console.WriteLine(text);
    report.AppendLine(text);
}

bool Part(string name) => settings.Parts.Contains(name);

// 2. Encoder (tokenize, batch, run, sparse post-processing) vs bare ORT Run on the same fused graph and threads.
void EncoderTable()
{
    Line("| model | seq | batch | encoder docs/s | bare ORT docs/s | encoder / bare | GFLOP/doc | achieved GFLOP/s | of measured peak |");
    Line("|---|---|---|---|---|---|---|---|---|");
    foreach (string name in settings.Models)
    {
        (SparseModelPreset preset, SparseModelDefinition model) = LoadModel(name);
        var options = new OnnxBackendOptions { IntraOpThreads = settings.Threads, GraphCacheDirectory = settings.GraphCache, PinThreads = settings.PinThreads };
        using var encoder = new SparseEncoder(model, OnnxSparseModelBackend.Create(model, options),
            new SparseEncoderOptions { MaxBatchSize = settings.Batches.Max(), MaxBatchTokens = settings.Batches.Max() * settings.Sequences.Max() });
        (byte[] graph, GraphSignature signature, _, _, string graphDirectory) = OnnxSparseModelBackend.PrepareGraph(model, options, NullLogger.Instance);
        using SessionOptions sessionOptions = OnnxSparseModelBackend.BaseOptions(options, graphDirectory);
        using var bare = new InferenceSession(graph, sessionOptions);

        foreach (int sequence in settings.Sequences.Where(s => s <= model.MaxLength))
        {
            foreach (int batch in settings.Batches)
            {
                string[] texts = Corpus.TextsOfExactTokens(tokenizer, batch, sequence, seed: (sequence * 100) + batch);
                double encoderRate = batch / Measure.MedianSeconds(() => encoder.EncodeDocuments(texts, SparsePruneRule.None), settings.MinSeconds);
                double bareRate = batch / BareOrt.MedianSeconds(bare, signature, tokenizer, texts, sequence, settings.MinSeconds);
                double gflops = preset.FlopsPerDocument(sequence) / 1e9;
                Line(string.Create(CultureInfo.InvariantCulture,
                    $"| {preset.ShortName} | {sequence} | {batch} | {encoderRate:F2} | {bareRate:F2} | {encoderRate / bareRate:F3} | {gflops:F2} | {encoderRate * gflops:F1} | {encoderRate * gflops / peak:P0} |"));
            }
        }
    }
}

// 3. The token budget: 32 documents of 256 tokens in one 8,192-token run versus two runs of 4,096 (the default), same head.
void BudgetTable()
{
    Line("| model | one run of 8,192 tokens (docs/s) | two runs of 4,096 tokens (docs/s) | one run / two runs |");
    Line("|---|---|---|---|");
    foreach (string name in settings.Models)
    {
        (SparseModelPreset preset, SparseModelDefinition model) = LoadModel(name);
        var options = new OnnxBackendOptions { IntraOpThreads = settings.Threads, GraphCacheDirectory = settings.GraphCache };
        using var oneRun = new SparseEncoder(model, OnnxSparseModelBackend.Create(model, options), new SparseEncoderOptions { MaxBatchSize = 32, MaxBatchTokens = 32 * 256 });
        using var twoRuns = new SparseEncoder(model, OnnxSparseModelBackend.Create(model, options), new SparseEncoderOptions { MaxBatchSize = 32, MaxBatchTokens = 16 * 256 });
        string[] texts = Corpus.TextsOfExactTokens(tokenizer, 32, 256, seed: (256 * 100) + 32);
        double one = 32 / Measure.MedianSeconds(() => oneRun.EncodeDocuments(texts), settings.MinSeconds);
        double two = 32 / Measure.MedianSeconds(() => twoRuns.EncodeDocuments(texts), settings.MinSeconds);
        Line(string.Create(CultureInfo.InvariantCulture, $"| {preset.ShortName} | {one:F2} | {two:F2} | {one / two:F2} |"));
    }
}

(SparseModelPreset Preset, SparseModelDefinition Model) LoadModel(string name) => BenchModels.Load(settings, name);

static string CpuName() => File.Exists("/proc/cpuinfo")
    ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown"
    : RuntimeInformation.ProcessArchitecture.ToString();
