using System.Globalization;

namespace NeuralSparse.Bench;

internal sealed record BenchSettings(
    string BertData, string ModelCache, string[] Models, int[] Sequences, int[] Batches, int Threads, double MinSeconds, string? Output, string[] Parts, bool Spinning)
{
    /// <summary>Generated models as Hugging Face folders (<c>hub</c>, the default: the sidecar builds their graphs) or model.onnx directories (<c>onnx</c>).</summary>
    public string Format { get; init; } = "hub";

    /// <summary>Part head: sequence lengths at <see cref="HeadBatch"/> rows (32 × 128, 256, 512 = 4k, 8k, 16k tokens).</summary>
    public int[] HeadSequences { get; init; } = [128, 256, 512];

    /// <summary>Part head: rows per run.</summary>
    public int HeadBatch { get; init; } = 32;

    /// <summary>Tokens per head chunk for the chunked variants.</summary>
    public int ChunkTokens { get; init; } = 512;

    /// <summary>Part head: timed runs after the first, per child.</summary>
    public int SteadyRuns { get; init; } = 3;

    /// <summary>Part latency: the bi-encoder whose queries are sent.</summary>
    public string QueryModel { get; init; } = "v2-distill";

    /// <summary>Part latency: steady requests per protocol.</summary>
    public int Requests { get; init; } = 200;

    /// <summary>Part latency: which service variants to start (keys of <c>LatencyBench</c>'s variants); all by default.</summary>
    public string[]? LatencyVariants { get; init; }

    /// <summary>Part latency: ONNX Runtime's threads go on spinning after each run (its default), in process and in the service.</summary>
    public bool SpinBetweenRuns { get; init; } = true;

    /// <summary>Whether the encoder part's encoder and the latency part's in-process encoder and sidecars pin their threads to cores (the default).</summary>
    public bool PinThreads { get; init; } = true;

    /// <summary>Latency part: when above 0, also times the in-process encoder idle this long before each query.</summary>
    public double PacedGapMilliseconds { get; init; }

    /// <summary>Latency part: also times /tokenize of the same queries over HTTP and gRPC (the request path without the model).</summary>
    public bool TransportFloor { get; init; }

    /// <summary>
    /// Latency part: after each cycle of in-process, HTTP and gRPC blocks, also times a cycle with the in-process block
    /// replaced by an idle pause as long as it took: the service without the baseline's runs just before it.
    /// </summary>
    public bool ServiceAlone { get; init; }

    /// <summary>Part int8: documents and queries of the fidelity corpus, and extra model directories.</summary>
    public int FidelityDocuments { get; init; } = 100;

    public int FidelityQueries { get; init; } = 20;

    public string[] Int8Directories { get; init; } = [];

    /// <summary>Part tokenizer: another build's NeuralSparse.Core.dll, timed beside this one (--tokenizer-baseline).</summary>
    public string? TokenizerBaseline { get; init; }

    /// <summary>Part gpu: the CUDA device ordinal.</summary>
    public int CudaDevice { get; init; }

    /// <summary>Part gpu: the card's measured dense matrix rates in TFLOP/s, fp16 then fp32 (0 where unknown).</summary>
    public double[] GpuPeakTflops { get; init; } = [0, 0];

    /// <summary>Part gpu: weight precisions (fp32, fp16) and heads (graph-chunks, fused) to run.</summary>
    public string[] GpuPrecisions { get; init; } = ["fp32", "fp16"];

    public string[] GpuHeads { get; init; } = ["graph-chunks"];

    /// <summary>Part gpu: fail a model that cannot run on CUDA (true, default) or let it fall back to CPU (a dry run of the part here).</summary>
    public bool GpuRequired { get; init; } = true;

    /// <summary>Part gpu: a CSV of measured windows (label, start, end in Unix seconds) to join with nvidia-smi samples.</summary>
    public string? WindowsFile { get; init; }

    public static BenchSettings Parse(string[] args)
    {
        // Only the defaults need the repository: a published bench on a machine without it names every path.
        static string Root() => NeuralSparse.Sidecar.IntegrationTests.SidecarProcess.RepositoryRoot;
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            values[args[i].TrimStart('-')] = args[i + 1];
        }

        static int[] Ints(string text) => [.. text.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture))];

        return new BenchSettings(
            values.GetValueOrDefault("bert-data") ?? Path.GetFullPath(Path.Combine(Root(), "..", "shared", "data", "bert-base-uncased")),
            values.GetValueOrDefault("model-cache") ?? Path.Combine(Root(), "artifacts", "bench-models"),
            (values.GetValueOrDefault("models") ?? "doc-v2-mini,v2-distill,v1").Split(','),
            Ints(values.GetValueOrDefault("seq") ?? "128,256"),
            Ints(values.GetValueOrDefault("batch") ?? "1,8,32"),
            int.Parse(values.GetValueOrDefault("threads") ?? Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture),
            double.Parse(values.GetValueOrDefault("min-seconds") ?? "3", CultureInfo.InvariantCulture),
            values.GetValueOrDefault("out"),
            (values.GetValueOrDefault("parts") ?? "peak,tokenizer,load,encoder,budget,service").Split(','),
            bool.Parse(values.GetValueOrDefault("spinning") ?? "true"))
        {
            HeadSequences = values.TryGetValue("head-seq", out string? headSeq) ? Ints(headSeq) : [128, 256, 512],
            HeadBatch = values.TryGetValue("head-batch", out string? headBatch) ? Ints(headBatch)[0] : 32,
            ChunkTokens = values.TryGetValue("chunk-tokens", out string? chunk) ? Ints(chunk)[0] : 512,
            SteadyRuns = values.TryGetValue("steady-runs", out string? steady) ? Ints(steady)[0] : 3,
            QueryModel = values.GetValueOrDefault("query-model") ?? "v2-distill",
            Requests = values.TryGetValue("requests", out string? requests) ? Ints(requests)[0] : 200,
            SpinBetweenRuns = bool.Parse(values.GetValueOrDefault("spin-between-runs") ?? "true"),
            PinThreads = bool.Parse(values.GetValueOrDefault("pin-threads") ?? "true"),
            PacedGapMilliseconds = double.Parse(values.GetValueOrDefault("paced-gap-ms") ?? "0", CultureInfo.InvariantCulture),
            TransportFloor = bool.Parse(values.GetValueOrDefault("transport-floor") ?? "false"),
            ServiceAlone = bool.Parse(values.GetValueOrDefault("service-alone") ?? "false"),
            LatencyVariants = values.TryGetValue("latency-variants", out string? variants) ? variants.Split(',') : null,
            FidelityDocuments = values.TryGetValue("fidelity-docs", out string? docs) ? Ints(docs)[0] : 100,
            FidelityQueries = values.TryGetValue("fidelity-queries", out string? queries) ? Ints(queries)[0] : 20,
            Int8Directories = values.TryGetValue("int8-dirs", out string? dirs) ? dirs.Split(',', StringSplitOptions.RemoveEmptyEntries) : [],
            Format = values.GetValueOrDefault("format") ?? "hub",
            TokenizerBaseline = values.GetValueOrDefault("tokenizer-baseline"),
            CudaDevice = values.TryGetValue("cuda-device", out string? cudaDevice) ? Ints(cudaDevice)[0] : 0,
            GpuPeakTflops = values.TryGetValue("gpu-peak-tflops", out string? peaks)
                ? [.. peaks.Split(',').Select(p => double.Parse(p, CultureInfo.InvariantCulture))]
                : [0, 0],
            GpuPrecisions = (values.GetValueOrDefault("gpu-precisions") ?? "fp32,fp16").Split(','),
            GpuHeads = (values.GetValueOrDefault("gpu-heads") ?? "graph-chunks").Split(','),
            WindowsFile = values.GetValueOrDefault("windows"),
            GpuRequired = bool.Parse(values.GetValueOrDefault("gpu-required") ?? "true"),
        };
    }

    /// <summary>The graph cache for generated Hugging Face folders: beside them, not in the user's cache.</summary>
    public string GraphCache => Path.Combine(ModelCache, "graphs");
}
