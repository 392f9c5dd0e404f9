using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using NeuralSparse.Core.Models;
using NeuralSparse.Onnx;
using NeuralSparse.Onnx.Hub;

namespace NeuralSparse.Bench;

/// <summary>
/// Start-up cost of a Hugging Face folder: the first start builds the graph from the safetensors weights (hashing the
/// inputs, reading and transposing every tensor, writing the cache entry) and creates the ONNX Runtime session; a
/// later start only hashes the inputs to find the cache entry and creates the session.
/// </summary>
internal static class LoadTime
{
    public static void Run(BenchSettings settings, IEnumerable<(SparseModelPreset Preset, SparseModelDefinition Model)> models, Action<string> line)
    {
        line("| model | architecture (layers × hidden) | weights (MB) | first start: build graph (s) | ORT session (s) | first start total (s) | later start: find cached graph (s) | later start total (s) |");
        line("|---|---|---|---|---|---|---|---|");
        foreach ((SparseModelPreset preset, SparseModelDefinition model) in models)
        {
            if (model.Hub is not { } hub)
            {
                throw new InvalidOperationException($"{model.Directory} is not a Hugging Face folder; run the load part with --format hub.");
            }

            string cache = Path.Combine(Path.GetTempPath(), "neural-sparse-bench-cache-" + Guid.NewGuid().ToString("N"));
            try
            {
                var options = new OnnxBackendOptions { IntraOpThreads = settings.Threads, AllowSpinning = settings.Spinning, GraphCacheDirectory = cache };
                double build = Seconds(() => HubGraphCache.GetOrBuild(model, hub, options, NullLogger.Instance));
                double find = Seconds(() => HubGraphCache.GetOrBuild(model, hub, options, NullLogger.Instance));
                double later = Seconds(() => OnnxSparseModelBackend.Create(model, options).Dispose());
                double session = later - find;
                double megabytes = hub.WeightFiles.Sum(f => new FileInfo(f).Length) / 1e6;
                line(string.Create(CultureInfo.InvariantCulture,
                    $"| {preset.ShortName} | {hub.Config.Architecture} ({hub.Config.Layers} × {hub.Config.HiddenSize}) | {megabytes:F0} | {build:F2} | {session:F2} | {build + session:F2} | {find:F2} | {later:F2} |"));
            }
            finally
            {
                Directory.Delete(cache, recursive: true);
            }
        }
    }

    private static double Seconds(Action action)
    {
        var clock = Stopwatch.StartNew();
        action();
        return clock.Elapsed.TotalSeconds;
    }
}
