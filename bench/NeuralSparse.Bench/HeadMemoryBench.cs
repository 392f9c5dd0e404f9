using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using NeuralSparse.Core.Inference;
using NeuralSparse.Core.Models;
using NeuralSparse.Core.Tokenization;
using NeuralSparse.Onnx;
using NeuralSparse.Onnx.Graph;
using NeuralSparse.Onnx.Proto;

namespace NeuralSparse.Bench;

/// <summary>
/// Part <c>head</c>: peak memory and first-run cost of the masked-LM head per size, fused against chunked (in the
/// graph and on the host), with the body alone (no head) as the floor. Each (size, variant) runs in a fresh child
/// process, so one size's arena and page cache do not carry over to the next: peak RSS is the child's VmHWM, page
/// faults its minor faults (/proc/self/stat) during the first run and per steady run.
/// </summary>
internal static class HeadMemoryBench
{
    public const string ChildSwitch = "--child-head";

    private static readonly string[] Variants = ["fused", "graph-chunks", "host-chunks", "body-only"];

    public static void Run(BenchSettings settings, double gemmPeak, Action<string> line)
    {
        line($"Head variants, one child process per row ({settings.Threads} threads; head chunks of {settings.ChunkTokens} tokens):");
        line(string.Empty);
        line("| model | batch × seq (tokens) | head | peak RSS MiB | first run s | steady run s | first / steady | minor faults, first run | minor faults per steady run | docs/s | of GEMM probe |");
        line("|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (string name in settings.Models)
        {
            (SparseModelPreset preset, _) = BenchModels.Load(settings, name); // generate once, outside the children
            foreach (int sequence in settings.HeadSequences)
            {
                int batch = settings.HeadBatch;
                foreach (string variant in Variants)
                {
                    ChildResult? r = RunChild(settings, name, variant, batch, sequence);
                    if (r is null)
                    {
                        line($"| {preset.ShortName} | {batch} × {sequence} | {variant} | failed (see stderr) | | | | | | | |");
                        continue;
                    }

                    double docsPerSecond = batch / r.SteadySeconds;
                    string ofPeak = variant == "body-only" ? "–" : string.Create(CultureInfo.InvariantCulture, $"{docsPerSecond * preset.FlopsPerDocument(sequence) / 1e9 / gemmPeak:P0}");
                    line(string.Create(CultureInfo.InvariantCulture,
                        $"| {preset.ShortName} | {batch} × {sequence} ({batch * sequence}) | {variant} | {r.PeakRssMiB:F0} | {r.FirstSeconds:F2} | {r.SteadySeconds:F2} | {r.FirstSeconds / r.SteadySeconds:F2} | {r.FirstFaults:N0} | {r.SteadyFaults:N0} | {docsPerSecond:F2} | {ofPeak} |"));
                }
            }
        }

        line(string.Empty);
        line("\"of GEMM probe\": the model's FLOPs (sparse-models.md §7) per second against the best GEMM rate measured above, same threads.");
    }

    /// <summary>The child: one variant at one size; prints one JSON line.</summary>
    public static int RunChild(BenchSettings settings, string modelName, string variant, int batchSize, int sequence, int steadyRuns)
    {
        (_, SparseModelDefinition model) = BenchModels.Load(settings, modelName);
        WordPieceTokenizer tokenizer = model.Tokenizer;
        ModelBatch batch = ExactBatch(tokenizer, batchSize, sequence);
        var options = new OnnxBackendOptions { IntraOpThreads = settings.Threads, HeadChunkTokens = settings.ChunkTokens };
        Action run;
        IDisposable owner;
        if (variant == "body-only")
        {
            (ModelProto graph, GraphSignature signature) = OnnxSparseModelBackend.LoadGraph(model, NullLogger.Instance);
            MaskedLmHead head = MaskedLmHead.Find(graph, signature, out string reason) ?? throw new InvalidOperationException(reason);
            (ModelProto body, _) = HeadSplitter.Split(graph, head);
            using SessionOptions sessionOptions = OnnxSparseModelBackend.BaseOptions(options);
            var session = new InferenceSession(body.ToByteArray(), sessionOptions);
            owner = session;
            string[] inputs = [.. signature.InputNames];
            long[] tokenTypes = new long[batch.ElementCount];
            run = () =>
            {
                List<OrtValue> values = OnnxSparseModelBackend.CreateInputs(batch, inputs, signature.TakesTokenTypeIds ? tokenTypes : null);
                using var runOptions = new RunOptions();
                using IDisposableReadOnlyCollection<OrtValue> result = session.Run(runOptions, inputs, values, [head.Hidden]);
                values.ForEach(v => v.Dispose());
            };
        }
        else
        {
            HeadEvaluation head = variant switch { "fused" => HeadEvaluation.Fused, "host-chunks" => HeadEvaluation.HostChunks, _ => HeadEvaluation.GraphChunks };
            ISparseModelBackend backend = SparseModelBackends.Create(model, options with { Head = head });
            owner = backend;
            float[] output = new float[batchSize * tokenizer.VocabularySize];
            run = () => backend.Run(batch, output, CancellationToken.None);
        }

        using (owner)
        {
            long faults = ProcessCounters.MinorFaults();
            long start = Stopwatch.GetTimestamp();
            run();
            double first = Stopwatch.GetElapsedTime(start).TotalSeconds;
            long firstFaults = ProcessCounters.MinorFaults() - faults;

            var times = new List<double>();
            faults = ProcessCounters.MinorFaults();
            for (int i = 0; i < steadyRuns; i++)
            {
                start = Stopwatch.GetTimestamp();
                run();
                times.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
            }

            long steadyFaults = (ProcessCounters.MinorFaults() - faults) / steadyRuns;
            times.Sort();
            Console.WriteLine(JsonSerializer.Serialize(new ChildResult(first, firstFaults, times[times.Count / 2], steadyFaults, ProcessCounters.PeakResidentMegabytes())));
        }

        return 0;
    }

    /// <summary>[batch × sequence] ids of whole-word texts, no padding.</summary>
    private static ModelBatch ExactBatch(WordPieceTokenizer tokenizer, int rows, int sequence)
    {
        string[] texts = Corpus.TextsOfExactTokens(tokenizer, rows, sequence, seed: (sequence * 100) + rows);
        long[] ids = new long[rows * sequence];
        for (int r = 0; r < rows; r++)
        {
            int[] encoded = tokenizer.Encode(texts[r], sequence);
            for (int s = 0; s < sequence; s++)
            {
                ids[(r * sequence) + s] = encoded[s];
            }
        }

        return new ModelBatch(ids, [.. Enumerable.Repeat(1L, rows * sequence)], rows, sequence);
    }

    private static ChildResult? RunChild(BenchSettings settings, string model, string variant, int batch, int sequence)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
        {
            start.ArgumentList.Add(typeof(HeadMemoryBench).Assembly.Location);
        }

        foreach (string arg in (string[])[ChildSwitch, model, variant, batch.ToString(CultureInfo.InvariantCulture), sequence.ToString(CultureInfo.InvariantCulture),
            "--threads", settings.Threads.ToString(CultureInfo.InvariantCulture), "--chunk-tokens", settings.ChunkTokens.ToString(CultureInfo.InvariantCulture),
            "--bert-data", settings.BertData, "--model-cache", settings.ModelCache, "--steady-runs", settings.SteadyRuns.ToString(CultureInfo.InvariantCulture)])
        {
            start.ArgumentList.Add(arg);
        }

        using Process child = Process.Start(start)!;
        string output = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        string? json = output.Split('\n').LastOrDefault(l => l.StartsWith('{'));
        return child.ExitCode == 0 && json is not null ? JsonSerializer.Deserialize<ChildResult>(json) : null;
    }

    private sealed record ChildResult(double FirstSeconds, long FirstFaults, double SteadySeconds, long SteadyFaults, double PeakRssMiB);
}
